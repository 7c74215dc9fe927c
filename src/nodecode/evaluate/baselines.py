"""Classical codecs through Pillow: JPEG and WebP over quality, JPEG 2000 over rate."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image
from torch import Tensor

from nodecode.data.images import pil_to_tensor, tensor_to_pil

JPEG_QUALITIES = (2, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90)
JPEG2000_BPPS = (0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 1.5)
WEBP_QUALITIES = (0, 2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90)


@dataclass
class Coded:
    setting: float
    num_bytes: int
    image: Tensor


def _roundtrip(image: Image.Image, **save_args) -> tuple[int, Tensor]:
    buffer = io.BytesIO()
    image.save(buffer, **save_args)
    num_bytes = buffer.tell()
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return num_bytes, pil_to_tensor(decoded)


def jpeg(x: Tensor, quality: int) -> Coded:
    num_bytes, image = _roundtrip(tensor_to_pil(x), format="JPEG", quality=quality)
    return Coded(quality, num_bytes, image)


def jpeg2000(x: Tensor, bpp: float) -> Coded:
    """JPEG 2000 at a target rate: Pillow takes it as a compression ratio of 24-bit pixels."""
    save = {"format": "JPEG2000", "quality_mode": "rates", "quality_layers": [24.0 / bpp]}
    num_bytes, image = _roundtrip(tensor_to_pil(x), **save)
    return Coded(bpp, num_bytes, image)


def webp(x: Tensor, quality: int) -> Coded:
    """Lossy WebP (libwebp through Pillow) at its slowest, best-compressing method."""
    num_bytes, image = _roundtrip(tensor_to_pil(x), format="WEBP", quality=quality, method=6)
    return Coded(quality, num_bytes, image)


# Method → (coder taking a quality or, for JPEG 2000, a bpp; the settings swept).
BASELINES: dict[str, tuple[Callable[[Tensor, Any], Coded], Sequence[float]]] = {
    "jpeg": (jpeg, JPEG_QUALITIES),
    "jpeg2000": (jpeg2000, JPEG2000_BPPS),
    "webp": (webp, WEBP_QUALITIES),
}


def at_rate(method: str, x: Tensor, bpp: float) -> Coded:
    """`method` at the largest setting whose file stays within `bpp` (its smallest otherwise):
    a classical codec at the rate a learned codec spent, for side-by-side pictures."""
    code, settings = BASELINES[method]
    pixels = x.shape[-2] * x.shape[-1]
    if method == "jpeg2000":
        return code(x, bpp)
    best = code(x, settings[0])
    low, high = int(settings[0]) + 1, 95  # bytes grow with quality: bisect the largest that fits
    while low <= high:
        quality = (low + high) // 2
        coded = code(x, quality)
        if 8.0 * coded.num_bytes / pixels > bpp:
            high = quality - 1
        else:
            best, low = coded, quality + 1
    return best
