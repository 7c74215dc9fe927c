"""The learning-rate schedules of every trainer, built from torch.optim.lr_scheduler.

Each is a function of the step and the run's settings, stepped once after each optimizer
step. On resume a trainer rebuilds its scheduler and replays it to the saved step
(`replayed`): the learning rates are then those of an uninterrupted run with the current
settings, also when a codec run is extended with a larger --max-steps.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    PolynomialLR,
    SequentialLR,
)

# The paper's joint fine-tuning (App. A.8: 9 epochs, ÷10 every 3) as fractions of any run.
THIRDS = (1 / 3, 2 / 3)
# ResNet training on latents (App. A.4: ÷10 at epochs 8, 16 and 24 of 28).
RESNET_EPOCHS = (8 / 28, 16 / 28, 24 / 28)


def step_decay(optimizer: Optimizer, total: int, fractions: Sequence[float]) -> MultiStepLR:
    """÷10 at each of `fractions` of a `total`-step run."""
    return MultiStepLR(optimizer, [round(total * f) for f in fractions], gamma=0.1)


def thirds(optimizer: Optimizer, total: int) -> MultiStepLR:
    """§6's fine-tuning schedule: ÷10 after each third of the run."""
    return step_decay(optimizer, total, THIRDS)


def final_decay(optimizer: Optimizer, total: int, decay_fraction: float) -> MultiStepLR:
    """÷10 for the last `decay_fraction` of the run (0: constant, the paper's codec recipe).
    A fixed point rather than a plateau detector, so a resumed run decays where it would have."""
    start = total * (1.0 - decay_fraction)
    milestones = [math.ceil(start)] if decay_fraction > 0 and start > 0 else []
    return MultiStepLR(optimizer, milestones, gamma=0.1)


def poly(optimizer: Optimizer, total: int, power: float = 0.9) -> PolynomialLR:
    """DeepLab's "poly" decay (App. A.5): lr · (1 − step/total)^0.9."""
    return PolynomialLR(optimizer, total_iters=total, power=power)


def warmup_cosine(optimizer: Optimizer, total: int, warmup_fraction: float) -> SequentialLR:
    """Linear warm-up from lr/warmup over the first `warmup_fraction` of the run, then
    cosine decay to 0."""
    warmup = max(1, round(warmup_fraction * total))
    ramp = LinearLR(optimizer, start_factor=1 / warmup, total_iters=warmup - 1)
    cosine = CosineAnnealingLR(optimizer, T_max=max(1, total - warmup))
    return SequentialLR(optimizer, [ramp, cosine], milestones=[warmup])


def replayed(
    build: Callable[[Optimizer], LRScheduler],
    optimizer: Optimizer,
    base_lrs: Sequence[float],
    step: int,
) -> LRScheduler:
    """The scheduler `build` makes, stepped `step` times from `base_lrs`: what it would be
    after `step` optimizer steps. Step 0 is a fresh scheduler."""
    for group, lr in zip(optimizer.param_groups, base_lrs, strict=True):
        group["lr"] = lr
        group.pop("initial_lr", None)
    scheduler = build(optimizer)
    with warnings.catch_warnings():  # "lr_scheduler.step() before optimizer.step()": intended
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(step):
            scheduler.step()
    return scheduler
