"""Resumable training state (model, optimizer, RNG, step) in one safetensors file."""

from __future__ import annotations

import json
import os
from typing import Any

import torch
from torch import nn

from nodecode.utils.checkpoint import load_tensors, save_tensors

KIND = "train-state"


def save_train_state(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    config: dict[str, Any],
) -> None:
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    optim = optimizer.state_dict()
    for index, state in optim["state"].items():
        for key, value in state.items():
            tensors[f"optim/{index}/{key}"] = torch.as_tensor(value)
    tensors["rng/torch"] = torch.get_rng_state()
    meta = {"step": step, "config": config, "param_groups": json.dumps(optim["param_groups"])}
    save_tensors(path, tensors, KIND, meta)


def load_train_state(
    path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[int, dict[str, Any]]:
    """Restore everything saved by `save_train_state`; returns (step, config)."""
    tensors, meta = load_tensors(path, KIND)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, index, name = key.split("/", 2)
            state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": json.loads(meta["param_groups"])})
    torch.set_rng_state(tensors["rng/torch"])
    return int(meta["step"]), meta["config"]
