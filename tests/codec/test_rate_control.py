"""Rate control at encode time: files fit their target, decode with the unchanged decoder."""

import pytest
import torch

from nodecode.bitstream.tables import symbol_bits
from nodecode.codec import CodecConfig
from nodecode.codec.config import OPERATING_POINTS
from nodecode.codec.files import compress_image, compressed_bytes, decompress_file, read_symbols
from nodecode.codec.rate_control import parse_target, strings_within, target_bpp
from nodecode.data.images import pil_to_tensor
from nodecode.data.photos import load_photo
from nodecode.errors import ConfigError


@pytest.fixture
def codec(spread_codec):
    return spread_codec


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    """A held-out photo, big enough that the header is a small part of the file."""
    return pil_to_tensor(load_photo("astronaut"))[:, 40:296, 100:356]


def bpp_of(data: bytes, image: torch.Tensor) -> float:
    return 8 * len(data) / (image.shape[-1] * image.shape[-2])


def test_zero_rate_weight_is_the_plain_encoding_and_more_weight_costs_fewer_bits(codec, image):
    z = codec.latent_values(image[None])
    plain = codec.encode(image[None])
    assert torch.equal(codec.quantize(z, 0.0), plain)
    cdfs = codec.cdfs.cpu()
    bits = [symbol_bits(codec.quantize(z, w)[0], cdfs) for w in (0.0, 0.1, 1.0, 5000.0)]
    assert bits[0] > bits[1] > bits[2] > bits[3]
    # At a huge weight every entry takes its channel's cheapest center.
    cheapest = codec.symbol_counts.argmax(dim=1)
    assert torch.equal(codec.quantize(z, 5000.0)[0], cheapest[:, None, None].expand_as(z[0]))


def test_a_file_lands_just_under_its_target_and_decodes_with_the_plain_decoder(
    tmp_path, codec, image
):
    natural = compressed_bytes(codec, image)
    target = 0.7 * bpp_of(natural, image)
    info = compress_image(codec, image, tmp_path / "a.ndc", bpp=target)
    assert 0.97 * target <= info.bpp <= target
    assert info.bpp == bpp_of((tmp_path / "a.ndc").read_bytes(), image)
    _, decoded = decompress_file(codec, tmp_path / "a.ndc")
    assert decoded.shape == image.shape and torch.isfinite(decoded).all()
    # Fewer bits cost latent distortion (a random decoder says nothing of pixels), and
    # rate control moves few entries far: the error stays within one center spacing.
    z = codec.latent_values(image[None])[0]
    _, controlled = read_symbols(codec, tmp_path / "a.ndc")
    _, plain = read_symbols(codec, _write(tmp_path / "n.ndc", natural))
    error = [(codec.dequantize(s) - z).pow(2).mean().item() for s in (plain, controlled)]
    assert error[0] < error[1] < 0.8**2


def test_the_strings_are_the_rate_weighted_symbols_of_the_weight_found(codec, image):
    x = image[None]
    natural = sum(map(len, codec.compress(x)["strings"][0]))
    found = strings_within(codec, codec.latent_values(x), int(0.6 * natural))
    assert found.rate_weight > 0 and sum(map(len, found.strings)) <= 0.6 * natural
    decoded = codec.decompress_symbols(found.strings, (32, 32))
    expected = codec.quantize(codec.latent_values(x), found.rate_weight)
    assert torch.equal(decoded, expected)
    # The smallest weight that fits: a little less would not.
    smaller = codec.quantize(codec.latent_values(x), found.rate_weight * 0.99)
    assert len(codec.compress_symbols(smaller)[0]) > 0.6 * natural


def test_an_image_already_under_its_target_keeps_its_plain_encoding(tmp_path, codec, image):
    natural = compressed_bytes(codec, image)
    assert compressed_bytes(codec, image, bpp=2 * bpp_of(natural, image)) == natural
    header, symbols = read_symbols(codec, _write(tmp_path / "n.ndc", natural))
    assert torch.equal(symbols, codec.encode(image[None])[0])


def test_an_unreachable_or_meaningless_target_is_a_clear_error(codec, image):
    with pytest.raises(ConfigError, match="cannot fit.*higher --bpp"):
        compressed_bytes(codec, image, bpp=0.002)
    for text in ("0", "-1", "nan", "inf", "fast"):
        with pytest.raises(ConfigError, match="positive number of bits per pixel"):
            parse_target(text)
    assert parse_target("0.25") == 0.25 and parse_target("nominal") == "nominal"


def test_nominal_is_the_operating_point_of_the_paper_codec_even_after_calibration():
    for name, point in OPERATING_POINTS.items():
        calibrated = point.codec_config(target_entropy=point.target_entropy * 1.17)
        assert calibrated.nominal_bpp == point.bpp == float(name)
    custom = CodecConfig(latent_channels=4, target_entropy=1.0)
    assert custom.nominal_bpp == pytest.approx(4 / 64)


def test_nominal_resolves_per_codec(codec):
    assert target_bpp(codec, "nominal") == codec.config.nominal_bpp
    assert target_bpp(codec, 0.3) == 0.3 and target_bpp(codec, "0.3") == 0.3


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_codecs_that_code_in_context_trade_rate_priced_in_context(image):
    from tests.codec.test_autoencoder import make_context_codec

    codec = make_context_codec()
    z = codec.latent_values(image[None])
    bits = [codec.ideal_bits(codec.quantize(z, w)[0]) for w in (0.0, 0.1, 1.0)]
    assert bits[0] > bits[1] > bits[2]
    plain = len(codec.compress_symbols(codec.quantize(z))[0])
    fitted = strings_within(codec, z, int(0.8 * plain))
    assert fitted.rate_weight > 0 and len(fitted.strings[0]) <= int(0.8 * plain)
    decoded = codec.decompress_symbols(fitted.strings, tuple(z.shape[-2:]))
    assert torch.equal(decoded, codec.quantize(z, fitted.rate_weight).cpu())


def test_codecs_in_context_price_each_choice_in_its_neighbours_context(image):
    """Against pricing by the static tables, context pricing reaches a lower objective
    (z − c)² + λ·bits, bits as the file will spend them, at every weight."""
    from nodecode.codec.zoo import load_codec

    codec = load_codec("paper-0.330")
    assert codec.config.context_levels
    z = codec.latent_values(image[None, :, :128, :128])
    centers = codec.quantizer.centers.detach()
    for weight in (0.02, 0.1, 0.5):
        static = codec.quantizer.symbols(z, weight * codec.code_lengths())
        in_context = codec.quantize(z, weight)

        def objective(symbols, weight=weight):
            distortion = ((z - centers[symbols]) ** 2).sum().item()
            return distortion + weight * codec.ideal_bits(symbols[0])

        assert objective(in_context) < objective(static)
