import math
from functools import partial

import pytest
import torch

from nodecode.train import schedules
from nodecode.train.schedules import replayed


def test_step_decay_divides_by_ten_at_each_fraction(lr_factors):
    factors = lr_factors(partial(schedules.step_decay, total=9, fractions=schedules.THIRDS), 9)
    assert factors == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01])


def test_final_decay_lowers_only_the_last_fraction_and_zero_is_constant(lr_factors):
    decayed = lr_factors(partial(schedules.final_decay, total=10, decay_fraction=0.25), 10)
    assert decayed == pytest.approx([1] * 8 + [0.1] * 2)  # steps ≥ 7.5
    constant = lr_factors(partial(schedules.final_decay, total=10, decay_fraction=0.0), 10)
    assert constant == [1.0] * 10


def test_warmup_cosine_is_the_closed_form(lr_factors):
    total, warmup = 100, 5
    factors = lr_factors(partial(schedules.warmup_cosine, total=total, warmup_fraction=0.05), total)
    expected = [(s + 1) / warmup for s in range(warmup)]
    expected += [
        0.5 * (1 + math.cos(math.pi * (s - warmup) / (total - warmup))) for s in range(5, total)
    ]
    assert factors == pytest.approx(expected, abs=1e-9)


def test_poly_is_the_closed_form(lr_factors):
    factors = lr_factors(partial(schedules.poly, total=20), 20)
    assert factors == pytest.approx([(1 - s / 20) ** 0.9 for s in range(20)], abs=1e-9)


def test_a_replayed_scheduler_continues_as_an_uninterrupted_one(lr_factors):
    build = partial(schedules.warmup_cosine, total=40, warmup_fraction=0.1)
    straight = lr_factors(build, 40)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    optimizer.param_groups[0]["lr"] = 123.0  # what a loaded optimizer state may hold
    scheduler = replayed(build, optimizer, [1.0], 17)
    resumed = []
    for _ in range(17, 40):
        resumed.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert resumed == pytest.approx(straight[17:], abs=1e-12)
