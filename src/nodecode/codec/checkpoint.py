"""Save and load codecs: safetensors weights and tables, config as JSON in the header."""

from __future__ import annotations

import json
import os

import torch

from nodecode.bitstream.tables import table_problem
from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.config import CodecConfig
from nodecode.errors import CheckpointError, ConfigError
from nodecode.utils.checkpoint import build_and_load, load_tensors, save_tensors

KIND = "codec"


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
    try:
        config = CodecConfig.from_dict(json.loads(meta["config"]))
    except (KeyError, ValueError, TypeError, ConfigError) as e:
        raise CheckpointError(f"{path}: invalid codec config ({e})") from None
    name = str(meta.get("name", "custom"))
    codec = build_and_load(path, lambda: ConvAutoencoder(config, name=name), tensors)
    if problem := table_problem(codec.cdfs):
        raise CheckpointError(f"{path}: invalid frequency tables ({problem})")
    return codec.to(device).eval()
