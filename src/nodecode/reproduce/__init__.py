"""`nodecode reproduce`: every experiment of the paper as resumable stages, and the report."""

from nodecode.reproduce.plan import Stage, build_plan
from nodecode.reproduce.presets import PRESETS, ReproducePreset

__all__ = ["PRESETS", "ReproducePreset", "Stage", "build_plan"]
