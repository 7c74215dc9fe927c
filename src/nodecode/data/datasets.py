"""Resolve a task's train/test data from a spec: fashion-scenes, or a latent cache of it."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn
from torch.utils.data import Dataset

from nodecode.data.augment import GridCrop
from nodecode.data.fashion_mnist import CLASSES
from nodecode.data.fashion_scenes import NUM_CLASSES, SEGMENTATION_CLASSES, FashionScenes
from nodecode.data.inputs import is_latent_input
from nodecode.data.latent_cache import LatentCache
from nodecode.errors import ConfigError, require_same_codec

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
    latent_stride: int = 8  # image pixels per latent position (the codec's stride)
    # Decodes each batch of latents into the network's input images, for a latent cache
    # that does not store them (data/latent_cache.DecodeLatents); None: items are inputs.
    input_transform: nn.Module | None = None
    # Items are latents (also those the input transform decodes), so they move on its grid.
    latent_items: bool = False

    def network(self, model: nn.Module) -> nn.Module:
        """`model` behind the input transform, if any: what a batch of items goes through."""
        return model if self.input_transform is None else nn.Sequential(self.input_transform, model)

    def grid_crop(self, split: Dataset, size: int, train: bool) -> GridCrop:
        """`split`'s items cut to `size` pixels on the latent grid: at random offsets to
        train, at the centre to evaluate."""
        return GridCrop(split, size, self.latent_stride, self.latent_items, train)


DATASET_HELP = (
    "fashion-scenes:mini|tiny|small|medium, imagefolder:ROOT, voc:ROOT, "
    "minc:ROOT[:FOLD] (MINC-2500) or resisc45:ROOT[:TRAIN_FRACTION]"
)
DEFAULT_SIZES = {"classification": 224, "segmentation": 320}  # App. A.4 / A.5 crops


def scenes_preset(spec: str) -> str:
    if not spec.startswith(SCENES_PREFIX):
        raise ConfigError(f"unknown dataset {spec!r}; use {DATASET_HELP}")
    return spec[len(SCENES_PREFIX) :]


def image_splits(
    task: str,
    spec: str,
    image_size: int | None = None,
    fashion_mnist: str | None = None,
    augment: bool = True,
) -> TaskData:
    """Train and test images of any supported layout, as (image, label or mask) pairs."""
    kind, _, root = spec.partition(":")
    size = image_size or DEFAULT_SIZES[task]
    if kind == "imagefolder" and task == "classification":
        from nodecode.data.folders import image_folder

        train = image_folder(root, "train", size, augment)
        test = image_folder(root, "val", size, False)
        classes = tuple(train.classes)  # type: ignore[attr-defined]  # an ImageFolder
        return TaskData(train, test, len(classes), 3, size, classes)
    if kind in ("minc", "resisc45") and task == "classification":
        from nodecode.data.folders import minc2500, resisc45

        path, _, option = root.partition(":")  # MINC-2500's fold, RESISC45's train fraction
        build = minc2500 if kind == "minc" else resisc45
        train = build(path, "train", size, augment, option)
        test = build(path, "val", size, False, option)
        classes = tuple(train.classes)  # type: ignore[attr-defined]
        return TaskData(train, test, len(classes), 3, size, classes)
    if kind == "voc" and task == "segmentation":
        from nodecode.data.folders import VOC_CLASSES, voc_segmentation

        train = voc_segmentation(root, "train", size, augment)
        test = voc_segmentation(root, "val", size, False)
        return TaskData(train, test, len(VOC_CLASSES), 3, size, VOC_CLASSES)
    if kind in ("imagefolder", "voc", "minc", "resisc45"):
        raise ConfigError(
            f"{kind} data is for {'segmentation' if kind == 'voc' else 'classification'}"
        )
    preset = scenes_preset(spec)
    classes = CLASSES if task == "classification" else SEGMENTATION_CLASSES
    train = FashionScenes(preset, "train", task, fashion_mnist)
    test = FashionScenes(preset, "test", task, fashion_mnist)
    return TaskData(train, test, NUM_CLASSES[task], 3, train.images.shape[-1], classes)


def load_task_data(
    task: str,
    input: str,
    spec: str,
    latents: str | None = None,
    fashion_mnist: str | None = None,
    image_size: int | None = None,
) -> TaskData:
    """`input="rgb"` reads the original images; latent/decoded read `latents` (encode-dataset)."""
    if input == "rgb":
        return image_splits(task, spec, image_size, fashion_mnist)
    if latents is None:
        raise ConfigError(
            f"--input {input} needs --latents DIR (made by `nodecode encode-dataset`)"
        )
    train = LatentCache(latents, task, "train", input)
    test = LatentCache(latents, task, "test", input)
    require_same_codec(
        train.codec_id,
        test.codec_id,
        f"{latents}: train and test shards come from different codecs",
    )
    if train.decodes_on_the_fly != test.decodes_on_the_fly:
        raise ConfigError(f"{latents}: one split stores decoded images and the other does not")
    size = train.image_size
    default = CLASSES if task == "classification" else SEGMENTATION_CLASSES
    classes = tuple(train.meta.get("classes") or default)
    return TaskData(
        train,
        test,
        len(classes),
        train.in_channels,
        size,
        classes,
        train.meta["codec"],
        train.codec_id,
        train.latent_stride,
        train.decoder() if train.decodes_on_the_fly else None,
        latent_items=is_latent_input(input) or train.decodes_on_the_fly,
    )
