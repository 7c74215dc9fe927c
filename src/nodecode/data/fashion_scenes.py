"""`fashion-scenes`: the embedded benchmark (SPEC §2), generated offline and deterministically.

Fashion-MNIST items, colourised and alpha-composited onto random crops of the photos
bundled with scikit-image. Classification: one item per image, labelled by its class.
Segmentation: 1–4 items with per-pixel labels (0 = background, 1–10 = classes).
Training items come from Fashion-MNIST's train split and training photos; test items from
its test split and the held-out photos, so nothing is shared between the splits.
"""

from __future__ import annotations

import colorsys
import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from tqdm import tqdm

from nodecode.data.fashion_mnist import CLASSES, load_fashion_mnist
from nodecode.data.photos import SPLITS, load_photo
from nodecode.errors import ConfigError
from nodecode.utils.io import atomic_path

TASKS = ("classification", "segmentation")
NUM_CLASSES = {"classification": len(CLASSES), "segmentation": len(CLASSES) + 1}
SEGMENTATION_CLASSES = ("background", *CLASSES)


@dataclass(frozen=True)
class ScenesConfig:
    image_size: int = 64
    train_size: int = 10_000
    test_size: int = 2_000
    seed: int = 0
    max_items: int = 4
    # Items are opaque objects: alpha = clip(gain · intensity), the intensity kept as shading.
    # (alpha = intensity alone left dark garments half transparent, and even a plain CNN
    # stayed at chance on such scenes.)
    item_opacity_gain: float = 4.0
    # The photo's contrast around its mean, so the item is the salient object in the scene.
    background_contrast: float = 0.5

    def size(self, split: str) -> int:
        return self.train_size if split == "train" else self.test_size

    def digest(self) -> str:
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:10]


PRESETS = {
    "mini": ScenesConfig(image_size=64, train_size=1024, test_size=256),
    "tiny": ScenesConfig(image_size=64, train_size=4096, test_size=512),
    "small": ScenesConfig(image_size=64, train_size=10_000, test_size=2_000),
    "medium": ScenesConfig(image_size=96, train_size=60_000, test_size=10_000),
}


def preset(name: str) -> ScenesConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown fashion-scenes preset {name!r}; choose {sorted(PRESETS)}"
        ) from None


def cache_root() -> Path:
    return Path(os.environ.get("NODECODE_CACHE", Path.home() / ".cache" / "nodecode"))


def _shrink(photo: Image.Image, min_side: int) -> np.ndarray:
    """Downscale so the shorter side is `min_side`: backgrounds never need more detail."""
    scale = min_side / min(photo.size)
    if scale < 1:
        photo = photo.resize(
            (round(photo.width * scale), round(photo.height * scale)), Image.Resampling.BOX
        )
    return np.asarray(photo)


def _background(
    rng: np.random.Generator, photos: list[np.ndarray], size: int, contrast: float = 1.0
) -> np.ndarray:
    photo = photos[rng.integers(len(photos))]
    h, w = photo.shape[:2]
    side = int(rng.integers(min(h, w) // 4, min(h, w) + 1))
    top, left = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
    crop = Image.fromarray(photo[top : top + side, left : left + side])
    background = np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    mean = background.mean(axis=(0, 1), keepdims=True)
    return mean + contrast * (background - mean)


def _paste(
    canvas: np.ndarray,
    mask: np.ndarray | None,
    item: np.ndarray,
    label: int,
    rng: np.random.Generator,
    side: int,
    opacity_gain: float = 1.0,
) -> None:
    shade = (
        np.asarray(Image.fromarray(item).resize((side, side), Image.Resampling.BILINEAR)) / 255.0
    )
    alpha = np.clip(opacity_gain * shade, 0.0, 1.0)
    rgb = (
        np.array(
            colorsys.hsv_to_rgb(rng.random(), 0.5 + 0.5 * rng.random(), 0.6 + 0.4 * rng.random())
        )
        * 255
    )
    size = canvas.shape[0]
    top, left = int(rng.integers(size - side + 1)), int(rng.integers(size - side + 1))
    region = canvas[top : top + side, left : left + side]
    a = alpha[..., None].astype(np.float32)
    region[:] = region * (1 - a) + a * rgb * (0.4 + 0.6 * shade[..., None])
    if mask is not None:
        mask[top : top + side, left : left + side][alpha > 0.5] = label + 1


def generate(
    config: ScenesConfig, task: str, split: str, items: np.ndarray, labels: np.ndarray
) -> dict[str, np.ndarray]:
    """Images (N, S, S, 3) uint8, and labels (N,) or masks (N, S, S) uint8."""
    s, n = config.image_size, config.size(split)
    photos = [_shrink(load_photo(name), 4 * s) for name in SPLITS[split]]
    images = np.empty((n, s, s, 3), dtype=np.uint8)
    targets = (
        np.empty((n,), np.int64) if task == "classification" else np.zeros((n, s, s), np.uint8)
    )
    task_id, split_id = TASKS.index(task), ("train", "test").index(split)
    for i in tqdm(range(n), desc=f"fashion-scenes {task}/{split}", unit="img", leave=False):
        rng = np.random.default_rng([config.seed, task_id, split_id, i])
        canvas = _background(rng, photos, s, config.background_contrast)
        if task == "classification":
            index = int(rng.integers(len(items)))
            side = int(rng.integers(s * 55 // 100, s + 1))
            _paste(canvas, None, items[index], 0, rng, side, config.item_opacity_gain)
            targets[i] = labels[index]
        else:
            for _ in range(int(rng.integers(1, config.max_items + 1))):
                index = int(rng.integers(len(items)))
                side = int(rng.integers(s * 3 // 10, s * 6 // 10 + 1))
                _paste(
                    canvas,
                    targets[i],
                    items[index],
                    int(labels[index]),
                    rng,
                    side,
                    config.item_opacity_gain,
                )
        images[i] = np.clip(canvas, 0, 255).round().astype(np.uint8)
    return {"images": images, "targets": targets}


def build(
    name: str, task: str, split: str, fashion_mnist: str | None = None, download: bool = False
) -> Path:
    """Generate one split into the cache unless it is there; returns the .npz path."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose {TASKS}")
    config = preset(name)
    path = cache_root() / "fashion-scenes" / f"{name}-{config.digest()}" / f"{task}-{split}.npz"
    if not path.is_file():
        items, labels = load_fashion_mnist(split, fashion_mnist, download)
        arrays = generate(config, task, split, items, labels)
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, **arrays, config=json.dumps(dataclasses.asdict(config)))
    return path


class FashionScenes(Dataset):
    """A split of fashion-scenes as (image (3, S, S) float in [0, 1], label or mask) pairs."""

    def __init__(
        self,
        preset_name: str = "small",
        split: str = "train",
        task: str = "classification",
        fashion_mnist: str | None = None,
        download: bool = False,
    ) -> None:
        self.path = build(preset_name, task, split, fashion_mnist, download)
        with np.load(self.path) as data:
            self.images = torch.from_numpy(data["images"]).permute(0, 3, 1, 2).contiguous()
            self.targets = torch.from_numpy(data["targets"]).long()
        self.task, self.split = task, split
        self.num_classes = NUM_CLASSES[task]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index].float() / 255.0, self.targets[index]
