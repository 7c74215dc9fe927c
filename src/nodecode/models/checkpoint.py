"""Task-model checkpoints (classifiers and segmenters): writing, checking and loading.

In the models layer so that the zoo, inference and the reproduction load trained networks
without importing training code. Files are safetensors; the header is checked before any
tensor is allocated."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodecode.data.inputs import is_latent_input
from nodecode.errors import CheckpointError
from nodecode.models import create
from nodecode.models.resnet import LATENT_STRIDE, LATENT_STRIDES, ResNetClassifier
from nodecode.models.segmentation import DeepLabV2
from nodecode.utils.checkpoint import build_and_load, load_tensors, save_tensors
from nodecode.utils.checks import is_finite_number, is_integer

TaskNetwork = ResNetClassifier | DeepLabV2


@dataclass(frozen=True)
class TaskModelInfo:
    """What a task checkpoint says about its network: what it is, what it reads, and what
    it was trained on. Read from the header before any weight is loaded."""

    model: str  # registry name: cresnet51, resnet50-d, …
    task: str  # classification or segmentation
    input: str  # rgb, decoded, latent, y, sigma or y+sigma (data/inputs.py)
    num_classes: int
    in_channels: int
    width: float
    classes: tuple[str, ...] = ()  # empty: names not known
    data: str | None = None
    latents: str | None = None
    codec: str | None = None  # the codec's name, for loading it
    codec_id: str | None = None  # its identity (hex), for checking it
    metrics: dict[str, Any] = field(default_factory=dict)
    latent_stride: int = LATENT_STRIDE
    branches: int = 1
    crop: int | None = None  # trained on random crops of this size; evaluated on the centre

    @property
    def on_latents(self) -> bool:
        return is_latent_input(self.input)

    @property
    def class_names(self) -> list[str]:
        return list(self.classes) or [str(i) for i in range(self.num_classes)]

    @property
    def kind(self) -> str:
        return "classifier" if self.task == "classification" else "segmenter"

    @classmethod
    def from_header(cls, path: str | Path, meta: dict[str, Any]) -> TaskModelInfo:
        """Checked: a clear error naming `path` for a header that cannot size a network."""
        check_task_meta(path, meta)
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in meta.items() if k in names}
        known["classes"] = tuple(meta.get("classes") or ())
        known["metrics"] = dict(meta.get("metrics") or {})
        return cls(**known)

    def header(self) -> dict[str, Any]:
        """The JSON header; the stride and branch count only where they differ from the
        paper codec's single latent (older readers then see the same header as before)."""
        meta = dataclasses.asdict(self)
        meta["classes"] = list(self.classes)
        if meta["latent_stride"] == LATENT_STRIDE:
            del meta["latent_stride"]
        if meta["branches"] == 1:
            del meta["branches"]
        if meta["crop"] is None:
            del meta["crop"]
        return meta


def write_task_model(path: Path, model: TaskNetwork, info: TaskModelInfo) -> None:
    backbone = model.backbone
    stride = backbone.input_stride if backbone.on_latents else LATENT_STRIDE
    info = dataclasses.replace(info, latent_stride=stride, branches=backbone.branches)
    save_tensors(path, model.state_dict(), info.kind, info.header())


# Bounds on an untrusted task checkpoint's header, checked before the model is built.
MAX_CLASSES = 100_000
MAX_IN_CHANNELS = 4096
MAX_MODEL_WIDTH = 16.0
MAX_CROP = 1 << 16


def check_task_meta(path: str | Path, meta: dict[str, Any]) -> None:
    """Types and bounds of every field TaskModelInfo holds (those that size the network
    first of all): a clear error, no allocation."""
    required = ("model", "task", "input", "num_classes", "in_channels", "width")
    missing = [k for k in required if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: header lacks {missing}")

    def in_range(value: Any, top: int) -> bool:
        return is_integer(value) and 1 <= value <= top

    width = meta["width"]
    problems = {
        "model": isinstance(meta["model"], str),
        "task": meta["task"] in ("classification", "segmentation"),
        "input": isinstance(meta["input"], str),
        "num_classes": in_range(meta["num_classes"], MAX_CLASSES),
        "in_channels": in_range(meta["in_channels"], MAX_IN_CHANNELS),
        "width": is_finite_number(width) and 0 < width <= MAX_MODEL_WIDTH,
        "latent_stride": meta.get("latent_stride", LATENT_STRIDE) in LATENT_STRIDES,
        "branches": meta.get("branches", 1) in (1, 2),
        "crop": meta.get("crop") is None or in_range(meta["crop"], MAX_CROP),
        "metrics": isinstance(meta.get("metrics", {}), dict),
        **{
            k: isinstance(meta.get(k), str | None) for k in ("data", "latents", "codec", "codec_id")
        },
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


def load_task_model(path: str | Path, device: str = "cpu") -> tuple[TaskNetwork, TaskModelInfo]:
    """A trained classifier or segmenter and what its header says, from either kind."""
    tensors, meta = load_tensors(path, ("classifier", "segmenter"), device)
    info = TaskModelInfo.from_header(path, meta)
    sizes: dict[str, Any] = {"num_classes": info.num_classes, "in_channels": info.in_channels}
    sizes |= {"width": info.width, "latent_stride": info.latent_stride, "branches": info.branches}
    model = build_and_load(path, lambda: create(info.model, **sizes), tensors)
    assert isinstance(model, ResNetClassifier | DeepLabV2)  # every registered network is one
    return model.to(device).eval(), info
