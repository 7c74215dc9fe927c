"""CompressAI's models as codecs: loading (local weights, offline cache), CompressAI's
contract, and latents ŷ / σ̂ read without ever running the synthesis transform g_s."""

import pytest
import torch

from nodecode.codec.compressai_models import load_compressai_codec, parse_spec
from nodecode.errors import CheckpointError, ConfigError

QUALITY = 1  # the smallest networks (N=128, M=192): fast on a CPU


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """State dicts of freshly initialised models, saved as a user's training would."""
    from compressai.zoo.image import _load_model

    folder = tmp_path_factory.mktemp("weights")
    paths = {}
    for arch in ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean"):
        torch.manual_seed(0)
        model = _load_model(arch, "mse", QUALITY)
        paths[arch] = folder / f"{arch}.pth"
        torch.save({"epoch": 3, "state_dict": model.state_dict()}, paths[arch])
    return paths


def count_calls(module: torch.nn.Module) -> list:
    calls = []
    module.register_forward_hook(lambda m, i, o: calls.append(1))
    return calls


@pytest.mark.parametrize("arch", ["bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean"])
def test_latent_gives_y_hat_and_sigma_without_g_s(weights, arch):
    codec = load_compressai_codec(f"compressai:{arch}:{QUALITY}:{weights[arch]}")
    assert codec.name == f"compressai:{arch}:{QUALITY}" and codec.stride == 16
    x = torch.rand(1, 3, 64, 128)  # CompressAI models take sizes divisible by 64
    out = codec.compress(x)
    assert len(out["strings"]) == (1 if arch == "bmshj2018-factorized" else 2)
    g_s_calls = count_calls(codec.model.g_s)
    latent = codec.latent(out["strings"], out["shape"])
    assert not g_s_calls  # understanding never decodes
    assert latent["y_hat"].shape == (1, codec.latent_channels, 4, 8)
    if arch == "bmshj2018-hyperprior":  # no means: ŷ is the rounded analysis output
        with torch.no_grad():
            assert torch.equal(latent["y_hat"], torch.round(codec.model.g_a(x)))
    assert ("sigma" in latent) == (arch != "bmshj2018-factorized")
    if "sigma" in latent:
        assert latent["sigma"].shape == latent["y_hat"].shape
    assert codec.decompress(out["strings"], out["shape"])["x_hat"].shape == x.shape
    assert len(g_s_calls) == 1


def test_compressai_eval_model_runs_on_the_wrapper(weights):
    from compressai.utils.eval_model.__main__ import inference

    codec = load_compressai_codec(
        f"compressai:bmshj2018-hyperprior:{QUALITY}:{weights['bmshj2018-hyperprior']}"
    )
    result = inference(codec, torch.rand(3, 176, 176))
    assert result["bpp"] > 0 and result["psnr-rgb"] > 0


def test_identity_follows_the_weights(weights):
    spec = f"compressai:bmshj2018-hyperprior:{QUALITY}:{weights['bmshj2018-hyperprior']}"
    a, b = load_compressai_codec(spec), load_compressai_codec(spec)
    assert a.identity() == b.identity() and len(a.identity()) == 16
    with torch.no_grad():
        b.model.g_a[0].weight[0, 0, 0, 0] += 1
    assert a.identity() != b.identity()


def test_offline_without_cached_weights_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("NODECODE_DOWNLOAD", raising=False)
    with pytest.raises(
        ConfigError, match=r"not in the torch hub cache.*NODECODE_DOWNLOAD=1.*STATE_DICT_FILE"
    ):
        load_compressai_codec("compressai:bmshj2018-hyperprior:3")


class Payload:
    """Any class: unpickling it would run code, so a weights-only load refuses it."""


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("compressai:jpeg:3", ConfigError, "expected compressai:ARCH:QUALITY"),
        ("compressai:bmshj2018-hyperprior:9", ConfigError, "qualities 1…8"),
        ("compressai:bmshj2018-hyperprior:x", ConfigError, "expected"),
        ("compressai:bmshj2018-hyperprior:1:/nonexistent.pth", CheckpointError, "no such"),
    ],
)
def test_bad_specs(spec, error, message):
    with pytest.raises(error, match=message):
        parse_spec(spec) if error is ConfigError else load_compressai_codec(spec)


def test_untrusted_state_dicts_are_refused(tmp_path, weights):
    pickled = tmp_path / "evil.pth"
    torch.save({"state_dict": Payload()}, pickled)
    with pytest.raises(CheckpointError, match="not a readable weights-only state dict"):
        load_compressai_codec(f"compressai:bmshj2018-hyperprior:1:{pickled}")
    wrong = f"compressai:bmshj2018-hyperprior:1:{weights['bmshj2018-factorized']}"
    with pytest.raises(CheckpointError, match="not a bmshj2018-hyperprior state dict"):
        load_compressai_codec(wrong)
