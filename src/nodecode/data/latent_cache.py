"""Datasets encoded once by a codec: uint8 symbols (+ decoded RGB) in safetensors shards.

cResNet training then never runs the encoder per epoch (App. A.4 trains on stored latents),
and the decoded-RGB baselines see exactly the images those latents decode to.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.errors import CheckpointError, ConfigError, NodecodeError
from nodecode.utils.checkpoint import load_tensors, save_tensors

KIND = "latent-shard"
SHARD_SIZE = 4096


class LatentCacheError(NodecodeError):
    """A latent cache is missing, corrupt, or was written by another codec."""


def shard_paths(folder: Path, task: str, split: str) -> list[Path]:
    return sorted(Path(folder).glob(f"{task}-{split}-*.safetensors"))


@torch.no_grad()
def encode_dataset(
    codec: ConvAutoencoder,
    dataset: Dataset,
    folder: str | os.PathLike,
    task: str,
    split: str,
    batch_size: int = 64,
    classes: tuple[str, ...] = (),
) -> list[Path]:
    """Encode `dataset` ((image, target) pairs) into shards; returns the shard paths."""
    folder = Path(folder)
    for stale in shard_paths(folder, task, split):
        stale.unlink()
    device = next(codec.parameters()).device
    meta = {
        "codec": codec.name,
        "codec_id": codec.identity().hex(),
        "task": task,
        "split": split,
        "centers": codec.quantizer.centers.tolist(),
        "classes": list(classes),
    }
    paths, buffer = [], {"symbols": [], "decoded": [], "targets": []}
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)

    def flush() -> None:
        if buffer["targets"]:
            path = folder / f"{task}-{split}-{len(paths):03d}.safetensors"
            save_tensors(path, {k: torch.cat(v) for k, v in buffer.items()}, KIND, meta)
            paths.append(path)
            for v in buffer.values():
                v.clear()

    for images, targets in tqdm(loader, desc=f"encode {task}/{split}", unit="batch", leave=False):
        symbols = codec.encode(images.to(device))
        decoded = codec.decode(symbols, tuple(images.shape[-2:]))
        buffer["symbols"].append(symbols.to(torch.uint8).cpu())
        buffer["decoded"].append(decoded.mul(255).round().to(torch.uint8).cpu())
        buffer["targets"].append(targets)
        if sum(len(t) for t in buffer["targets"]) >= SHARD_SIZE:
            flush()
    flush()
    return paths


class LatentCache(Dataset):
    """One split of an encoded dataset, as (input, target).

    `input="latent"` gives ẑ = centers[symbols] (C, h, w), what a cResNet reads;
    `input="decoded"` gives the decoded image (3, H, W) in [0, 1].
    """

    def __init__(self, folder: str | os.PathLike, task: str, split: str, input: str = "latent"):
        if input not in ("latent", "decoded"):
            raise ConfigError(f"latent cache input must be 'latent' or 'decoded', not {input!r}")
        paths = shard_paths(Path(folder), task, split)
        if not paths:
            raise LatentCacheError(
                f"{folder}: no {task}/{split} shards; create them with `nodecode encode-dataset`"
            )
        parts, metas = [], []
        for path in paths:
            try:
                tensors, meta = load_tensors(path, KIND)
            except CheckpointError as e:
                raise LatentCacheError(f"corrupt latent shard: {e}") from None
            if {"symbols", "decoded", "targets"} - set(tensors):
                raise LatentCacheError(f"{path}: shard lacks symbols, decoded or targets")
            parts.append(tensors)
            metas.append(meta)
        if len({m["codec_id"] for m in metas}) != 1:
            raise LatentCacheError(f"{folder}: shards of {task}/{split} come from different codecs")
        self.meta = metas[0]
        self.input = input
        self.centers = torch.tensor(self.meta["centers"], dtype=torch.float32)
        self.symbols = torch.cat([p["symbols"] for p in parts])
        self.decoded = torch.cat([p["decoded"] for p in parts])
        self.targets = torch.cat([p["targets"] for p in parts]).long()
        if int(self.symbols.max()) >= len(self.centers):
            raise LatentCacheError(
                f"{folder}: symbols out of range for {len(self.centers)} centers"
            )

    @property
    def codec_id(self) -> str:
        return self.meta["codec_id"]

    @property
    def in_channels(self) -> int:
        return self.symbols.shape[1] if self.input == "latent" else 3

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.input == "latent":
            return self.centers[self.symbols[index].long()], self.targets[index]
        return self.decoded[index].float() / 255.0, self.targets[index]
