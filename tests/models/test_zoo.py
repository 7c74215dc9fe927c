import json

import pytest
import torch

from nodecode.codec.zoo import codec_info, shipped_codecs, shipped_compressai
from nodecode.errors import CheckpointError, ConfigError
from nodecode.models import create
from nodecode.models.checkpoint import TaskModelInfo, load_task_model, write_task_model
from nodecode.models.zoo import load_task, shipped_task_models, task_model_info
from nodecode.utils.checkpoint import save_tensors


def test_every_shipped_task_model_describes_itself_from_its_header():
    from nodecode.codec.zoo import load_codec

    names = shipped_task_models()
    assert names  # the package ships the demo's models
    identities = {spec: load_codec(spec).identity().hex() for spec in shipped_codecs("paper")}
    for name in names:
        info = task_model_info(name)
        assert info.model == name.rsplit("-", 1)[0]
        # Trained on the shipped paper codec of its operating point, as it is today.
        assert info.codec == f"paper-{name.rsplit('-', 1)[1]}"
        assert info.codec_id == identities[info.codec]
        assert info.on_latents == name.startswith("cresnet")
        assert len(info.class_names) == info.num_classes
    network, loaded = load_task("cresnet51-0.330")
    assert loaded == task_model_info("cresnet51-0.330") and network.backbone.on_latents
    # Stored in half precision, computed in full.
    assert all(p.dtype == torch.float32 for p in network.parameters())


def test_half_precision_storage_keeps_the_header_and_the_network(tmp_path):
    from nodecode.utils.checkpoint import read_meta, save_half_precision

    torch.manual_seed(0)
    net = create("cresnet39", num_classes=3, in_channels=8, width=0.125).eval()
    info = TaskModelInfo("cresnet39", "classification", "latent", 3, 8, 0.125, codec="c")
    write_task_model(tmp_path / "full.safetensors", net, info)
    save_half_precision(tmp_path / "full.safetensors", tmp_path / "half.safetensors", "classifier")
    assert read_meta(tmp_path / "half.safetensors", "classifier")["storage"] == "float16"
    assert (tmp_path / "half.safetensors").stat().st_size < 0.6 * (
        tmp_path / "full.safetensors"
    ).stat().st_size
    half, loaded = load_task_model(tmp_path / "half.safetensors")
    assert loaded == task_model_info(tmp_path / "full.safetensors")
    x = torch.randn(2, 8, 4, 4)
    with torch.no_grad():
        assert torch.allclose(half(x), net(x), rtol=1e-2, atol=1e-2)


def test_task_model_info_round_trips_through_a_checkpoint(tmp_path):
    net = create("cresnet39", num_classes=3, in_channels=8, width=0.125, latent_stride=16)
    info = TaskModelInfo(
        model="cresnet39",
        task="classification",
        input="latent",
        num_classes=3,
        in_channels=8,
        width=0.125,
        classes=("a", "b", "c"),
        codec="c",
        codec_id="00" * 16,
        metrics={"top1": 50.0},
    )
    write_task_model(tmp_path / "m.safetensors", net, info)
    _, loaded = load_task_model(tmp_path / "m.safetensors")
    assert loaded == TaskModelInfo(**{**info.__dict__, "latent_stride": 16})
    assert task_model_info(str(tmp_path / "m.safetensors")) == loaded
    assert "branches" not in loaded.header() and loaded.header()["latent_stride"] == 16


@pytest.mark.parametrize(
    "field, value",
    [("metrics", [1, 2]), ("codec_id", 7), ("task", "detection"), ("input", None), ("data", 1)],
)
def test_a_header_with_a_field_of_the_wrong_type_is_a_clear_error(tmp_path, field, value):
    header = {"model": "cresnet39", "task": "classification", "input": "latent"}
    header |= {"num_classes": 3, "in_channels": 8, "width": 0.125, field: value}
    save_tensors(tmp_path / "bad.safetensors", {"x": torch.zeros(1)}, "classifier", header)
    with pytest.raises(CheckpointError, match=f"bad.safetensors: invalid {field}="):
        task_model_info(str(tmp_path / "bad.safetensors"))


def test_shipped_codecs_say_how_they_were_trained_and_unknown_names_are_errors():
    info = codec_info("paper-0.330")
    assert info.name == "paper-0.330" and info.config.nominal_bpp == 0.330
    assert info.training["steps"] > 0 and "data" in info.training
    assert set(shipped_codecs()) >= {"paper-0.0983", "paper-0.330", "paper-0.635"}
    with pytest.raises(ConfigError, match="unknown codec 'nope'"):
        codec_info("nope")
    with pytest.raises(ConfigError, match="unknown task model 'nope'"):
        task_model_info("nope")


def test_zoo_command_lists_everything_shipped(tmp_path, capsys):
    from nodecode.cli.main import main as cli

    assert cli(["zoo", "--json", str(tmp_path / "zoo.json")]) == 0
    listing = json.loads((tmp_path / "zoo.json").read_text())
    assert [c["name"] for c in listing["codecs"]] == shipped_codecs() + shipped_compressai()
    hyperprior = listing["codecs"][-1]
    assert hyperprior["data"] == "photos:train" and hyperprior["steps"] > 0
    assert [m["name"] for m in listing["task_models"]] == shipped_task_models()
    assert all(
        "top1" in m["metrics"] for m in listing["task_models"] if m["task"] == "classification"
    )
    out = capsys.readouterr().out
    assert "paper-0.635" in out and "cresnet51-d-0.330" in out


def test_the_weight_enums_list_exactly_the_shipped_files_and_load_them():
    from nodecode.codec.zoo import CodecWeights
    from nodecode.models.zoo import TaskModelWeights

    assert sorted(m.value.spec for m in CodecWeights) == sorted(shipped_codecs())
    assert sorted(m.value.spec for m in TaskModelWeights) == shipped_task_models()
    weights = TaskModelWeights.from_spec("cresnet51-0.330")
    assert weights is TaskModelWeights.CRESNET51_0_330
    network, info = weights.load()
    assert info == weights.info and network.backbone.on_latents
    codec = CodecWeights.from_spec(info.codec).load()
    assert codec.identity().hex() == info.codec_id  # the model names the codec it reads
    assert CodecWeights.PAPER_0_330.info.config.nominal_bpp == pytest.approx(0.330)
    with pytest.raises(ConfigError, match="no CodecWeights named 'paper-9'"):
        CodecWeights.from_spec("paper-9")
    with pytest.raises(ConfigError, match="no TaskModelWeights named"):
        TaskModelWeights.from_spec("resnet18")
