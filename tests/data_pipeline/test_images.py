"""Images handed to `compress` by users: every mode and oddity is a correct tensor or one
clear ImageError naming the file, and size is checked before pixels are decoded."""

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from nodecode.data.images import load_image
from nodecode.errors import ImageError


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    values = (np.arange(48 * 40, dtype=np.uint32).reshape(48, 40) * 34).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    x = load_image(tmp_path / "g16.png")
    assert x.shape == (3, 48, 40)
    expected = torch.from_numpy(values.astype(np.float32) / 65535)
    assert torch.allclose(x[0], expected) and torch.equal(x[0], x[2])
    assert (x == 1).float().mean() < 0.01  # PIL's convert("RGB") made 89 % of pixels white


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (30, 10), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 5, 10))  # blue on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90° clockwise
    image.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    x = load_image(tmp_path / "rotated.jpg")
    assert x.shape == (3, 30, 10)
    assert x[2, :4].mean() > 0.8 and x[0, :4].mean() < 0.2  # the left edge is now on top


@pytest.mark.parametrize(
    ("mode", "color", "suffix"),
    [("CMYK", (0, 255, 255, 0), ".jpg"), ("P", None, ".png"), ("LA", (90, 255), ".png")],
)
def test_other_modes_become_rgb(tmp_path, mode, color, suffix):
    if mode == "P":
        image = Image.new("RGB", (16, 12), (200, 30, 30)).convert("P", palette=Image.ADAPTIVE)
        image.info["transparency"] = 0
    else:
        image = Image.new(mode, (16, 12), color)
    image.save(tmp_path / f"x{suffix}")
    x = load_image(tmp_path / f"x{suffix}")
    assert x.shape == (3, 12, 16) and x.min() >= 0 and x.max() <= 1
    if mode != "LA":
        assert x[0].mean() > 0.7 and x[1].mean() < 0.3  # red stays red


def test_one_pixel_image(tmp_path):
    Image.new("RGB", (1, 1), (10, 20, 30)).save(tmp_path / "one.png")
    assert torch.allclose(
        load_image(tmp_path / "one.png").flatten() * 255, torch.tensor([10.0, 20, 30])
    )


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width×height: a decompression bomb in 70 bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_size_is_checked_before_decoding(tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_declaring(12_000, 9_000))  # 108 Mpx
    with pytest.raises(
        ImageError, match=r"bomb\.png: 9000x12000 pixels exceed the budget.*NODECODE"
    ):
        load_image(bomb)
    Image.new("RGB", (50, 40)).save(tmp_path / "small.png")
    monkeypatch.setenv("NODECODE_MAX_PIXELS", "1999")
    with pytest.raises(ImageError, match="40x50 pixels exceed the budget of 1999"):
        load_image(tmp_path / "small.png")


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("anim.gif", "animated", "has 2 frames \\(animated or multi-page\\)"),
        ("float.tif", "float", "cannot decode image \\(ValueError: 32-bit float"),
        ("cut.png", "truncated", "cannot decode image"),
        ("text.png", "text", "not a readable image"),
        ("folder.png", "directory", "is a directory"),
    ],
)
def test_unusable_images_are_one_clear_error(tmp_path, name, make, message):
    path = tmp_path / name
    if make == "animated":
        frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0))]
        frames[0].save(path, save_all=True, append_images=frames[1:])
    elif make == "float":
        Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(path)
    elif make == "truncated":
        Image.effect_noise((64, 64), 50).save(path)
        path.write_bytes(path.read_bytes()[:200])
    elif make == "text":
        path.write_text("not an image")
    else:
        path.mkdir()
    with pytest.raises(ImageError, match=f"{name}: {message}"):
        load_image(path)
