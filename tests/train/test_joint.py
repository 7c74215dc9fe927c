"""Joint fine-tuning (Eq. 2) and the compression-only control, on a tiny codec."""

import dataclasses
import math

import pytest
import torch

from nodecode.codec import save_codec
from nodecode.codec.zoo import load_codec
from nodecode.data import fashion_scenes
from nodecode.data.fashion_scenes import ScenesConfig
from nodecode.errors import CodecMismatchError, ConfigError
from nodecode.models import create
from nodecode.models.checkpoint import TaskModelInfo, load_task_model, write_task_model
from nodecode.train.joint import JointTrainConfig, train_joint
from nodecode.utils.digest import state_digest
from tests.conftest import make_tiny_codec


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("NODECODE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(
        fashion_scenes.PRESETS, "unit", ScenesConfig(image_size=32, train_size=32, test_size=8)
    )
    codec = make_tiny_codec()
    save_codec(codec, tmp_path / "codec.safetensors")
    classifier = create("cresnet39", num_classes=10, in_channels=4, width=0.125)
    meta = {
        "model": "cresnet39",
        "task": "classification",
        "input": "latent",
        "num_classes": 10,
        "in_channels": 4,
        "width": 0.125,
        "classes": [],
        "codec": codec.name,
        "codec_id": codec.identity().hex(),
    }
    write_task_model(tmp_path / "cls.safetensors", classifier, TaskModelInfo(**meta))
    return tmp_path, codec


def _joint(folder) -> JointTrainConfig:
    """Two epochs of joint training of the tiny codec and its classifier."""
    return JointTrainConfig(
        codec=str(folder / "codec.safetensors"),
        classifier=str(folder / "cls.safetensors"),
        data="fashion-scenes:unit",
        epochs=2,
        batch_size=8,
    )


def test_joint_fine_tuning_updates_both_and_retags_the_classifier(setup):
    folder, codec = setup
    config = _joint(folder)
    result = train_joint(config, folder / "joint")
    assert result["steps"] == 2 * 32 // 8
    tuned = load_codec(result["codec"])
    assert tuned.ready and tuned.identity() != codec.identity()
    assert state_digest(tuned.g_a).digest() != state_digest(codec.g_a).digest()
    _, meta = load_task_model(result["classifier"])
    assert meta.codec_id == tuned.identity().hex()
    log = (folder / "joint" / "log.csv").read_text().splitlines()
    assert log[0] == "epoch,step,loss,mse,entropy_bits,ce,seconds" and len(log) == 3
    again = train_joint(config, folder / "joint", resume=True)  # finished: nothing left to do
    assert load_codec(again["codec"]).identity() == tuned.identity()


def test_joint_resume_after_a_kill_between_epochs_matches_an_uninterrupted_run(setup, kill_after):
    from nodecode.train import joint

    folder, _ = setup
    config = _joint(folder)
    straight = train_joint(config, folder / "a")
    kill_after(joint, "save_train_state")  # the run dies right after epoch 1 is on disk
    with pytest.raises(KeyboardInterrupt):
        train_joint(config, folder / "b")
    resumed = train_joint(config, folder / "b", resume=True)
    # Bit-exact only if weights, momentum, schedule, data order and RNG all resume.
    assert load_codec(resumed["codec"]).identity() == load_codec(straight["codec"]).identity()
    a, _ = load_task_model(straight["classifier"])
    b, _ = load_task_model(resumed["classifier"])
    assert state_digest(a).digest() == state_digest(b).digest()


def test_compression_only_control_needs_no_classifier(setup):
    folder, _ = setup
    config = JointTrainConfig(
        codec=str(folder / "codec.safetensors"),
        mode="compression",
        data="fashion-scenes:unit",
        epochs=1,
        batch_size=8,
    )
    result = train_joint(config, folder / "comp")
    assert "classifier" not in result and load_codec(result["codec"]).ready


def test_joint_refuses_a_classifier_of_another_codec(setup):
    folder, _ = setup
    save_codec(make_tiny_codec(seed=1), folder / "other.safetensors")
    config = JointTrainConfig(
        codec=str(folder / "other.safetensors"),
        classifier=str(folder / "cls.safetensors"),
        data="fashion-scenes:unit",
    )
    with pytest.raises(CodecMismatchError, match="trained on latents of codec"):
        train_joint(config, folder / "bad")
    with pytest.raises(ConfigError, match="needs --classifier"):
        train_joint(JointTrainConfig(codec="small-0.330"), folder / "bad2")


def test_joint_fine_tuning_runs_under_bf16_autocast(setup):
    """small-joint's setting: the forward passes in bf16, the weights and losses in fp32."""
    folder, codec = setup
    config = dataclasses.replace(_joint(folder), epochs=1, precision="bf16")
    result = train_joint(config, folder / "bf16")
    tuned = load_codec(result["codec"])
    assert tuned.ready and tuned.identity() != codec.identity()
    assert all(p.dtype == torch.float32 for p in tuned.parameters())
    loss = (folder / "bf16" / "log.csv").read_text().splitlines()[1].split(",")[2]
    assert math.isfinite(float(loss))
    # The autocast took effect: the same run in fp32 ends elsewhere.
    fp32 = train_joint(dataclasses.replace(config, precision="fp32"), folder / "fp32")
    assert load_codec(fp32["codec"]).identity() != tuned.identity()
    with pytest.raises(ConfigError, match="precision 'fp16'"):
        train_joint(dataclasses.replace(config, precision="fp16"), folder / "fp16")
