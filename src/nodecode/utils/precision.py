"""Mixed precision in one place: training, evaluation, inference and the bench ask for
"fp32" or "bf16" by name and get the same autocast. Importing it does not import torch, so
command-line parsers can take their `choices` from here."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from nodecode.errors import ConfigError

if TYPE_CHECKING:
    import torch

PRECISIONS = ("fp32", "bf16")  # fp32: no autocast; bf16: bfloat16 autocast


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r}: choose one of {sorted(PRECISIONS)}")


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast on CPUs (AMX) and GPUs; fp32 is a no-op. Convolutions and matrix
    products run in bf16; reductions and losses stay fp32 (torch's autocast lists)."""
    import torch

    check_precision(precision)
    device_type = torch.device(device).type
    return torch.autocast(device_type, torch.bfloat16, enabled=precision == "bf16")
