"""Resolve a task's train/test data from a spec: fashion-scenes, or a latent cache of it."""

from __future__ import annotations

from dataclasses import dataclass

from torch.utils.data import Dataset

from nodecode.data.fashion_mnist import CLASSES
from nodecode.data.fashion_scenes import NUM_CLASSES, SEGMENTATION_CLASSES, FashionScenes
from nodecode.data.latent_cache import LatentCache
from nodecode.errors import ConfigError

SCENES_PREFIX = "fashion-scenes:"


@dataclass
class TaskData:
    train: Dataset
    test: Dataset
    num_classes: int
    in_channels: int
    image_size: int
    classes: tuple[str, ...]
    codec: str | None = None
    codec_id: str | None = None


def scenes_preset(spec: str) -> str:
    if not spec.startswith(SCENES_PREFIX):
        raise ConfigError(f"unknown dataset {spec!r}; use fashion-scenes:tiny|small|medium")
    return spec[len(SCENES_PREFIX) :]


def load_task_data(
    task: str, input: str, spec: str, latents: str | None = None, fashion_mnist: str | None = None
) -> TaskData:
    """`input="rgb"` reads the original images; latent/decoded read `latents` (encode-dataset)."""
    preset = scenes_preset(spec)
    classes = CLASSES if task == "classification" else SEGMENTATION_CLASSES
    if input == "rgb":
        train = FashionScenes(preset, "train", task, fashion_mnist)
        test = FashionScenes(preset, "test", task, fashion_mnist)
        size = train.images.shape[-1]
        return TaskData(train, test, NUM_CLASSES[task], 3, size, classes)
    if latents is None:
        raise ConfigError(
            f"--input {input} needs --latents DIR (made by `nodecode encode-dataset`)"
        )
    train = LatentCache(latents, task, "train", input)
    test = LatentCache(latents, task, "test", input)
    if train.codec_id != test.codec_id:
        raise ConfigError(f"{latents}: train and test shards come from different codecs")
    size = train.decoded.shape[-1]
    return TaskData(
        train,
        test,
        NUM_CLASSES[task],
        train.in_channels,
        size,
        classes,
        train.meta["codec"],
        train.codec_id,
    )
