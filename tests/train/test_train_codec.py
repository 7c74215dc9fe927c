import pytest
import torch

from nodecode.codec import load_codec_checkpoint, rate_distortion_loss
from nodecode.data.crops import RandomCrops, training_images
from nodecode.train.codec import CodecTrainConfig, train_codec
from nodecode.train.state import load_train_state

TINY_RUN = dict(
    op="0.330",
    width=0.25,
    crop=32,
    batch_size=8,
    lr=3e-3,
    table_batches=2,
    checkpoint_every=2,
    log_every=2,
    name="run",
)


def fixed_batch() -> torch.Tensor:
    torch.manual_seed(123)
    dataset = RandomCrops(training_images("skimage:train"), 32, length=16)
    return torch.stack([dataset[i] for i in range(16)])


def test_short_training_lowers_the_loss(tmp_path):
    x = fixed_batch()
    losses = []
    for steps in (0, 60):
        config = CodecTrainConfig(**(TINY_RUN | {"checkpoint_every": 1000}), max_steps=steps)
        codec = train_codec(config, tmp_path / f"codec{steps}.safetensors")
        codec.train()
        with torch.no_grad():
            losses.append(rate_distortion_loss(x, codec(x), codec.config)[0].item())
    assert losses[1] < 0.6 * losses[0]
    trained = load_codec_checkpoint(tmp_path / "codec60.safetensors")
    assert trained.ready and trained.name == "run"
    log = (tmp_path / "codec60.log.csv").read_text().splitlines()
    assert log[0].startswith("step,loss,mse,entropy_bits,bpp_estimate")


def test_resume_continues_from_the_same_step_with_the_same_state(tmp_path):
    straight = train_codec(CodecTrainConfig(**TINY_RUN, max_steps=4), tmp_path / "a.safetensors")
    train_codec(CodecTrainConfig(**TINY_RUN, max_steps=2), tmp_path / "b.safetensors")
    resumed = train_codec(
        CodecTrainConfig(**TINY_RUN, max_steps=4), tmp_path / "b.safetensors", resume=True
    )
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    model = type(straight)(straight.config)
    optimizer = torch.optim.Adam(model.parameters())
    step, _ = load_train_state(tmp_path / "b.state.safetensors", model, optimizer)
    assert step == 4


def test_resume_refuses_a_different_configuration(tmp_path):
    import pytest

    from nodecode.errors import CheckpointError

    train_codec(CodecTrainConfig(**TINY_RUN, max_steps=2), tmp_path / "c.safetensors")
    changed = CodecTrainConfig(**(TINY_RUN | {"lr": 1e-4}), max_steps=4)
    with pytest.raises(CheckpointError, match="different configuration"):
        train_codec(changed, tmp_path / "c.safetensors", resume=True)


def test_checkpoint_header_records_how_the_codec_was_trained(tmp_path):
    import json

    from nodecode.codec.checkpoint import KIND
    from nodecode.utils.checkpoint import read_meta

    config = CodecTrainConfig(**TINY_RUN, max_steps=3, precision="bf16")
    train_codec(config, tmp_path / "h.safetensors")
    training = json.loads(read_meta(tmp_path / "h.safetensors", KIND)["training"])
    assert training["steps"] == 3 and training["data"] == "skimage:train"
    assert training["batch_size"] == 8 and training["crop"] == 32
    assert training["precision"] == "bf16" and training["device"].startswith("cpu")
    assert training["wall_clock_s"] > 0


def test_bf16_training_lowers_the_loss_and_encoding_stays_fp32(tmp_path):
    x = fixed_batch()
    losses = []
    for steps in (0, 60):
        run = TINY_RUN | {"checkpoint_every": 1000, "precision": "bf16"}
        codec = train_codec(CodecTrainConfig(**run, max_steps=steps), tmp_path / f"b{steps}.st")
        with torch.no_grad():
            losses.append(rate_distortion_loss(x, codec(x), codec.config)[0].item())
    assert losses[1] < 0.6 * losses[0]
    assert codec.encode(x).dtype == torch.int64 and next(codec.parameters()).dtype == torch.float32


def test_lr_decays_tenfold_for_the_final_fraction():
    config = CodecTrainConfig(lr=1e-3, max_steps=100, lr_decay_fraction=0.2)
    assert config.lr_at(79) == 1e-3 and config.lr_at(80) == pytest.approx(1e-4)
    assert CodecTrainConfig(lr=1e-3, max_steps=100).lr_at(99) == 1e-3


def test_calibration_moves_the_file_rate_toward_the_nominal_bpp(tmp_path):
    from nodecode.data.images import load_images, save_image
    from nodecode.train.calibrate import CalibrationConfig, calibrate_rate, measured_bpp

    images = {k: v[:, :96, :96] for k, v in load_images("skimage:test").items()}
    for name, image in images.items():
        save_image(image, tmp_path / "photos" / f"{name}.png")
    run = TINY_RUN | {"checkpoint_every": 1000, "data": str(tmp_path / "photos"), "lr": 5e-3}
    run["op"] = "0.0983"  # β = 600: the hinge, not distortion, sets this codec's rate
    train_codec(CodecTrainConfig(**run, max_steps=40), tmp_path / "raw.safetensors")
    before = measured_bpp(load_codec_checkpoint(tmp_path / "raw.safetensors"), images)
    history = calibrate_rate(
        tmp_path / "raw.safetensors",
        CodecTrainConfig(**run, max_steps=0),
        images,
        tmp_path / "cal.safetensors",
        CalibrationConfig(tolerance=0.02, rounds=1, steps=60, lr=5e-3),
    )
    after = measured_bpp(load_codec_checkpoint(tmp_path / "cal.safetensors"), images)
    assert before > 1.1 * 0.0983  # this toy codec starts above its rate…
    assert history[0]["bpp"] == pytest.approx(before) and len(history) == 2
    assert history[1]["target_entropy"] < history[0]["target_entropy"]  # …so Ht drops
    assert after == pytest.approx(history[1]["bpp"]) and after < 0.9 * before
