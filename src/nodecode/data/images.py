"""Reading and writing images as float tensors in [0, 1], shaped (3, H, W)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from nodecode.errors import ImageError
from nodecode.utils.io import atomic_path
from nodecode.utils.limits import max_pixels, over_budget_message

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm")


# Grayscale modes deeper than 8 bits: PIL's convert("RGB") would clip them at 255.
_DEEP_GRAY_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")


def pil_to_tensor(image: Image.Image) -> Tensor:
    """(3, H, W) in [0, 1]. 16-bit grayscale is scaled, not clipped; alpha is dropped."""
    if image.mode in _DEEP_GRAY_MODES:
        array = np.asarray(image)
        if array.size and (array.min() < 0 or array.max() > 65535):
            raise ValueError(f"{image.mode} pixel values outside 0…65535 (not a 16-bit image)")
        gray = torch.from_numpy(array.astype(np.float32) / 65535.0)
        return gray.unsqueeze(0).expand(3, -1, -1).contiguous()
    if image.mode == "F":
        raise ValueError("32-bit float pixels have no agreed range; save as 8 or 16 bit")
    array = np.array(image.convert("RGB"), dtype=np.uint8)  # one writable copy
    return torch.from_numpy(array).permute(2, 0, 1).float().div_(255.0)


def tensor_to_pil(x: Tensor) -> Image.Image:
    array = x.detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu()
    return Image.fromarray(array.numpy())


def load_image(path: str | os.PathLike) -> Tensor:
    """An untrusted image file as (3, H, W): its declared size is checked against the pixel
    budget before any pixel is decoded, and EXIF orientation is applied."""
    image = open_image(path)
    try:
        return pil_to_tensor(image)
    except ValueError as e:  # pixel formats without an agreed range (float, 32-bit)
        raise ImageError(f"{path}: cannot decode image (ValueError: {e})") from None


def open_image(path: str | os.PathLike) -> Image.Image:
    """An untrusted image file, decoded, checked and upright (see `load_image`)."""
    path = Path(path)
    try:
        with warnings.catch_warnings():  # PIL's own bomb warning: our budget below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            width, height = image.size
            if width * height > (limit := max_pixels()):
                raise ImageError(f"{path}: {over_budget_message(height, width, limit)}")
            if (frames := getattr(image, "n_frames", 1)) > 1:
                raise ImageError(
                    f"{path}: has {frames} frames (animated or multi-page); nodecode "
                    "codes still images, so extract the frame you want first"
                )
            upright = ImageOps.exif_transpose(image)
            upright.load()
            return upright
    except FileNotFoundError:
        raise ImageError(f"{path}: no such image file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory, not an image") from None
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise ImageError(f"{path}: not a readable image ({e})") from None
    except (ImageError, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001 - Pillow's plugins raise OSError, ValueError,
        # SyntaxError, EOFError, TypeError, struct.error… on malformed data (found by fuzzing)
        raise ImageError(f"{path}: cannot decode image ({type(e).__name__}: {e})") from None


def save_image(x: Tensor, path: str | os.PathLike) -> None:
    """Atomically save (3, H, W) in [0, 1]; the format follows the suffix."""
    with atomic_path(path) as tmp:
        tensor_to_pil(x).save(tmp, format=Image.registered_extensions()[Path(path).suffix.lower()])


def find_images(folder: str | os.PathLike) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"{folder}: not a directory of images")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ImageError(f"{folder}: contains no images ({', '.join(IMAGE_SUFFIXES)})")
    return paths


BUNDLED_PREFIX = "skimage:"
CORPUS_PREFIX = "photos:"


def image_source(spec: str | os.PathLike) -> dict[str, Image.Image | Path]:
    """By image name: `photos:test` / `photos:val` / `photos:train` (whole photos of the
    codec corpus, data/photo_corpus.py), `photos:independent` (evaluation only,
    data/independent_photos.py), `skimage:train` / `skimage:test`, or a directory."""
    spec = str(spec)
    if spec.startswith(CORPUS_PREFIX):
        from nodecode.data.photo_corpus import whole_photos

        return dict(whole_photos(spec[len(CORPUS_PREFIX) :]))
    if spec.startswith(BUNDLED_PREFIX):
        from nodecode.data.photos import photo_split

        return dict(photo_split(spec[len(BUNDLED_PREFIX) :]))
    return {p.stem: p for p in find_images(spec)}


def load_images(spec: str | os.PathLike) -> dict[str, Tensor]:
    """Every image of a source as a tensor, e.g. an evaluation set."""
    return {
        name: load_image(item) if isinstance(item, Path) else pil_to_tensor(item)
        for name, item in image_source(spec).items()
    }
