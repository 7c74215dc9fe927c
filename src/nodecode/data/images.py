"""Reading and writing images as float tensors in [0, 1], shaped (3, H, W)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from nodecode.errors import ImageError
from nodecode.utils.io import atomic_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm")


def pil_to_tensor(image: Image.Image) -> Tensor:
    array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


def tensor_to_pil(x: Tensor) -> Image.Image:
    array = x.detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu()
    return Image.fromarray(array.numpy())


def load_image(path: str | os.PathLike) -> Tensor:
    path = Path(path)
    try:
        with Image.open(path) as image:
            return pil_to_tensor(image)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise ImageError(f"{path}: cannot read image ({e})") from None


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
    codec corpus, data/photo_corpus.py), `skimage:train` / `skimage:test`, or a directory."""
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
