"""Inference straight from `.ndc` files: entropy-decode to the latent, run the network.

The codec's decoder g_s never runs here; only the integer tables and the centers are used.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from nodecode.bitstream.container import NdcHeader
from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.files import read_latent
from nodecode.errors import CodecMismatchError, ConfigError


def check_model_codec(meta: dict[str, Any], codec: ConvAutoencoder, where: str) -> None:
    if meta["input"] != "latent":
        raise ConfigError(
            f"{where}: model {meta['model']} reads {meta['input']} images, not "
            "latents; classify/segment need a cResNet checkpoint"
        )
    if meta["in_channels"] != codec.config.latent_channels:
        raise CodecMismatchError(
            f"{where}: model expects {meta['in_channels']} latent channels, codec "
            f"{codec.name!r} makes {codec.config.latent_channels}"
        )
    if meta.get("codec_id") and meta["codec_id"] != codec.identity().hex():
        raise CodecMismatchError(
            f"{where}: model was trained on latents of codec {meta.get('codec')!r}, "
            f"file was written by {codec.name!r}"
        )


@torch.no_grad()
def predict_file(
    model: nn.Module, meta: dict[str, Any], codec: ConvAutoencoder, path: str | os.PathLike
) -> tuple[NdcHeader, torch.Tensor]:
    """Class probabilities (K,) for a classifier, or (K, H, W) for a segmenter."""
    check_model_codec(meta, codec, str(path))
    header, latent = read_latent(codec, path)
    device = next(model.parameters()).device
    x = latent.unsqueeze(0).to(device)
    if meta["task"] == "segmentation":
        scores = model(x, output_size=header.image_size)[0]
        return header, scores.softmax(0).cpu()
    return header, model(x)[0].softmax(0).cpu()
