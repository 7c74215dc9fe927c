"""Save and load codecs: safetensors weights and tables, config as JSON in the header."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import torch

from nodecode.bitstream.tables import table_problem
from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.config import CodecConfig
from nodecode.errors import CheckpointError, ConfigError
from nodecode.utils.checkpoint import build_and_load, load_tensors, read_meta, save_tensors

KIND = "codec"


@dataclass(frozen=True)
class CodecInfo:
    """What a codec checkpoint's header says: its name, its configuration, and how it was
    trained (data, steps, batch, crop, device, wall-clock; empty when not recorded)."""

    name: str
    config: CodecConfig
    training: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_header(cls, path: str | os.PathLike, meta: dict[str, Any]) -> CodecInfo:
        try:
            config = CodecConfig.from_dict(json.loads(meta["config"]))
            training = json.loads(meta.get("training", "{}"))
        except (KeyError, ValueError, TypeError, ConfigError) as e:
            raise CheckpointError(f"{path}: invalid codec config ({e})") from None
        if not isinstance(training, dict):
            raise CheckpointError(f"{path}: invalid training record")
        return cls(str(meta.get("name", "custom")), config, training)


def read_codec_info(path: str | os.PathLike) -> CodecInfo:
    """The header alone: no tensor is loaded."""
    return CodecInfo.from_header(path, read_meta(path, KIND))


def save_codec(
    codec: ConvAutoencoder, path: str | os.PathLike, training: dict | None = None
) -> None:
    """`training` (data, steps, batch, crop, device, wall-clock) goes into the header as JSON."""
    meta = {"name": codec.name, "config": codec.config.to_json()}
    if training is not None:
        meta["training"] = json.dumps(training, sort_keys=True)
    save_tensors(path, codec.state_dict(), KIND, meta)


def load_codec_checkpoint(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> ConvAutoencoder:
    tensors, meta = load_tensors(path, KIND, device)
    info = CodecInfo.from_header(path, meta)
    codec = build_and_load(path, lambda: ConvAutoencoder(info.config, name=info.name), tensors)
    for tables in codec.entropy_tables():
        if problem := table_problem(tables):
            raise CheckpointError(f"{path}: invalid frequency tables ({problem})")
    return codec.to(device).eval()
