"""Checkpoints as safetensors with a JSON header: no pickle, so loading never runs code."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from nodecode.errors import CheckpointError
from nodecode.utils.io import atomic_path

M = TypeVar("M", bound=nn.Module)
META_KEY = "nodecode"
FORMAT_VERSION = 1


def save_tensors(
    path: str | os.PathLike, tensors: dict[str, torch.Tensor], kind: str, meta: dict[str, Any]
) -> None:
    """Atomically write tensors plus `meta` (JSON) tagged with a checkpoint `kind`."""
    header = {"kind": kind, "format_version": FORMAT_VERSION, **meta}
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(header, sort_keys=True)})


def save_half_precision(
    source: str | os.PathLike, target: str | os.PathLike, kind: str | tuple[str, ...]
) -> None:
    """A copy of a checkpoint with its floating-point tensors stored in half precision, for
    shipping in half the bytes; the header is kept and says so (`storage`). Loaders copy the
    values into full-precision parameters, so the network computes as before up to the
    rounding of its weights (what that costs is measured before anything ships)."""
    tensors, meta = load_tensors(source, kind)
    half = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    header = {k: v for k, v in meta.items() if k not in ("kind", "format_version")}
    save_tensors(target, half, meta["kind"], {**header, "storage": "float16"})


def read_meta(path: str | os.PathLike, kind: str | tuple[str, ...]) -> dict[str, Any]:
    """Read and check the JSON header (of one of the `kind`s) without loading any tensor."""
    kinds = (kind,) if isinstance(kind, str) else kind
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(META_KEY)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors checkpoint ({e})") from None
    if raw is None:
        raise CheckpointError(f"{path}: safetensors file has no nodecode header")
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        raise CheckpointError(f"{path}: nodecode header is not valid JSON") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: nodecode header is not a JSON object")
    if meta.get("kind") not in kinds:
        expected = " or ".join(repr(k) for k in kinds)
        raise CheckpointError(f"{path}: is a {meta.get('kind')!r} checkpoint, expected {expected}")
    require_format_version(path, meta, FORMAT_VERSION, "checkpoint")
    return meta


def require_format_version(
    path: str | os.PathLike, header: dict[str, Any], version: int, what: str
) -> None:
    """The header's format is the one this nodecode writes: a file from another version is
    refused by name, before any of its fields is trusted."""
    if header.get("format_version") != version:
        raise CheckpointError(
            f"{path}: {what} format {header.get('format_version')} is not supported"
        )


def load_tensors(
    path: str | os.PathLike, kind: str | tuple[str, ...], device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    meta = read_meta(path, kind)
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: corrupted checkpoint ({e})") from None
    return tensors, meta


def build_and_load(
    path: str | os.PathLike, build: Callable[[], M], tensors: dict[str, torch.Tensor]
) -> M:
    """The module the header describes, holding the file's tensors.

    The module is first built on the meta device and its parameter names and shapes are
    compared with the file's: a header that claims a huge network (width 1e6, 1e9 classes)
    allocates nothing, and memory stays bounded by the file's size."""
    with torch.device("meta"):
        skeleton = build()
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    if expected != found:
        raise CheckpointError(
            f"{path}: weights do not match its header ({_first_difference(expected, found)})"
        )
    module = build()
    try:
        module.load_state_dict(tensors, strict=True)
    except (RuntimeError, TypeError) as e:
        raise CheckpointError(f"{path}: unusable weights ({str(e).splitlines()[0]})") from None
    return module


def _first_difference(expected: dict[str, tuple], found: dict[str, tuple]) -> str:
    if missing := sorted(expected.keys() - found.keys()):
        return f"{len(missing)} tensors missing, e.g. {missing[0]!r}"
    if unexpected := sorted(found.keys() - expected.keys()):
        return f"{len(unexpected)} unexpected tensors, e.g. {unexpected[0]!r}"
    key = next(k for k in expected if expected[k] != found[k])
    return f"{key!r} has shape {list(found[key])}, the header implies {list(expected[key])}"
