"""Resumable training state (model, optimizers, RNG, step, settings), as torchvision's
references keep it: one `torch.save` dictionary, read back with `weights_only=True` so that
loading never runs code. Released weights stay safetensors (utils/checkpoint.py).

Learning-rate schedulers are not stored: train/schedules.py rebuilds them from the settings
and replays them to the saved step, which also serves a run resumed with more steps."""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nodecode.errors import CheckpointError
from nodecode.utils.checkpoint import require_format_version
from nodecode.utils.io import atomic_path

KIND = "train-state"
FORMAT_VERSION = 2  # 1 was a safetensors file with the optimizer state flattened by hand
SUFFIX = ".pt"
TRAIN_STATE = "train-state" + SUFFIX  # its name in a task or fine-tuning run's folder

Optimizer = torch.optim.Optimizer


def save_train_state(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: Optimizer | Sequence[Optimizer],
    step: int,
    config: dict[str, Any],
) -> None:
    """Atomically write the state; `optimizer` may be several (CompressAI's models train an
    auxiliary one)."""
    optimizers = [optimizer] if isinstance(optimizer, Optimizer) else list(optimizer)
    state = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "step": step,
        "config": config,
        "model": model.state_dict(),
        "optimizers": [opt.state_dict() for opt in optimizers],
        "rng": torch.get_rng_state(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def read_train_state(path: str | os.PathLike) -> dict[str, Any]:
    """The saved dictionary, checked to be a nodecode train state."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such train state")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"{path}: not a readable train state ({reason})") from None
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise CheckpointError(f"{path}: not a nodecode train state")
    require_format_version(path, state, FORMAT_VERSION, "train state")
    return state


def load_train_state(
    path: str | os.PathLike, model: nn.Module, optimizer: Optimizer | Sequence[Optimizer]
) -> tuple[int, dict[str, Any]]:
    """Restore everything saved by `save_train_state`; returns (step, config)."""
    optimizers = [optimizer] if isinstance(optimizer, Optimizer) else list(optimizer)
    state = read_train_state(path)
    if len(state["optimizers"]) != len(optimizers):
        raise CheckpointError(
            f"{path}: train state holds {len(state['optimizers'])} optimizers, "
            f"this run has {len(optimizers)}"
        )
    try:
        model.load_state_dict(state["model"])
        for opt, saved in zip(optimizers, state["optimizers"], strict=True):
            opt.load_state_dict(saved)
    except (RuntimeError, ValueError, KeyError) as e:
        reason = str(e).splitlines()[0]
        raise CheckpointError(f"{path}: does not fit this run's model ({reason})") from None
    torch.set_rng_state(state["rng"])
    return int(state["step"]), state["config"]


def saved_step(path: str | os.PathLike) -> int:
    """The step a train state was saved at (0 when there is none)."""
    if not os.path.isfile(path):
        return 0
    return int(read_train_state(path)["step"])
