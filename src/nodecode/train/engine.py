"""The one optimisation loop every trainer runs (codec, CompressAI codec, task, joint), in
the shape of torchvision's references: `train_one_epoch` over a stream of batches.

A trainer supplies an objective (batch → named loss terms, "loss" being the one minimised)
and its optimisers; the engine owns the order of operations, which exact resume depends
on: objective, zero the gradients, backward, clip, step, schedule, then CompressAI's
auxiliary loss.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from tqdm import tqdm

from nodecode.errors import TrainingDivergedError
from nodecode.train.runtime import CsvLog, time_is_up

Objective = Callable[[Any], dict[str, Tensor]]
Postfix = Callable[[dict[str, Tensor]], dict[str, str]]  # loss terms → a progress bar's postfix
# Called after each step with the steps taken in this call and the step's loss terms;
# returning True ends the epoch early (a time limit).
StepHook = Callable[[int, dict[str, Tensor]], bool | None]


@dataclass
class Optimization:
    """What one step updates: the main optimiser and its schedule, optionally gradient
    clipping and CompressAI's auxiliary optimiser (entropy-bottleneck quantiles)."""

    optimizer: Optimizer
    scheduler: LRScheduler
    clip_max_norm: float = 0.0
    clip_parameters: list[Tensor] = field(default_factory=list)
    aux_optimizer: Optimizer | None = None
    aux_loss: Callable[[], Tensor] | None = None


@dataclass
class EpochResult:
    steps: int
    means: dict[str, float]  # each loss term averaged over the steps taken


def train_one_epoch(
    objective: Objective,
    optimization: Optimization,
    batches: Iterable[Any],
    steps: int | None = None,
    on_step: StepHook | None = None,
) -> EpochResult:
    """Up to `steps` optimisation steps (None: until `batches` ends)."""
    sums: dict[str, Tensor] = {}
    taken = 0
    opt, aux = optimization.optimizer, optimization.aux_optimizer
    for batch in itertools.islice(batches, steps):
        terms = objective(batch)
        opt.zero_grad(set_to_none=True)
        if aux is not None:
            aux.zero_grad(set_to_none=True)
        terms["loss"].backward()
        if optimization.clip_max_norm > 0:
            torch.nn.utils.clip_grad_norm_(optimization.clip_parameters, optimization.clip_max_norm)
        opt.step()
        optimization.scheduler.step()
        if aux is not None and optimization.aux_loss is not None:
            aux_loss = optimization.aux_loss()
            aux_loss.backward()
            aux.step()
            terms["aux_loss"] = aux_loss
        taken += 1
        for key, value in terms.items():  # summed on the device: no sync per step
            sums[key] = sums.get(key, 0) + value.detach().double()
        if on_step is not None and on_step(taken, terms):
            break
    return EpochResult(taken, {k: v.item() / taken for k, v in sums.items()})


def epoch_steps(dataset: Any, batch_size: int) -> int:
    """Optimiser steps in an epoch of full batches (at least one)."""
    return max(1, len(dataset) // batch_size)


def require_finite(terms: dict[str, Tensor], step: int) -> None:
    """Stop a diverged run before it logs or checkpoints NaN weights (the value is read on
    the host: call it where a step syncs anyway)."""
    loss = float(terms["loss"].detach())
    if not math.isfinite(loss):
        raise TrainingDivergedError(
            f"the training loss is {loss} at step {step}; the run diverged (lower the learning "
            "rate or clip gradients), and its last checkpoint is from before this step"
        )


def progress_hook(bar: Any, show: Postfix | None = None) -> StepHook:
    """A step hook that advances a tqdm bar and shows the step's loss (or what `show` picks)."""

    def hook(taken: int, terms: dict[str, Tensor]) -> None:
        require_finite(terms, taken)
        bar.update(1)
        bar.set_postfix(show(terms) if show else {"loss": f"{terms['loss'].item():.3f}"})

    return hook


def repeat_epochs(loader: Iterable[Any]) -> Iterator[Any]:
    """A loader's batches, pass after pass (a round of task training spans several)."""
    return itertools.chain.from_iterable(itertools.repeat(loader))


@dataclass
class StepSchedule:
    """When a step-counted run logs, checkpoints and stops."""

    max_steps: int
    log_every: int
    checkpoint_every: int
    time_limit: float | None = None


@dataclass
class StepLog:
    """A step-counted run's CSV log and progress bar."""

    path: Path
    columns: dict[str, str]  # CSV column → loss term
    desc: str
    previous_seconds: float = 0.0  # spent by the earlier chunks of a resumed run


def train_steps(
    objective: Objective,
    optimization: Optimization,
    batches: Iterable[Any],
    step: int,
    schedule: StepSchedule,
    log: StepLog,
    save_state: Callable[[int], None],
) -> int:
    """From `step` to `schedule.max_steps` (or the time limit): the codec trainers' loop.
    Returns the step reached; the state is saved at it."""
    first, start = step, time.time()
    with (
        CsvLog(log.path, log.columns, fresh=step == 0) as csv_log,
        tqdm(total=schedule.max_steps, initial=step, desc=log.desc, unit="step") as bar,
    ):

        def after_step(taken: int, terms: dict[str, Tensor]) -> bool:
            current = first + taken
            bar.update(1)
            last = current == schedule.max_steps
            out_of_time = time_is_up(schedule.time_limit, start)
            logs = current % schedule.log_every == 0 or last
            saves = current % schedule.checkpoint_every == 0 or last or out_of_time
            if logs or saves:
                require_finite(terms, current)
            if logs:
                row = csv_log.write(current, terms, log.previous_seconds + time.time() - start)
                bar.set_postfix({c: f"{v:.4g}" for c, v in zip(log.columns, row[1:], strict=False)})
            if saves:
                save_state(current)
            return out_of_time

        remaining = schedule.max_steps - step
        result = train_one_epoch(objective, optimization, batches, remaining, after_step)
    return first + result.steps
