import dataclasses

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from nodecode.codec import CodecConfig, ConvAutoencoder, operating_point
from nodecode.data.images import pil_to_tensor
from nodecode.data.photos import load_photo
from nodecode.errors import ConfigError
from tests.conftest import TINY


def macs(fn, *args) -> float:
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops() / 2


@pytest.mark.parametrize("size", [(64, 64), (67, 45), (8, 8), (1, 13)])
def test_any_image_size_gives_ceil_eighth_latent_and_same_size_output(size):
    codec = ConvAutoencoder(TINY)
    x = torch.rand(2, 3, *size)
    out = codec(x)
    expected = (2, TINY.latent_channels, -(-size[0] // 8), -(-size[1] // 8))
    assert out.symbols.shape == expected
    assert out.latent.shape == expected
    assert out.x_hat.shape == x.shape
    assert codec.decode(out.symbols, size).shape == x.shape


@pytest.mark.parametrize("op, channels", [("0.0983", 8), ("0.330", 16), ("0.635", 32)])
def test_paper_width_codec_costs_stay_within_5_percent_of_the_paper_at_224(op, channels):
    codec = ConvAutoencoder(operating_point(op).codec_config(width=1.0)).eval()
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        z = codec.analysis(x)
        encoder = macs(codec.analysis, x)
        decoder = macs(codec.synthesis, z)
    assert z.shape == (1, channels, 28, 28)
    assert encoder == pytest.approx(3.56e9, rel=0.05)
    assert decoder == pytest.approx(2.85e9, rel=0.05)


def test_decoder_upsamples_with_overlapping_sub_pixel_convolutions():
    codec = ConvAutoencoder(TINY)
    shuffles = [m for m in codec.g_s.modules() if isinstance(m, torch.nn.PixelShuffle)]
    assert len(shuffles) == 3
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in codec.g_s.modules())
    # One latent entry reaches pixels outside its own 8×8 block: no block grid by design.
    z = torch.zeros(1, TINY.latent_channels, 4, 4, requires_grad=True)
    codec.synthesis(z)[0, :, 8:16, 8:16].sum().backward()
    assert z.grad[0, :, 0, 0].abs().sum() > 0


def test_legacy_transposed_codecs_still_build():
    legacy = CodecConfig.from_dict({"latent_channels": 4, "width": 0.125})
    assert legacy.upsampling == "transposed" and legacy.rate_estimate == "soft"
    codec = ConvAutoencoder(legacy)
    assert isinstance(codec.g_s[0], torch.nn.ConvTranspose2d)
    assert "upsampling" not in legacy.to_json()  # identity of old checkpoints unchanged


def test_width_multiplier_scales_channels():
    assert CodecConfig(width=1.0).channels == (64, 128)
    assert CodecConfig(width=0.5).channels == (32, 64)
    small = ConvAutoencoder(CodecConfig(width=0.25, latent_channels=8))
    assert small.g_a[0].out_channels == 16 and small.g_a[-1].out_channels == 8


def test_gradients_reach_encoder_decoder_and_centers():
    codec = ConvAutoencoder(TINY)
    out = codec(torch.rand(2, 3, 32, 32))
    (out.x_hat.square().mean() + out.entropy_bits).backward()
    assert codec.g_a[0].weight.grad.abs().sum() > 0
    assert codec.g_s[-1][0].weight.grad.abs().sum() > 0
    assert codec.quantizer.centers.grad.abs().sum() > 0


def test_bpp_estimate_is_entropy_times_channels_over_64():
    codec = ConvAutoencoder(TINY)
    out = codec(torch.rand(1, 3, 32, 32))
    assert out.bpp_estimate.item() == pytest.approx(out.entropy_bits.item() * 4 / 64)


def test_identity_changes_with_weights_and_tables(tiny_codec):
    before = tiny_codec.identity()
    assert len(before) == 16 and tiny_codec.identity() == before
    counts = tiny_codec.symbol_counts.clone()
    counts[0, 0] += 1000
    tiny_codec.update(counts)
    after_tables = tiny_codec.identity()
    assert after_tables != before
    saved = {k: v.clone() for k, v in tiny_codec.state_dict().items()}
    with torch.no_grad():
        tiny_codec.g_s[-1][0].bias.add_(1e-6)
    assert tiny_codec.identity() != after_tables
    # The digest is cached; restoring the weights in place restores it.
    tiny_codec.load_state_dict(saved)
    assert tiny_codec.identity() == after_tables


def test_compressai_contract_and_eval_model_inference(tiny_codec, photo):
    """CompressAI's evaluation runs on a nodecode codec: nested strings, x_hat, likelihoods."""
    from compressai.utils.eval_model.__main__ import inference, inference_entropy_estimation

    x = photo.unsqueeze(0)
    out = tiny_codec.compress(x)
    assert len(out["strings"]) == 1 and isinstance(out["strings"][0][0], bytes)
    assert tiny_codec.stride == 8 and out["shape"] == (13, 15)
    x_hat = tiny_codec.decompress(out["strings"], out["shape"])["x_hat"]
    assert x_hat.shape == (1, 3, 104, 120)  # padded to the stride, as CompressAI's models do
    latent = tiny_codec.latent(out["strings"], out["shape"])["y_hat"]
    assert latent.shape == (1, tiny_codec.latent_channels, 13, 15)
    assert torch.equal(latent, tiny_codec.dequantize(tiny_codec.encode(x)))

    from compressai.ops import compute_padding

    big = torch.nn.functional.interpolate(x, size=(176, 176), mode="bilinear")[0]  # MS-SSIM ≥ 161
    with torch.no_grad():
        measured = inference(tiny_codec, big)
        estimated = inference_entropy_estimation(tiny_codec, big)
    pad, unpad = compute_padding(176, 176, min_div=64)
    padded = tiny_codec.compress(torch.nn.functional.pad(big[None], pad))
    assert measured["bpp"] == pytest.approx(8 * len(padded["strings"][0][0]) / 176**2)
    decoded = torch.nn.functional.pad(tiny_codec.decompress(**padded)["x_hat"], unpad)
    mse = ((decoded * 255).round() - (big * 255).round()).pow(2).mean()
    assert measured["psnr-rgb"] == pytest.approx(float(10 * torch.log10(255**2 / mse)), abs=1e-3)
    assert 0 < measured["ms-ssim-rgb"] <= 1
    # The likelihoods' rate is the soft-histogram cross-entropy: close to the coded rate.
    coded = tiny_codec.compress(big[None])["strings"][0][0]
    assert estimated["bpp"] == pytest.approx(8 * len(coded) / 176**2, rel=0.35)


@pytest.mark.parametrize("name", ["paper-0.635", "small-0.330"])
def test_encoder_and_decoder_see_no_further_than_the_tiling_halo(name):
    from nodecode.codec.autoencoder import DECODE_HALO
    from nodecode.codec.zoo import load_codec

    codec = load_codec(name)
    latent = torch.zeros(1, codec.config.latent_channels, 41, 41, requires_grad=True)
    out = codec.g_s(latent)
    out[0, :, out.shape[2] // 2, out.shape[3] // 2].sum().backward()
    rows = (latent.grad.abs().sum(dim=(0, 1, 3)) > 0).nonzero().flatten()
    assert int(rows.max() - 20) < DECODE_HALO and int(20 - rows.min()) < DECODE_HALO
    image = torch.zeros(1, 3, 41 * 8, 41 * 8, requires_grad=True)
    z = codec.g_a(image)
    z[0, :, 20, 20].sum().backward()
    rows = (image.grad.abs().sum(dim=(0, 1, 3)) > 0).nonzero().flatten() // 8  # in latent units
    assert int(rows.max() - 20) < DECODE_HALO and int(20 - rows.min()) < DECODE_HALO


def test_tiled_decode_matches_a_whole_decode(tiny_codec):
    generator = torch.Generator().manual_seed(0)
    symbols = torch.randint(0, tiny_codec.num_centers, (1, 4, 45, 38), generator=generator)
    whole = tiny_codec.decode(symbols, (355, 300), tile=1000)
    tiled = tiny_codec.decode(symbols, (355, 300), tile=12)  # 4×4 tiles, halos inside
    assert tiled.shape == whole.shape == (1, 3, 355, 300)
    assert torch.allclose(tiled, whole, atol=1e-5)


def test_tiled_encode_matches_a_whole_encode(tiny_codec, photo):
    image = torch.nn.functional.interpolate(photo[None], size=(355, 300), mode="bilinear")
    whole = tiny_codec.encode(image, tile=1000)
    tiled = tiny_codec.encode(image, tile=12)
    assert tiled.shape == whole.shape == (1, 4, 45, 38)
    # Equal but for a symbol whose value sits on a decision boundary to float precision.
    assert (tiled != whole).float().mean() < 1e-3


def make_context_codec(levels: int = 2) -> ConvAutoencoder:
    """The spread tiny codec (a latent with structure) coding in context, tables fitted."""
    torch.manual_seed(0)
    codec = ConvAutoencoder(dataclasses.replace(TINY, context_levels=levels), "tiny-ctx").eval()
    with torch.no_grad():
        codec.g_a[-1].weight.mul_(40)
        codec.g_a[-1].bias.zero_()
    fit = pil_to_tensor(load_photo("chelsea"))[:, :128, :128]
    codec.fit_tables([codec.encode(fit[None])])
    return codec


def test_context_coding_round_trips_files_in_fewer_bytes(photo):
    codec = make_context_codec()
    static = make_context_codec(levels=0)  # same seed and weights, per-channel tables only
    assert torch.equal(static.encode(photo[None]), codec.encode(photo[None]))
    out = codec.compress(photo[None])
    assert torch.equal(
        codec.latent(out["strings"], out["shape"])["y_hat"],
        codec.dequantize(codec.encode(photo[None])),
    )
    assert len(out["strings"][0][0]) < len(static.compress(photo[None])["strings"][0][0])
    assert codec.identity() != static.identity()


def test_context_codecs_need_their_context_tables():
    codec = ConvAutoencoder(dataclasses.replace(TINY, context_levels=1))
    assert not codec.ready  # nothing fitted yet
    with pytest.raises(ValueError, match="context_counts"):
        codec.update(torch.ones(TINY.latent_channels, TINY.num_centers, dtype=torch.int64))
    # Codecs that do not code in context carry no such tables: older codecs keep their identity.
    assert "context_cdfs" not in ConvAutoencoder(TINY).state_dict()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"context_levels": 5}, "context_levels"),
        ({"context_levels": 1, "num_centers": 20}, "at most"),
    ],
)
def test_invalid_context_settings_are_refused(change, message):
    with pytest.raises(ConfigError, match=message):
        CodecConfig.from_dict({**dataclasses.asdict(TINY), **change})


def test_context_codecs_bound_positions_by_their_cheapest_symbol_in_any_context():
    from nodecode.bitstream.context import num_contexts
    from nodecode.bitstream.tables import max_codable_positions, min_bits_per_channel

    codec = make_context_codec()
    static = min_bits_per_channel(codec.cdfs)
    rows = min_bits_per_channel(codec.context_cdfs)
    per_channel = rows.view(-1, codec.latent_channels, num_contexts(codec.num_centers))
    floor = torch.minimum(static, per_channel.amin(dim=(0, 2)))
    assert bool((floor < static).any())  # some symbol is cheaper in context
    expected = max_codable_positions(floor, 1000)
    assert codec.max_positions((600, 400)) == expected
    assert codec.max_positions((1000,)) > max_codable_positions(static, 1000)
