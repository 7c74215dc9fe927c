"""What every training loop does the same way: device settings and time-limited chunks."""

from __future__ import annotations

import csv
import dataclasses
import platform
import time
from collections.abc import Collection
from pathlib import Path
from types import TracebackType
from typing import Any

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


def same_settings(saved: dict[str, Any], config: Any, ignore: Collection[str] = ()) -> bool:
    """Whether a saved run's settings are `config`'s (a dataclass), leaving out the names in
    `ignore` (settings that may change on resume, record entries beside the settings). A
    setting added to the dataclass after the run was saved matches at its default value, so
    adding an option does not strand every run saved before it."""
    current = {k: v for k, v in dataclasses.asdict(config).items() if k not in ignore}
    saved = {k: v for k, v in saved.items() if k not in ignore}
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    if not set(saved) <= set(current):
        return False
    return all(
        saved[name] == value if name in saved else defaults[name] == value
        for name, value in current.items()
    )


def run_paths(out: Path) -> tuple[Path, Path]:
    """Beside a codec checkpoint `out`: its resumable train state and its CSV log."""
    stem = out.with_suffix("")
    state = stem.with_name(stem.name + ".state" + SUFFIX)
    return state, stem.with_name(stem.name + ".log.csv")


def resume_or_start(
    paths: tuple[Path, Path],
    model: torch.nn.Module,
    optimizers: Any,
    config: Any,
    resume: bool,
    extra: tuple[str, ...] = (),
) -> tuple[int, dict | None]:
    """A step-counted run's start: (saved step, saved record) when resuming a run of the same
    settings (`config`, a dataclass; the RESUMABLE ones may change), else (0, None) with its
    old log removed. `paths` are `run_paths(out)`; `extra` names record entries beside the
    settings."""
    from nodecode.errors import CheckpointError
    from nodecode.train.state import load_train_state

    state_path, log_path = paths
    if resume and state_path.is_file():
        step, saved = load_train_state(state_path, model, optimizers)
        if not same_settings(saved, config, ignore=RESUMABLE | set(extra)):
            raise CheckpointError(f"{state_path}: saved with a different configuration: {saved}")
        return step, saved
    log_path.unlink(missing_ok=True)
    return 0, None


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


class CsvLog:
    """A step-counted run's CSV log: step, the chosen loss terms, cumulative seconds (the
    last column, which `previous_wall_clock` reads back on resume)."""

    def __init__(self, path: Path, columns: dict[str, str], fresh: bool) -> None:
        self.columns = columns  # CSV column → loss term
        self.file = path.open("w" if fresh else "a", newline="")
        self.writer = csv.writer(self.file)
        if fresh:
            self.writer.writerow(["step", *columns, "seconds"])

    def write(self, step: int, terms: dict[str, Any], seconds: float) -> list:
        row = [step, *(terms[k].item() for k in self.columns.values()), round(seconds, 1)]
        self.writer.writerow(row)
        self.file.flush()
        return row

    def __enter__(self) -> CsvLog:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.file.close()


class RunLogger:
    """CSV and TensorBoard logs, written by the main rank only."""

    def __init__(self, out: Path, enabled: bool, fresh: bool) -> None:
        self.enabled = enabled
        if not enabled:
            return
        self.csv_path = out / "log.csv"
        if fresh and self.csv_path.exists():
            self.csv_path.unlink()
        from torch.utils.tensorboard import SummaryWriter

        self.tensorboard = SummaryWriter(str(out / "tensorboard"))

    def log(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        new = not self.csv_path.exists()
        with self.csv_path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        for key, value in row.items():
            if key not in ("round", "epoch", "step"):
                self.tensorboard.add_scalar(key, value, row["step"])
        self.tensorboard.flush()

    def close(self) -> None:
        if self.enabled:
            self.tensorboard.close()
