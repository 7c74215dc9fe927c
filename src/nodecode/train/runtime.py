"""What every training loop does the same way: device settings and time-limited chunks."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import torch

from nodecode.train.state import SUFFIX

# Settings that may change on resume without changing what is being trained.
RESUMABLE = {
    "max_steps",
    "checkpoint_every",
    "log_every",
    "lr_decay_fraction",
    "workers",
    "time_limit",
}


def run_paths(out: Path) -> tuple[Path, Path]:
    """Beside a codec checkpoint `out`: its resumable train state and its CSV log."""
    stem = out.with_suffix("")
    state = stem.with_name(stem.name + ".state" + SUFFIX)
    return state, stem.with_name(stem.name + ".log.csv")


def run_identity(config: dict) -> dict:
    """What a run trains, for the resume check: the settings outside RESUMABLE (unset ones
    left out, so a state saved before a setting existed still matches)."""
    return {k: v for k, v in config.items() if k not in RESUMABLE and v is not None}


def prepare_device(device: torch.device) -> None:
    """cuDNN autotuning and TF32 on GPUs: training crops have one fixed size, so the tuned
    kernels are reused for every step."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def time_is_up(limit: float | None, start: float) -> bool:
    """Whether a chunk given `limit` seconds (None: no limit) since `start` should stop."""
    return limit is not None and time.time() - start >= limit


def previous_wall_clock(log_path: Path) -> float:
    """Seconds already spent by the run being resumed (last row of its log)."""
    if not log_path.is_file():
        return 0.0
    rows = log_path.read_text().strip().splitlines()
    try:
        return float(rows[-1].split(",")[-1]) if len(rows) > 1 else 0.0
    except ValueError:
        return 0.0


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    return f"{device.type}: {cpu}, {torch.get_num_threads()} threads"

