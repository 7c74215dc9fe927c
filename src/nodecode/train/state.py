"""Resumable training state (model, optimizers, RNG, step) in one safetensors file."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from nodecode.errors import CheckpointError
from nodecode.utils.checkpoint import load_tensors, read_meta, save_tensors

KIND = "train-state"


Optimizer = torch.optim.Optimizer


def _prefix(index: int) -> str:
    """Tensor-name prefix of the `index`-th optimizer (the first keeps the original name)."""
    return "optim/" if index == 0 else f"optim{index}/"


def _meta_key(index: int) -> str:
    return "param_groups" if index == 0 else f"param_groups{index}"


def save_train_state(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: Optimizer | Sequence[Optimizer],
    step: int,
    config: dict[str, Any],
) -> None:
    """`optimizer` may be several (CompressAI's models train an auxiliary one)."""
    optimizers = [optimizer] if isinstance(optimizer, Optimizer) else list(optimizer)
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    meta: dict[str, Any] = {"step": step, "config": config}
    for i, opt in enumerate(optimizers):
        optim = opt.state_dict()
        for index, state in optim["state"].items():
            for key, value in state.items():
                tensors[f"{_prefix(i)}{index}/{key}"] = torch.as_tensor(value)
        meta[_meta_key(i)] = json.dumps(optim["param_groups"])
    tensors["rng/torch"] = torch.get_rng_state()
    save_tensors(path, tensors, KIND, meta)


def load_train_state(
    path: str | os.PathLike, model: nn.Module, optimizer: Optimizer | Sequence[Optimizer]
) -> tuple[int, dict[str, Any]]:
    """Restore everything saved by `save_train_state`; returns (step, config)."""
    optimizers = [optimizer] if isinstance(optimizer, Optimizer) else list(optimizer)
    tensors, meta = load_tensors(path, KIND)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")})
    for i, opt in enumerate(optimizers):
        prefix = _prefix(i)
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith(prefix):
                index, name = key[len(prefix) :].split("/", 1)
                state.setdefault(int(index), {})[name] = value
        if _meta_key(i) not in meta:
            raise CheckpointError(f"{path}: train state holds no optimizer number {i + 1}")
        groups = json.loads(meta[_meta_key(i)])
        opt.load_state_dict({"state": state, "param_groups": groups})
    torch.set_rng_state(tensors["rng/torch"])
    return int(meta["step"]), meta["config"]


def saved_step(path: str | os.PathLike) -> int:
    """The step a train state was saved at (0 when there is none), read from its header."""
    if not os.path.isfile(path):
        return 0
    return int(read_meta(path, KIND)["step"])
