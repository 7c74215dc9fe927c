"""Datasets encoded once by a codec, in safetensors shards: the paper codec's uint8
symbols, or a CompressAI model's ŷ (and σ̂) in float16, plus the decoded RGB.

cResNet training then never runs the encoder per epoch (App. A.4 trains on stored latents),
and the decoded-RGB baselines see exactly the images those latents decode to. At ImageNet
scale the decoded RGB is most of the bytes (about 190 GB per operating point at 224²
against 32 GB of symbols), so a cache may leave it out (`store_decoded=False`): the
decoded-RGB networks then get the same images from `DecodeLatents`, the codec's decoder run
on each batch where the network runs (on the accelerator).
"""

from __future__ import annotations

import bisect
import itertools
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from torch import nn
from torch.utils.data import Dataset
from tqdm import tqdm

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.files import capped_symbols, pad_to_multiple
from nodecode.codec.rate_control import target_bpp
from nodecode.codec.zoo import Codec, paper_codec_only
from nodecode.data.inputs import LATENT_INPUTS, is_latent_input, select_latents
from nodecode.errors import CheckpointError, ConfigError, NodecodeError, require_same_codec
from nodecode.utils.checkpoint import read_meta, save_tensors

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
    store_decoded: bool = True,
    codec_spec: str | None = None,
    bpp: float | str | None = None,
) -> list[Path]:
    """Encode `dataset` ((image, target) pairs) into shards; returns the shard paths.

    Without `store_decoded` the shards hold latents and targets only, and record
    `codec_spec` (the name or file `load_codec` takes) for decoding them on the fly.
    `bpp` (paper codecs) stores each image's symbols as its file capped at that rate would
    hold them (rate control, codec/rate_control.py): one codec at another codec's rate."""
    folder = Path(folder)
    if bpp is not None:
        bpp = target_bpp(paper_codec_only(codec, "encoding at a capped rate (--bpp)"), bpp)
    if not store_decoded and not isinstance(codec, ConvAutoencoder):
        raise ConfigError(
            "caches without decoded images are for the paper's codecs: "
            f"{codec.name!r} stores ŷ in float16, which its decoder would not reproduce exactly"
        )
    if not store_decoded and not codec_spec:
        raise ConfigError("a cache without decoded images must name its codec (codec_spec)")
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
        "stores_decoded": store_decoded,
    }
    if codec_spec is not None:  # a file by its absolute path, to load from anywhere
        meta["codec_spec"] = str(
            Path(codec_spec).resolve() if Path(codec_spec).is_file() else codec_spec
        )
    if isinstance(codec, ConvAutoencoder):
        meta["centers"] = codec.quantizer.centers.tolist()
    if bpp is not None:
        meta["bpp_cap"] = bpp
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
        meta["image_size"] = [h, w]
        if isinstance(codec, ConvAutoencoder):
            if bpp is None:
                symbols = codec.encode(images.to(device))
            else:  # one file's budget at a time
                symbols = torch.cat([capped_symbols(codec, image, bpp) for image in images])
            buffer["symbols"].append(symbols.to(torch.uint8).cpu())
            if store_decoded:
                decoded = codec.decode(symbols, (h, w))
        else:
            decoded, latents = codec.analyze(pad_to_multiple(images, codec.alignment).to(device))
            decoded = decoded[..., :h, :w]
            for name, latent in latents.items():
                buffer[name].append(latent.to(torch.float16).cpu())
        if store_decoded:
            buffer["decoded"].append(to_levels(decoded).to(torch.uint8).cpu())
        if task == "segmentation":  # masks as bytes (classes and 255, ignore): 1/8 of int64
            if int(targets.min()) < 0 or int(targets.max()) > 255:
                raise ConfigError(f"{task} masks must hold values 0-255, not {targets.unique()}")
            targets = targets.to(torch.uint8)
        buffer["targets"].append(targets)
        if sum(len(t) for t in buffer["targets"]) >= SHARD_SIZE:
            flush()
    flush()
    return paths


def to_levels(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] → their 8-bit levels (as floats): what a cache stores."""
    return images.mul(255).round()


class _Shard:
    """One shard, memory-mapped: items are read as slices, so RAM stays bounded."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.meta = read_meta(path, KIND)
        self._file: Any = None
        try:
            names = list(self.file.keys())
            self.shapes = {k: tuple(self.file.get_slice(k).get_shape()) for k in names}
        except (SafetensorError, OSError, ValueError) as e:
            raise LatentCacheError(f"corrupt latent shard: {path}: {e}") from None
        if "targets" not in self.shapes or not {"symbols", "y_hat"} & set(self.shapes):
            raise LatentCacheError(f"{path}: shard lacks latents or targets")
        if self.meta.get("stores_decoded", True) != ("decoded" in self.shapes):
            raise LatentCacheError(f"{path}: header and tensors disagree on decoded images")
        self.length = self.shapes["targets"][0]
        if any(shape[0] != self.length for shape in self.shapes.values()):
            raise LatentCacheError(f"{path}: tensors of different lengths {self.shapes}")

    @property
    def file(self) -> Any:
        if self._file is None:  # opened lazily: DataLoader workers reopen their own
            self._file = safe_open(str(self.path), framework="pt")
        return self._file

    def read(self, name: str, index: int) -> torch.Tensor:
        try:
            return self.file.get_slice(name)[index : index + 1][0]
        except (SafetensorError, OSError, ValueError) as e:
            raise LatentCacheError(f"corrupt latent shard: {self.path}: {e}") from None

    def read_all(self, name: str) -> torch.Tensor:
        try:
            return self.file.get_tensor(name)
        except (SafetensorError, OSError, ValueError) as e:
            raise LatentCacheError(f"corrupt latent shard: {self.path}: {e}") from None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_file": None}


class LatentCache(Dataset):
    """One split of an encoded dataset, as (input, target), read from its shards on demand
    (memory-mapped), so a dataset larger than RAM trains with bounded memory.

    A latent input (`latent`/`y`: ẑ = centers[symbols] or ŷ; `sigma`: σ̂; `y+sigma`: both
    stacked) gives (C, h, w), what a cResNet reads; `decoded` the decoded image (3, H, W)
    in [0, 1] — or, from a cache that does not store it (`decodes_on_the_fly`), ẑ, which
    `DecodeLatents` turns into that image batch by batch.
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
        try:
            self.shards = [_Shard(path) for path in paths]
        except CheckpointError as e:
            raise LatentCacheError(f"corrupt latent shard: {e}") from None
        if len({s.meta["codec_id"] for s in self.shards}) != 1:
            raise LatentCacheError(f"{folder}: shards of {task}/{split} come from different codecs")
        first = self.shards[0]
        if any(s.shapes.keys() != first.shapes.keys() for s in self.shards):
            raise LatentCacheError(f"{folder}: shards of {task}/{split} hold different tensors")
        self.meta = first.meta
        self.input = input
        self.folder = folder
        # Targets stay in memory as stored (masks as bytes) and widen per item.
        self.targets = torch.cat([s.read_all("targets") for s in self.shards])
        self.starts = list(itertools.accumulate((s.length for s in self.shards), initial=0))
        self.centers = None
        if "symbols" in first.shapes:  # the paper's codec: center indexes
            self.centers = torch.tensor(self.meta["centers"], dtype=torch.float32)
        if is_latent_input(input):  # e.g. σ̂ asked of a codec without a hyperprior
            kinds = ("y_hat",) if self.centers is not None else self._latent_names
            select_latents(input, {n: torch.zeros(1, 1, 1, 1) for n in kinds}, f"{folder}: ")

    @property
    def _latent_names(self) -> tuple[str, ...]:
        return tuple(n for n in ("y_hat", "sigma") if n in self.shards[0].shapes)

    @property
    def latent_stride(self) -> int:
        return int(self.meta.get("latent_stride", 8))

    @property
    def codec_id(self) -> str:
        return self.meta["codec_id"]

    @property
    def stores_decoded(self) -> bool:
        return "decoded" in self.shards[0].shapes

    @property
    def decodes_on_the_fly(self) -> bool:
        """Items of the `decoded` input are latents, for `DecodeLatents` to decode."""
        return self.input == "decoded" and not self.stores_decoded

    @property
    def image_size(self) -> int:
        """Side of the (square) encoded images."""
        if self.stores_decoded:
            return int(self.shards[0].shapes["decoded"][-1])
        return int(self.meta["image_size"][-1])

    @property
    def in_channels(self) -> int:
        """Channels per stem branch: the codec's latent channels, or 3 for images."""
        if self.input == "decoded":
            return 3
        name = "symbols" if self.centers is not None else "y_hat"
        return int(self.shards[0].shapes[name][1])

    def decoder(self, device: str | torch.device = "cpu") -> DecodeLatents:
        """The codec's decoder for this cache's latents, checked to be the codec that wrote
        them: for a cache that `decodes_on_the_fly`."""
        from nodecode.codec.zoo import load_codec

        spec = self.meta.get("codec_spec")
        if spec is None:
            raise LatentCacheError(f"{self.folder}: cache names no codec to decode with")
        try:
            codec = load_codec(spec, device)
        except NodecodeError as e:
            raise LatentCacheError(
                f"{self.folder}: stores no decoded images, and its codec {spec!r} cannot be "
                f"loaded to decode them ({e})"
            ) from None
        require_same_codec(
            self.codec_id,
            codec.identity(),
            f"{self.folder}: codec {spec!r} is not the one that wrote these latents",
        )
        assert isinstance(codec, ConvAutoencoder)  # encode_dataset allows no other
        return DecodeLatents(codec, self.image_size)

    def tensor(self, name: str) -> torch.Tensor:
        """A whole stored tensor (`symbols`, `y_hat`, `sigma`, `decoded`) in memory."""
        return torch.cat([s.read_all(name) for s in self.shards])

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        shard_index = bisect.bisect_right(self.starts, index) - 1
        shard, local = self.shards[shard_index], index - self.starts[shard_index]
        target = self.targets[index].long()
        if self.input == "decoded" and self.stores_decoded:
            return shard.read("decoded", local).float() / 255.0, target
        if self.centers is not None:
            symbols = shard.read("symbols", local).long()
            if int(symbols.max()) >= len(self.centers):
                raise LatentCacheError(
                    f"{shard.path}: symbols out of range for {len(self.centers)} centers"
                )
            return self.centers[symbols], target
        one = {n: shard.read(n, local)[None].float() for n in self._latent_names}
        return select_latents(self.input, one)[0], target


class DecodeLatents(nn.Module):
    """ẑ (N, C, h, w) → the decoded images (N, 3, S, S) in [0, 1] at 8-bit levels: exactly
    what a cache that stores them holds, computed where the network runs. Frozen: it is the
    data, not part of the network, so it never trains and never goes into a checkpoint."""

    def __init__(self, codec: ConvAutoencoder, image_size: int) -> None:
        super().__init__()
        self.codec = codec.eval().requires_grad_(False)
        self.image_size = image_size

    def train(self, mode: bool = True) -> DecodeLatents:
        return self  # always in eval mode

    @torch.no_grad()
    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        size = (self.image_size, self.image_size)
        return to_levels(self.codec.decode_latent(latent.float(), size)) / 255.0
