"""Shipped task models: small classifiers and segmenters for the demo, by name.

Names are `<network>-<operating point>` (`cresnet51-0.330`, `resnet50-d-0.0983`): each was
trained on the latents (cResNets) or decoded images (ResNets) of the shipped codec
`small-<operating point>` by `nodecode reproduce --preset small` (seed 0), and copied here by
`scripts/ship_demo_models.sh` (docs/RESULTS.md).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from torch import nn

from nodecode.errors import ConfigError


def _weights() -> Path:
    return Path(str(resources.files("nodecode.models") / "weights"))


def shipped_task_models() -> list[str]:
    folder = _weights()
    return sorted(p.stem for p in folder.glob("*.safetensors")) if folder.is_dir() else []


def load_task(spec: str, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """A task model by shipped name or checkpoint path."""
    from nodecode.models.checkpoint import load_task_model

    if spec in shipped_task_models():
        return load_task_model(_weights() / f"{spec}.safetensors", device)
    if Path(spec).is_file():
        return load_task_model(spec, device)
    raise ConfigError(
        f"unknown task model {spec!r}: not a file, and not one of {shipped_task_models()}"
    )
