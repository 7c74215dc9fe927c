"""Training a CompressAI model here: its loss and aux loss, exact resume, and weights that
load as a `compressai:ARCH:QUALITY:FILE` codec and write `.ndc` files."""

import csv

import pytest
import torch

from nodecode.cli.main import main
from nodecode.codec import load_codec
from nodecode.codec.files import compress_image, read_latents
from nodecode.errors import CheckpointError, ConfigError
from nodecode.train.compressai_codec import CompressAITrainConfig, train_compressai


def config(**overrides) -> CompressAITrainConfig:
    values = dict(arch="bmshj2018-factorized", quality=1, data="skimage:train", crop=64)
    values |= dict(batch_size=4, lr=1e-3, max_steps=6, checkpoint_every=3, log_every=1)
    return CompressAITrainConfig(**(values | overrides))


def test_a_short_run_lowers_the_loss_and_writes_a_loadable_codec(tmp_path):
    model = train_compressai(config(max_steps=30, lr=5e-4), tmp_path / "fp.safetensors")
    rows = list(csv.DictReader((tmp_path / "fp.log.csv").open()))
    last = sum(float(r["loss"]) for r in rows[-10:]) / 10
    assert len(rows) == 30 and last < 0.6 * float(rows[0]["loss"])
    codec = load_codec(f"compressai:bmshj2018-factorized:1:{tmp_path / 'fp.safetensors'}")
    assert torch.equal(codec.model.g_a[0].weight, model.g_a[0].weight)
    compress_image(codec, torch.rand(3, 40, 50), tmp_path / "x.ndc")
    assert read_latents(codec, tmp_path / "x.ndc")[1]["y_hat"].shape[1] == codec.latent_channels
    with pytest.raises(CheckpointError, match="not bmshj2018-hyperprior"):
        load_codec(f"compressai:bmshj2018-hyperprior:1:{tmp_path / 'fp.safetensors'}")


def test_bf16_runs_the_transforms_in_bf16_and_the_entropy_models_in_fp32(tmp_path):
    from compressai.zoo import bmshj2018_hyperprior

    from nodecode.train.compressai_codec import transforms_in

    model = bmshj2018_hyperprior(quality=1, pretrained=False)
    seen = {}

    def record(name, dtypes):
        def hook(module, args, out):  # returns None: the output stays as it is
            seen[name] = dtypes(args, out)

        return hook

    model.g_a[0].register_forward_hook(record("g_a conv", lambda a, o: o.dtype))
    bottleneck = record("bottleneck", lambda a, o: (a[0].dtype, o[1].dtype))
    model.entropy_bottleneck.register_forward_hook(bottleneck)
    conditional = record("conditional", lambda a, o: (a[0].dtype, a[1].dtype))
    model.gaussian_conditional.register_forward_hook(conditional)
    with transforms_in(model, torch.device("cpu"), "bf16"):
        out = model(torch.rand(1, 3, 64, 64))
    assert seen["g_a conv"] == torch.bfloat16
    assert seen["bottleneck"] == seen["conditional"] == (torch.float32, torch.float32)
    assert out["x_hat"].dtype == torch.float32
    assert not any("forward" in vars(m) for m in model.modules())  # back as it was
    bf16 = train_compressai(config(max_steps=2, precision="bf16"), tmp_path / "bf.safetensors")
    assert not any("forward" in vars(m) for m in bf16.modules())
    with pytest.raises(ConfigError, match="precision 'fp16'"):
        train_compressai(config(precision="fp16"), tmp_path / "x.safetensors")


def test_resume_reaches_the_weights_of_an_uninterrupted_run(tmp_path):
    whole = train_compressai(config(), tmp_path / "whole.safetensors")
    train_compressai(config(max_steps=3), tmp_path / "part.safetensors")
    resumed = train_compressai(config(), tmp_path / "part.safetensors", resume=True)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    with pytest.raises(CheckpointError, match="different configuration"):
        train_compressai(config(lr=5e-3), tmp_path / "part.safetensors", resume=True)


def test_cli_trains_a_hyperprior_and_checks_its_options(tmp_path, capsys):
    out = tmp_path / "hp.safetensors"
    argv = ["train-codec", "--arch", "bmshj2018-hyperprior", "--quality", "1", "--data"]
    argv += ["skimage:train", "--crop", "64", "--batch-size", "2", "--max-steps", "2"]
    assert main([*argv, "-o", str(out)]) == 0
    assert f"compressai:bmshj2018-hyperprior:1:{out}" in capsys.readouterr().out
    assert main([*argv, "-o", str(tmp_path / "hp.pth")]) == 1
    assert "written as .safetensors" in capsys.readouterr().err
    assert main(["train-codec", "--arch", "nope", "-o", str(out)]) == 1
    assert "--arch 'nope'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="qualities are 1"):
        config(quality=9).validate()
