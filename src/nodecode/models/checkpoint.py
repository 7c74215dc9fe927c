"""Task-model checkpoints (classifiers and segmenters): writing, checking and loading.

In the models layer so that the zoo, inference and the reproduction load trained networks
without importing training code. Files are safetensors; the header is checked before any
tensor is allocated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nodecode.errors import CheckpointError
from nodecode.models import create
from nodecode.models.resnet import LATENT_STRIDE, LATENT_STRIDES, ResNetClassifier
from nodecode.models.segmentation import DeepLabV2
from nodecode.utils.checkpoint import build_and_load, load_tensors, save_tensors
from nodecode.utils.checks import is_finite_number, is_integer

TaskNetwork = ResNetClassifier | DeepLabV2


def write_task_model(path: Path, model: TaskNetwork, meta: dict[str, Any]) -> None:
    kind = "classifier" if meta["task"] == "classification" else "segmenter"
    backbone = model.backbone
    if backbone.on_latents and backbone.input_stride != LATENT_STRIDE:
        meta = {**meta, "latent_stride": backbone.input_stride}  # absent: the paper codec's 8
    if backbone.branches > 1:
        meta = {**meta, "branches": backbone.branches}  # absent: one
    save_tensors(path, model.state_dict(), kind, meta)


# Bounds on an untrusted task checkpoint's header, checked before the model is built.
MAX_CLASSES = 100_000
MAX_IN_CHANNELS = 4096
MAX_MODEL_WIDTH = 16.0


def check_task_meta(path: str | Path, meta: dict[str, Any]) -> None:
    """Types and bounds of the fields that size the network: a clear error, no allocation."""
    missing = [k for k in ("model", "num_classes", "in_channels", "width") if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: header lacks {missing}")

    def in_range(value: Any, top: int) -> bool:
        return is_integer(value) and 1 <= value <= top

    width = meta["width"]
    problems = {
        "model": isinstance(meta["model"], str),
        "num_classes": in_range(meta["num_classes"], MAX_CLASSES),
        "in_channels": in_range(meta["in_channels"], MAX_IN_CHANNELS),
        "width": is_finite_number(width) and 0 < width <= MAX_MODEL_WIDTH,
        "latent_stride": meta.get("latent_stride", LATENT_STRIDE) in LATENT_STRIDES,
        "branches": meta.get("branches", 1) in (1, 2),
    }
    if bad := [k for k, ok in problems.items() if not ok]:
        raise CheckpointError(f"{path}: invalid {', '.join(f'{k}={meta.get(k)!r}' for k in bad)}")
    classes = meta.get("classes")
    if classes is not None and (
        not isinstance(classes, list)
        or len(classes) not in (0, meta["num_classes"])  # empty: names not known
        or not all(isinstance(c, str) for c in classes)
    ):
        raise CheckpointError(f"{path}: class names do not match num_classes={meta['num_classes']}")


def load_task_model(path: str | Path, device: str = "cpu") -> tuple[TaskNetwork, dict[str, Any]]:
    """A trained classifier or segmenter and its metadata, from either kind of checkpoint."""
    tensors, meta = load_tensors(path, ("classifier", "segmenter"), device)
    check_task_meta(path, meta)
    sizes = {k: meta[k] for k in ("num_classes", "in_channels", "width")}
    sizes |= {k: meta[k] for k in ("latent_stride", "branches") if k in meta}
    model = build_and_load(path, lambda: create(meta["model"], **sizes), tensors)
    assert isinstance(model, ResNetClassifier | DeepLabV2)  # every registered network is one
    return model.to(device).eval(), meta
