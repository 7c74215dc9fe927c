"""Shipped task models: small classifiers and segmenters for the demo, by name.

Names are `<network>-<operating point>` (`cresnet51-0.330`, `resnet50-d-0.0983`): each was
trained on the latents (cResNets) or decoded images (ResNets) of the shipped codec
`small-<operating point>` by `nodecode reproduce --preset small` (seed 0), and copied here by
`scripts/ship_demo_models.sh` (docs/RESULTS.md).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from nodecode.errors import ConfigError

if TYPE_CHECKING:
    from nodecode.models.checkpoint import TaskModelInfo, TaskNetwork


def _weights() -> Path:
    return Path(str(resources.files("nodecode.models") / "weights"))


def shipped_task_models() -> list[str]:
    folder = _weights()
    return sorted(p.stem for p in folder.glob("*.safetensors")) if folder.is_dir() else []


# How the shipped task models were made (the module docstring says more).
RECIPE = "nodecode reproduce --preset small  # then scripts/ship_demo_models.sh"


def task_model_info(spec: str) -> TaskModelInfo:
    """What a shipped task model (by name) or a checkpoint says about itself, read from its
    header alone: no weight is loaded."""
    from nodecode.models.checkpoint import TaskModelInfo
    from nodecode.utils.checkpoint import read_meta

    path = _resolve(spec)
    return TaskModelInfo.from_header(path, read_meta(path, ("classifier", "segmenter")))


def _resolve(spec: str) -> Path:
    if spec in shipped_task_models():
        return _weights() / f"{spec}.safetensors"
    if Path(spec).is_file():
        return Path(spec)
    raise ConfigError(
        f"unknown task model {spec!r}: not a file, and not one of {shipped_task_models()}"
    )


def load_task(spec: str, device: str = "cpu") -> tuple[TaskNetwork, TaskModelInfo]:
    """A task model by shipped name or checkpoint path."""
    from nodecode.models.checkpoint import load_task_model

    return load_task_model(_resolve(spec), device)
