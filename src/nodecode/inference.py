"""Inference straight from `.ndc` files: entropy-decode to the latent, run the network.

The codec's decoder g_s never runs here: the paper's codec needs only its integer tables
and centers, a CompressAI model its entropy models (and h_s for σ̂).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from nodecode.bitstream.container import NdcHeader
from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.files import pad_to_multiple, read_latents
from nodecode.codec.zoo import Codec
from nodecode.data.inputs import LATENT_INPUTS, is_latent_input, select_latents
from nodecode.errors import CodecMismatchError, ConfigError, NodecodeError, require_same_codec
from nodecode.models.checkpoint import TaskModelInfo
from nodecode.utils.precision import autocast


def check_model_codec(info: TaskModelInfo, codec: Codec, where: str) -> None:
    kind = info.input
    if not is_latent_input(kind):
        raise ConfigError(
            f"{where}: model {info.model} reads {kind} images, not "
            "latents; classify/segment need a cResNet checkpoint"
        )
    if "sigma" in LATENT_INPUTS[kind] and not getattr(codec, "has_scales", False):
        raise ConfigError(f"{where}: model reads σ̂ ({kind}), codec {codec.name!r} has none")
    if info.in_channels != codec.latent_channels:
        raise CodecMismatchError(
            f"{where}: model expects {info.in_channels} latent channels, codec "
            f"{codec.name!r} makes {codec.latent_channels}"
        )
    if (stride := info.latent_stride) != codec.stride:
        raise CodecMismatchError(
            f"{where}: model reads latents at 1/{stride} of the image, codec {codec.name!r} "
            f"makes them at 1/{codec.stride}"
        )
    if info.codec_id:
        require_same_codec(
            info.codec_id,
            codec.identity(),
            f"{where}: model was trained on latents of codec {info.codec!r}, "
            f"file was written by {codec.name!r}",
        )


@torch.no_grad()
def image_latent(codec: Codec, images: torch.Tensor, kind: str) -> torch.Tensor:
    """What a network on latents of `kind` reads for images (N, 3, H, W) in [0, 1]: the
    latents their `.ndc` files would give, computed without writing the files."""
    if isinstance(codec, ConvAutoencoder):
        return codec.dequantize(codec.encode(images))
    _, latents = codec.analyze(pad_to_multiple(images, codec.alignment))
    return select_latents(kind, latents)


Decoded = tuple[Path, NdcHeader, torch.Tensor]


def decoding_device(device: str, workers: int) -> str:
    """Where files' codecs run: with decoding workers, on the CPU (worker processes cannot
    share a GPU's codec); otherwise beside the network."""
    return "cpu" if workers else device


def _decode(info: TaskModelInfo, path: Path, codec: Codec) -> Decoded:
    check_model_codec(info, codec, str(path))
    header, latents = read_latents(codec, path)
    return Path(path), header, select_latents(info.input, latents, f"{path}: ")[0]


class _DecodedFiles(Dataset):
    """Files entropy-decoded in DataLoader workers. Decoding runs on the CPU and, beside a
    GPU network, is most of the latent path (docs/RESULTS.md §7b). A file's error comes back
    as a value, so the user sees its one-line message rather than a worker's traceback."""

    def __init__(self, info: TaskModelInfo, files: list[tuple[Path, Codec]]) -> None:
        self.info, self.files = info, files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Decoded | NodecodeError:
        try:
            return _decode(self.info, *self.files[index])
        except NodecodeError as error:
            return error


def _decoded(
    info: TaskModelInfo, files: Iterable[tuple[Path, Codec]], workers: int
) -> Iterator[tuple[Decoded, int]]:
    """Each file decoded, in order, with its codec's key (files of one codec batch together)."""
    if workers == 0:
        yield from ((_decode(info, path, codec), id(codec)) for path, codec in files)
        return
    pairs = list(files)
    loader = DataLoader(
        _DecodedFiles(info, pairs),
        batch_size=None,
        num_workers=workers,
        prefetch_factor=8,
        generator=torch.Generator(),
    )
    for item, (_, codec) in zip(loader, pairs, strict=True):
        if isinstance(item, NodecodeError):
            raise item
        yield item, id(codec)


@torch.no_grad()
def predict_files(
    model: nn.Module,
    info: TaskModelInfo,
    files: Iterable[tuple[Path, Codec]],
    batch_size: int = 16,
    workers: int = 0,
    precision: str = "fp32",
) -> Iterator[tuple[Path, NdcHeader, torch.Tensor]]:
    """(path, header, probabilities) per file, in order: (K,) for a classifier, (K, H, W)
    for a segmenter. Consecutive files of one codec and one size run as one batch; with
    `workers`, files are entropy-decoded in that many DataLoader workers (codecs on the CPU)
    while the network runs; `precision` "bf16" runs the network under bf16 autocast."""
    device = next(model.parameters()).device
    segmentation = info.task == "segmentation"
    pending: list[Decoded] = []

    def flush() -> Iterator[Decoded]:
        x = torch.stack([latent for _, _, latent in pending]).to(device)
        kwargs = {"output_size": pending[0][1].image_size} if segmentation else {}
        with autocast(device, precision):
            scores = model(x, **kwargs).float()
        probs = scores.softmax(1).cpu()
        yield from ((path, header, p) for (path, header, _), p in zip(pending, probs, strict=True))
        pending.clear()

    key = None
    for (path, header, latent), codec_key in _decoded(info, files, workers):
        new_key = (codec_key, tuple(latent.shape), header.image_size)
        if pending and (new_key != key or len(pending) == batch_size):
            yield from flush()
        key = new_key
        pending.append((path, header, latent))
    if pending:
        yield from flush()


def predict_file(
    model: nn.Module, info: TaskModelInfo, codec: Codec, path: str | os.PathLike
) -> tuple[NdcHeader, torch.Tensor]:
    """Class probabilities (K,) for a classifier, or (K, H, W) for a segmenter."""
    _, header, probs = next(predict_files(model, info, [(Path(path), codec)]))
    return header, probs
