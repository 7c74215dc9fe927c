"""Latent refinement at encode time: a closer picture from the same decoder, at the rate."""

import pytest
import torch
import torch.nn.functional as F

from nodecode.bitstream.tables import symbol_bits
from nodecode.codec.files import (
    compressed_bytes,
    decode_image,
    decompress_file,
    symbols_from_bytes,
)
from nodecode.codec.refine import RefineConfig, refine_latent
from nodecode.data.images import pil_to_tensor
from nodecode.data.photos import load_photo
from nodecode.errors import ConfigError


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return pil_to_tensor(load_photo("astronaut"))[:, 40:168, 100:228]


def decoded_mse_and_bpp(codec, image, z) -> tuple[float, float]:
    symbols = codec.quantize(z)
    x_hat = codec.decode(symbols, image.shape[-2:])
    bpp = symbol_bits(symbols[0], codec.cdfs) / (image.shape[-1] * image.shape[-2])
    return F.mse_loss(x_hat[0], image).item(), bpp


def test_refinement_lowers_the_decoded_error_of_a_file_of_the_same_size(spread_codec, image):
    def decoded_mse(data: bytes) -> float:
        header, symbols = symbols_from_bytes(spread_codec, data)
        return F.mse_loss(decode_image(spread_codec, header, symbols), image).item()

    plain = compressed_bytes(spread_codec, image)
    refined = compressed_bytes(spread_codec, image, refine=RefineConfig(steps=50, lr=0.2))
    assert len(refined) <= len(plain)  # rate control holds the refined file to the plain size
    # A random decoder leaves little to gain (a trained one: ~1 dB, docs/RESULTS.md §2b).
    assert decoded_mse(refined) < 0.98 * decoded_mse(plain)
    assert not any(p.grad is not None for p in spread_codec.parameters())  # weights untouched


def test_a_higher_rate_weight_buys_a_lower_rate(spread_codec, image):
    z = spread_codec.latent_values(image[None])
    rates = []
    for weight in (0.0, 3000.0):
        config = RefineConfig(steps=15, lr=0.05, rate_weight=weight, adapt=0.0)
        rates.append(decoded_mse_and_bpp(spread_codec, image, refine_latent(
            spread_codec, image[None], z, config=config))[1])  # fmt: skip
    assert rates[1] < rates[0]


def test_without_a_target_a_refined_file_is_never_larger_than_the_plain_one(spread_codec, image):
    plain = compressed_bytes(spread_codec, image)
    refined = compressed_bytes(spread_codec, image, refine=RefineConfig(steps=10, lr=0.2))
    assert refined != plain and len(refined) <= len(plain)


def test_a_refined_file_fits_its_target_and_decodes(tmp_path, spread_codec, image):
    plain = compressed_bytes(spread_codec, image)
    target = 0.8 * 8 * len(plain) / (image.shape[-1] * image.shape[-2])
    data = compressed_bytes(spread_codec, image, bpp=target, refine=RefineConfig(steps=5))
    assert 8 * len(data) / (image.shape[-1] * image.shape[-2]) <= target
    (tmp_path / "r.ndc").write_bytes(data)
    _, decoded = decompress_file(spread_codec, tmp_path / "r.ndc")
    assert decoded.shape == image.shape


def test_an_image_too_big_to_refine_at_once_is_refused(spread_codec, monkeypatch):
    import nodecode.codec.refine as refine

    monkeypatch.setattr(refine, "MAX_PIXELS", 63 * 63)
    image = torch.rand(1, 3, 64, 64)
    with pytest.raises(ConfigError, match="64x64 is over 3,969 pixels"):
        refine_latent(spread_codec, image, spread_codec.latent_values(image))


def test_refinement_settings_are_checked():
    for bad in ({"steps": -1}, {"lr": float("nan")}, {"rate_weight": -1.0}, {"schedule": "step"}):
        with pytest.raises(ConfigError, match="refinement"):
            RefineConfig(**bad)
