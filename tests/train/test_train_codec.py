import json

import pytest
import torch

from nodecode.codec import load_codec_checkpoint, rate_distortion_loss
from nodecode.data.crops import RandomCrops, training_images
from nodecode.train.codec import CodecTrainConfig, train_codec
from nodecode.train.state import load_train_state
from nodecode.utils.checkpoint import read_meta

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
    step, _ = load_train_state(tmp_path / "b.state.pt", model, optimizer)
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


def test_lr_decays_tenfold_for_the_final_fraction(lr_factors):
    config = CodecTrainConfig(lr=1e-3, max_steps=100, lr_decay_fraction=0.2)
    assert lr_factors(config.schedule, 100) == pytest.approx([1.0] * 80 + [0.1] * 20)
    assert lr_factors(CodecTrainConfig(max_steps=100).schedule, 100) == [1.0] * 100


def test_calibration_rescales_ht_until_the_file_rate_is_within_tolerance(tmp_path, monkeypatch):
    """The control loop alone: a stand-in trainer whose file rate is 0.9 × Ht × C/64."""
    import dataclasses
    import shutil

    from nodecode.codec import save_codec
    from nodecode.train import calibrate

    run = TINY_RUN | {"checkpoint_every": 1000, "op": "0.0983"}
    train_codec(CodecTrainConfig(**run, max_steps=2), tmp_path / "raw.safetensors")
    targets = []

    def fake_train(config, out, device="cpu", init=None):
        targets.append(config.target_entropy)
        codec = load_codec_checkpoint(init)
        codec.config = dataclasses.replace(codec.config, target_entropy=config.target_entropy)
        save_codec(codec, out)

    def fake_bpp(codec, images, folds=0):
        return 0.9 * codec.config.target_entropy * codec.config.latent_channels / 64

    monkeypatch.setattr(calibrate, "train_codec", fake_train)
    monkeypatch.setattr(calibrate, "measured_bpp", fake_bpp)
    history = calibrate.calibrate_rate(
        tmp_path / "raw.safetensors",
        CodecTrainConfig(**run, max_steps=0),
        {},
        tmp_path / "cal.safetensors",
        calibrate.CalibrationConfig(tolerance=0.01, rounds=4),
    )
    assert [h["bpp"] for h in history] == pytest.approx([0.09, 0.0983], rel=1e-6)
    assert targets == pytest.approx([0.8 * 0.0983 / 0.09])
    assert load_codec_checkpoint(tmp_path / "cal.safetensors").config.target_entropy == (
        pytest.approx(targets[0])
    )
    # Calibrating a calibrated codec again keeps the first record beside the new one.
    calibrate.calibrate_rate(
        tmp_path / "cal.safetensors",
        CodecTrainConfig(**run, max_steps=0),
        {},
        tmp_path / "cal2.safetensors",
    )
    training = json.loads(read_meta(tmp_path / "cal2.safetensors", "codec")["training"])
    assert [len(c["calibration"]) for c in training["earlier_calibrations"]] == [2]
    assert len(training["calibration"]) == 1 and training["calibration_kept_round"] == 0
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_calibration_steps_along_the_secant_when_the_rate_has_an_offset():
    from nodecode.train.calibrate import MAX_STEP, closest_round, next_target_entropy

    def rate(ht):  # an affine file rate: a proportional step alone would overshoot
        return 0.5 * ht - 0.1

    history = [{"target_entropy": ht, "bpp": rate(ht)} for ht in (1.0, 1.2)]
    assert rate(next_target_entropy(history, 0.5)) == pytest.approx(0.5)
    # A flat or falling secant (noise) falls back to the proportional step, clamped.
    flat = [{"target_entropy": 1.0, "bpp": 0.4}, {"target_entropy": 1.2, "bpp": 0.4}]
    assert next_target_entropy(flat, 0.5) == pytest.approx(1.2 * 0.5 / 0.4)
    assert next_target_entropy(flat[:1], 10.0) == pytest.approx(MAX_STEP)
    overshoots = [{"bpp": 0.57}, {"bpp": 0.61}, {"bpp": 0.69}]
    assert closest_round(overshoots, 0.635) == 1


def test_a_lower_target_entropy_trains_a_lower_hard_rate(tmp_path):
    from nodecode.codec.entropy import empirical_entropy_bits

    x = fixed_batch()
    rates = []
    for ht in (2.5, 0.3):
        run = TINY_RUN | {"checkpoint_every": 1000, "target_entropy": ht}
        codec = train_codec(CodecTrainConfig(**run, max_steps=300), tmp_path / f"{ht}.st")
        rates.append(empirical_entropy_bits(codec.encode(x), codec.num_centers).mean().item())
    assert rates[1] < 0.7 * rates[0]


def test_colour_cast_correction_removes_a_constant_offset():
    from nodecode.codec import ConvAutoencoder
    from nodecode.data.crops import RandomCrops, training_images
    from nodecode.train.codec import correct_color_cast
    from tests.conftest import TINY

    torch.manual_seed(0)
    codec = ConvAutoencoder(TINY).eval()
    codec.shift_output(torch.tensor([0.02, -0.01, 0.0]))  # a cast of +5 / −2.5 / 0 levels
    dataset = RandomCrops(training_images("skimage:train"), 32, length=16)

    def cast() -> torch.Tensor:
        torch.manual_seed(1)
        x = torch.stack([dataset[i] for i in range(16)])
        with torch.no_grad():
            return (codec(x).x_hat - x).mean(dim=(0, 2, 3)) * 255

    before = cast()
    torch.manual_seed(1)
    removed = correct_color_cast(codec, dataset, batches=4, batch_size=16)
    after = cast()
    assert removed.abs().max() > 1.0
    assert after.abs().max() < 0.5 * before.abs().max()


def test_a_time_limited_chunk_stops_cleanly_and_resumes_on_multiscale_crops(tmp_path):
    from PIL import Image

    for i in range(2):
        Image.effect_noise((96, 80), 40 + 20 * i).convert("RGB").save(tmp_path / f"p{i}.png")
    run = TINY_RUN | {"data": str(tmp_path), "min_scale": 0.5, "checkpoint_every": 1000}
    chunk = CodecTrainConfig(**run, max_steps=1000, time_limit=0.0)
    codec = train_codec(chunk, tmp_path / "t.safetensors")
    assert codec.ready  # a complete codec after the chunk, not only a train state
    model = type(codec)(codec.config)
    optimizer = torch.optim.Adam(model.parameters())
    step, _ = load_train_state(tmp_path / "t.state.pt", model, optimizer)
    assert step == 1
    straight = train_codec(CodecTrainConfig(**run, max_steps=3), tmp_path / "s.safetensors")
    resumed = train_codec(
        CodecTrainConfig(**run, max_steps=3), tmp_path / "t.safetensors", resume=True
    )
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_the_header_says_which_weights_a_continued_run_started_from(tmp_path):
    first = train_codec(CodecTrainConfig(**TINY_RUN, max_steps=2), tmp_path / "a.safetensors")
    assert first.ready
    run = CodecTrainConfig(**TINY_RUN, max_steps=2)
    train_codec(run, tmp_path / "b.safetensors", init=tmp_path / "a.safetensors")
    more = CodecTrainConfig(**TINY_RUN, max_steps=3)
    train_codec(more, tmp_path / "b.safetensors", resume=True)  # a later chunk
    training = json.loads(read_meta(tmp_path / "b.safetensors", "codec")["training"])
    assert training["init"] == str(tmp_path / "a.safetensors") and training["steps"] == 3


def test_cross_fitted_rates_code_each_image_under_tables_fitted_on_the_others(tmp_path):
    from nodecode.data.images import load_images
    from nodecode.errors import ConfigError
    from nodecode.train.calibrate import file_bpp, held_out_rates, measured_bpp
    from nodecode.train.codec import refit_tables

    run = TINY_RUN | {"checkpoint_every": 1000, "context_levels": 1}
    codec = train_codec(CodecTrainConfig(**run, max_steps=2), tmp_path / "c.safetensors")
    images = {n: x[:, :48, :64] for n, x in sorted(load_images("skimage:train").items())[:3]}
    rates = held_out_rates(codec, images, folds=3)
    assert sorted(rates) == sorted(images)
    for name, image in images.items():
        others = {n: x for n, x in images.items() if n != name}
        assert rates[name] == file_bpp(refit_tables(codec, others), image)
    in_sample = refit_tables(codec, images)
    assert measured_bpp(in_sample, images) < measured_bpp(in_sample, images, folds=3)
    for folds in (1, 4):
        with pytest.raises(ConfigError, match="--folds"):
            held_out_rates(codec, images, folds)
