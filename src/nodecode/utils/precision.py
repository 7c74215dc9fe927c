"""Mixed precision in one place: training, evaluation, inference and the bench ask for
"fp32" or "bf16" by name and get the same autocast."""

from __future__ import annotations

import contextlib

import torch

from nodecode.errors import ConfigError

PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r}: choose one of {sorted(PRECISIONS)}")


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast on CPUs (AMX) and GPUs; fp32 is a no-op. Convolutions and matrix
    products run in bf16; reductions and losses stay fp32 (torch's autocast lists)."""
    check_precision(precision)
    dtype = PRECISIONS[precision]
    device_type = torch.device(device).type
    return torch.autocast(device_type, dtype or torch.float32, enabled=dtype is not None)
