"""`nodecode reproduce`: every experiment of the paper as resumable stages, and the report."""

from nodecode.reproduce.plan import Stage, build_plan
from nodecode.reproduce.presets import PRESETS, ReproducePreset
from nodecode.reproduce.stage_id import StageId

__all__ = ["PRESETS", "ReproducePreset", "Stage", "StageId", "build_plan"]
