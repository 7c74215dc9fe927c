"""Small statistics shared by the reports: how well a handful of runs or images pins a mean."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable


def standard_error(values: Iterable[float]) -> float:
    """Standard error of the mean of the finite values (sample s.d. / √n); NaN for fewer
    than two, whose spread is unknown."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return math.nan
    return statistics.stdev(finite) / math.sqrt(len(finite))


def mean_and_standard_error(values: list[float]) -> tuple[float, float]:
    """A mean over seeds or images, with how well they pin it (`standard_error`); NaN for
    none (a run that has not got there yet)."""
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), standard_error(values)
