"""Named codecs: shipped small models and untrained paper-width builders (a registry by name)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.checkpoint import load_codec_checkpoint
from nodecode.codec.config import OPERATING_POINTS, operating_point
from nodecode.errors import ConfigError

SMALL_WIDTH = 0.5
_WEIGHTS = "weights"


def _shipped_path(name: str) -> Path:
    return Path(str(resources.files("nodecode.codec") / _WEIGHTS / f"{name}.safetensors"))


def shipped_codecs() -> list[str]:
    """Small codecs trained on the bundled photos (see docs/RESULTS.md for the commands)."""
    return [f"small-{op}" for op in OPERATING_POINTS if _shipped_path(f"small-{op}").is_file()]


def paper_codec(op: str) -> ConvAutoencoder:
    """Untrained codec at the paper's widths (64/128) for operating point `op`."""
    return ConvAutoencoder(operating_point(op).codec_config(width=1.0), name=f"paper-{op}")


def list_codecs() -> list[str]:
    return shipped_codecs() + [f"paper-{op}" for op in OPERATING_POINTS]


def load_codec(spec: str | Path, device: str | torch.device = "cpu") -> ConvAutoencoder:
    """A codec from a registry name (`small-0.330`, `paper-0.635`) or a checkpoint path."""
    spec = str(spec)
    if spec in shipped_codecs():
        return load_codec_checkpoint(_shipped_path(spec), device)
    if spec.startswith("paper-") and spec[len("paper-") :] in OPERATING_POINTS:
        return paper_codec(spec[len("paper-") :]).to(device)
    if Path(spec).is_file():
        return load_codec_checkpoint(spec, device)
    raise ConfigError(f"unknown codec {spec!r}: not a file, and not one of {list_codecs()}")
