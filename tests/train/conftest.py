"""Fixtures for the trainers' tests."""

from collections.abc import Callable

import pytest
import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler


def schedule_factors(build: Callable[[Optimizer], LRScheduler], steps: int) -> list[float]:
    """The learning rate of each of `steps` optimizer steps under `build`, from lr 1."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = build(optimizer)
    factors = []
    for _ in range(steps):
        factors.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return factors


@pytest.fixture
def kill_after(monkeypatch) -> Callable[[object, str], None]:
    """`kill_after(module, name)`: `module.name` runs once more, then the run dies
    (KeyboardInterrupt), as a run killed right after a checkpoint reached the disk."""

    def patch(module: object, name: str) -> None:
        original = getattr(module, name)

        def killed_after(*args, **kwargs):
            original(*args, **kwargs)
            monkeypatch.setattr(module, name, original)  # the resumed run saves normally
            raise KeyboardInterrupt

        monkeypatch.setattr(module, name, killed_after)

    return patch


@pytest.fixture
def lr_factors() -> Callable[[Callable[[Optimizer], LRScheduler], int], list[float]]:
    return schedule_factors
