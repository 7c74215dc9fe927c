"""Datasets encoded once by a codec, in safetensors shards: the paper codec's uint8
symbols, or a CompressAI model's ŷ (and σ̂) in float16, plus the decoded RGB.

cResNet training then never runs the encoder per epoch (App. A.4 trains on stored latents),
and the decoded-RGB baselines see exactly the images those latents decode to.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.files import pad_to_multiple
from nodecode.codec.zoo import Codec
from nodecode.errors import CheckpointError, ConfigError, NodecodeError
from nodecode.models.inputs import LATENT_INPUTS, is_latent_input, select_latents
from nodecode.utils.checkpoint import load_tensors, save_tensors

KIND = "latent-shard"
SHARD_SIZE = 4096


class LatentCacheError(NodecodeError):
    """A latent cache is missing, corrupt, or was written by another codec."""


def shard_paths(folder: Path, task: str, split: str) -> list[Path]:
    return sorted(Path(folder).glob(f"{task}-{split}-*.safetensors"))


@torch.no_grad()
def encode_dataset(
    codec: Codec,
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
        "latent_stride": codec.stride,
        "classes": list(classes),
    }
    if isinstance(codec, ConvAutoencoder):
        meta["centers"] = codec.quantizer.centers.tolist()
    paths: list[Path] = []
    buffer: dict[str, list[torch.Tensor]] = defaultdict(list)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)

    def flush() -> None:
        if buffer["targets"]:
            path = folder / f"{task}-{split}-{len(paths):03d}.safetensors"
            save_tensors(path, {k: torch.cat(v) for k, v in buffer.items()}, KIND, meta)
            paths.append(path)
            for v in buffer.values():
                v.clear()

    for images, targets in tqdm(loader, desc=f"encode {task}/{split}", unit="batch", leave=False):
        h, w = images.shape[-2:]
        if isinstance(codec, ConvAutoencoder):
            symbols = codec.encode(images.to(device))
            decoded = codec.decode(symbols, (h, w))
            buffer["symbols"].append(symbols.to(torch.uint8).cpu())
        else:
            decoded, latents = codec.analyze(pad_to_multiple(images, codec.alignment).to(device))
            decoded = decoded[..., :h, :w]
            for name, latent in latents.items():
                buffer[name].append(latent.to(torch.float16).cpu())
        buffer["decoded"].append(decoded.mul(255).round().to(torch.uint8).cpu())
        buffer["targets"].append(targets)
        if sum(len(t) for t in buffer["targets"]) >= SHARD_SIZE:
            flush()
    flush()
    return paths


class LatentCache(Dataset):
    """One split of an encoded dataset, as (input, target).

    A latent input (`latent`/`y`: ẑ = centers[symbols] or ŷ; `sigma`: σ̂; `y+sigma`: both
    stacked) gives (C, h, w), what a cResNet reads; `decoded` the decoded image (3, H, W)
    in [0, 1].
    """

    def __init__(self, folder: str | os.PathLike, task: str, split: str, input: str = "latent"):
        if not (is_latent_input(input) or input == "decoded"):
            raise ConfigError(
                f"latent cache input must be one of {[*LATENT_INPUTS, 'decoded']}, not {input!r}"
            )
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
            if {"decoded", "targets"} - set(tensors) or not {"symbols", "y_hat"} & set(tensors):
                raise LatentCacheError(f"{path}: shard lacks latents, decoded or targets")
            parts.append(tensors)
            metas.append(meta)
        if len({m["codec_id"] for m in metas}) != 1:
            raise LatentCacheError(f"{folder}: shards of {task}/{split} come from different codecs")
        self.meta = metas[0]
        self.input = input
        self.decoded = torch.cat([p["decoded"] for p in parts])
        self.targets = torch.cat([p["targets"] for p in parts]).long()
        self.symbols = self.centers = None
        self.latents: dict[str, torch.Tensor] = {}
        if "symbols" in parts[0]:  # the paper's codec: center indexes
            self.centers = torch.tensor(self.meta["centers"], dtype=torch.float32)
            self.symbols = torch.cat([p["symbols"] for p in parts])
            if int(self.symbols.max()) >= len(self.centers):
                raise LatentCacheError(
                    f"{folder}: symbols out of range for {len(self.centers)} centers"
                )
        else:
            names = [n for n in ("y_hat", "sigma") if n in parts[0]]
            self.latents = {n: torch.cat([p[n] for p in parts]) for n in names}
        if is_latent_input(input):  # e.g. σ̂ asked of a codec without a hyperprior
            kinds = ("y_hat",) if self.symbols is not None else tuple(self.latents)
            select_latents(input, {n: torch.zeros(1, 1, 1, 1) for n in kinds}, f"{folder}: ")

    @property
    def latent_stride(self) -> int:
        return int(self.meta.get("latent_stride", 8))

    @property
    def codec_id(self) -> str:
        return self.meta["codec_id"]

    @property
    def in_channels(self) -> int:
        """Channels per stem branch: the codec's latent channels, or 3 for images."""
        if self.input == "decoded":
            return 3
        return (self.symbols if self.symbols is not None else self.latents["y_hat"]).shape[1]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.input == "decoded":
            return self.decoded[index].float() / 255.0, self.targets[index]
        if self.symbols is not None and self.centers is not None:
            return self.centers[self.symbols[index].long()], self.targets[index]
        one = {n: t[index : index + 1].float() for n, t in self.latents.items()}
        return select_latents(self.input, one)[0], self.targets[index]
