"""The codecs shipped in the package: loadable, ready, deterministic, and at their rates."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from nodecode.bitstream.tables import symbol_bits
from nodecode.codec import load_codec
from nodecode.codec.files import compress_image, decode_image, read_symbols
from nodecode.codec.zoo import default_codecs, shipped_codecs
from nodecode.data.images import load_images

OPS = ("0.0983", "0.330", "0.635")
PAPER = [f"paper-{op}" for op in OPS]
SMALL = [f"small-{op}" for op in OPS]


@pytest.fixture(scope="module")
def test_photos():
    """The held-out natural photos of the codec corpus (768 px on the long side)."""
    return load_images("photos:test")


def test_both_families_ship_every_operating_point_and_paper_is_the_default():
    assert shipped_codecs() == PAPER + SMALL
    assert default_codecs() == PAPER
    for name in PAPER:
        codec = load_codec(name)
        assert codec.ready and codec.name == name and codec.config.width == 1.0
        assert codec.config.upsampling == "subpixel"


@pytest.mark.parametrize("name", PAPER + SMALL)
def test_payload_is_within_3_percent_of_the_table_estimate_on_held_out_photos(name, tmp_path):
    codec = load_codec(name)
    for image_name, image in list(load_images("skimage:test").items())[:2]:
        info = compress_image(codec, image, tmp_path / f"{image_name}.ndc")
        symbols = codec.encode(image.unsqueeze(0))[0]
        estimate = codec.ideal_bits(symbols) / 8
        assert info.header.payload_length == pytest.approx(estimate, rel=0.03)


def file_bpps(codec, photos, folder, bpp=None) -> list[float]:
    return [compress_image(codec, x, folder / f"{n}.ndc", bpp=bpp).bpp for n, x in photos.items()]


def mean_file_bpp(codec, photos, folder, bpp=None) -> float:
    return float(np.mean(file_bpps(codec, photos, folder, bpp)))


@pytest.mark.parametrize("op", OPS)
def test_paper_codecs_are_calibrated_and_land_on_their_rates(op, test_photos, tmp_path):
    """Calibration put each codec's rate under its static tables at nominal on the whole
    training photos (within 5 %). Coding in context then spends 15–27 % less on the same
    latents; the held-out test photos are busier (JPEG at a fixed quality spends 22–46 %
    more bits on them, docs/RESULTS.md §2b), so their files land within 5 % of nominal at
    0.330 and 0.635, and 20–35 % below it at 0.0983 (the codec needs a higher target
    entropy: §2c). Five photos pin a mean rate only to a standard error of 8–15 % (§2b), so
    the bounds guard against drift on these photos; they say little of other photos."""
    codec = load_codec(f"paper-{op}")
    train = load_images("photos:train")
    static = [
        symbol_bits(codec.encode(x[None])[0], codec.cdfs) / (x.shape[-1] * x.shape[-2])
        for x in train.values()
    ]
    assert float(np.mean(static)) == pytest.approx(float(op), rel=0.05)
    held_out = mean_file_bpp(codec, test_photos, tmp_path) / float(op)
    assert 0.65 <= held_out <= 0.8 if op == "0.0983" else 0.95 <= held_out <= 1.05


@pytest.mark.parametrize("op", OPS)
def test_rate_control_caps_every_file_at_the_nominal_rate(op, test_photos, tmp_path):
    """With `--bpp nominal` no file exceeds the operating point, and a photo that needs
    less keeps its plain encoding, byte for byte."""
    codec = load_codec(f"paper-{op}")
    capped = file_bpps(codec, test_photos, tmp_path / "capped", bpp="nominal")
    plain = file_bpps(codec, test_photos, tmp_path / "plain")
    assert max(capped) <= float(op)
    for before, after in zip(plain, capped, strict=True):
        assert after == before if before <= float(op) else after < before
    assert any(before > float(op) for before in plain) or op == "0.0983"


DECODE_SCRIPT = """
import sys, hashlib, torch
from nodecode.bitstream.tables import symbol_bits
from nodecode.codec import load_codec
from nodecode.codec.files import decode_image, read_symbols
torch.set_num_threads(int(sys.argv[2]))
codec = load_codec("paper-0.330")
x_hat = decode_image(codec, *read_symbols(codec, sys.argv[1]))
print(hashlib.sha256(x_hat.mul(255).round().to(torch.uint8).numpy().tobytes()).hexdigest())
"""


def test_paper_codec_encodes_and_decodes_deterministically(tmp_path):
    import hashlib

    codec = load_codec("paper-0.330")
    image = load_images("skimage:test")["coffee"][:, :128, :192]
    compress_image(codec, image, tmp_path / "a.ndc")
    compress_image(codec, image, tmp_path / "b.ndc")
    assert (tmp_path / "a.ndc").read_bytes() == (tmp_path / "b.ndc").read_bytes()
    first = decode_image(codec, *read_symbols(codec, tmp_path / "a.ndc"))
    second = decode_image(codec, *read_symbols(codec, tmp_path / "a.ndc"))
    assert torch.equal(first, second)
    # A fresh process (new allocator, new thread pool) decodes to the same 8-bit image. With
    # as many threads: oneDNN's float sums may round differently at another thread count (1
    # level in 1 of 73,728 values here); the symbols, which the file holds, are exact.
    digest = hashlib.sha256(first.mul(255).round().to(torch.uint8).numpy().tobytes()).hexdigest()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            DECODE_SCRIPT,
            str(tmp_path / "a.ndc"),
            str(torch.get_num_threads()),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == digest
