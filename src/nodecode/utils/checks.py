"""Type checks for values read from untrusted JSON headers (checkpoints)."""

from __future__ import annotations

import math
from typing import Any


def is_integer(value: Any) -> bool:
    """An int, not a bool (JSON true would otherwise pass as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """An int or float that is neither NaN nor infinite (JSON allows both), not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
