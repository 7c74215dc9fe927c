"""Resource budgets for untrusted inputs, checked before anything is allocated."""

from __future__ import annotations

import os

from nodecode.errors import ConfigError

# Largest image (pixels) read, encoded or decoded; overridable for trusted large inputs.
DEFAULT_MAX_PIXELS = 64_000_000
MAX_PIXELS_ENV = "NODECODE_MAX_PIXELS"


def max_pixels() -> int:
    """The pixel budget: `NODECODE_MAX_PIXELS` if set, else DEFAULT_MAX_PIXELS."""
    value = os.environ.get(MAX_PIXELS_ENV, "").strip().replace("_", "")
    if not value:
        return DEFAULT_MAX_PIXELS
    if not value.isdigit() or int(value) == 0:
        raise ConfigError(
            f"{MAX_PIXELS_ENV}={os.environ[MAX_PIXELS_ENV]!r} is not a positive whole number "
            "of pixels (e.g. 100000000)"
        )
    return int(value)


def over_budget_message(height: int, width: int, limit: int) -> str:
    return (
        f"{height}x{width} pixels exceed the budget of {limit}; raise it with "
        f"{MAX_PIXELS_ENV}=N if the input is trusted"
    )
