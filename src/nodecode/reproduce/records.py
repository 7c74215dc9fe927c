"""What a run's folder records, and how a run carries its results elsewhere.

Each stage's results sit in `stages/<name>/result.json` beside its files, under the key of
the settings that made it; `results.json` gathers every finished stage's result by name.
That file is all another machine (or a later session, whose disk no longer has these
stages) needs to go on with the run: `import_results` takes the stages whose files nothing
still to run needs, and `lacking_files` names those to make again before the report.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from nodecode.errors import ConfigError
from nodecode.reproduce.plan import Stage
from nodecode.reproduce.stage_id import StageId
from nodecode.utils.io import atomic_write_text

RESULT = "result.json"
RESULTS = "results.json"  # every finished stage's result, by name: what a run carries elsewhere
Results = dict[StageId, dict[str, Any]]


def stage_dir(out: Path, stage: Stage) -> Path:
    return out / "stages" / stage.name


def saved_result(out: Path, stage: Stage) -> dict[str, Any] | None:
    """The result a stage's folder holds, whatever its key; None when there is none or it
    cannot be read (results are written atomically, so such a file was damaged elsewhere:
    a copy cut short, an edit by hand); either way the stage runs again."""
    path = stage_dir(out, stage) / RESULT
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return result if isinstance(result, dict) else None


def load_result(out: Path, stage: Stage) -> dict[str, Any] | None:
    """The stage's result when it was made with the stage's current settings."""
    return same_settings(saved_result(out, stage), stage)


def same_settings(result: dict[str, Any] | None, stage: Stage) -> dict[str, Any] | None:
    """`result` if the stage's current settings made it (its key), else None."""
    return result if result is not None and result.get("key") == stage.key else None


def finished_elsewise(out: Path, stages: list[Stage]) -> list[Stage]:
    """Stages whose folder in `out` holds a finished result made with other settings: running
    the plan would discard it (a stage's folder is its name, its settings are its key)."""
    found = []
    for stage in stages:
        result = saved_result(out, stage)
        if result is not None and result.get("key") not in (None, stage.key):
            found.append(stage)
    return found


def named_files(stage: Stage, result: dict[str, Any]) -> list[Path]:
    """The files in its stage's folder (weights, caches, logs, figures) that a result names,
    which a copy of the result alone does not bring along."""
    folder = f"stages/{stage.name}"

    def files(value: Any) -> list[Path]:
        if isinstance(value, str):
            path = Path(value.rpartition(":")[2])  # a CompressAI spec ends in its path
            return [path] if folder in path.as_posix() else []
        if isinstance(value, dict):
            return [f for v in value.values() for f in files(v)]
        if isinstance(value, list):
            return [f for v in value for f in files(v)]
        return []

    return files(result)


def holds_files(stage: Stage, result: dict[str, Any]) -> bool:
    return bool(named_files(stage, result))


def lacking_files(stages: list[Stage], out: Path, wanted: set[StageId]) -> list[Stage]:
    """The finished stages among `wanted` whose files are not on this disk (imported from a
    run elsewhere), and the finished stages they need whose files are not here either:
    what must run again before `wanted`'s files can be read."""
    by_id = {s.id: s for s in stages}
    lacking: set[StageId] = set()
    queue = [id for id in wanted if id in by_id]
    while queue:
        stage = by_id[queue.pop()]
        result = load_result(out, stage)
        if stage.id in lacking or result is None:
            continue
        if not all(path.exists() for path in named_files(stage, result)):
            lacking.add(stage.id)
            queue += stage.deps
    return [s for s in stages if s.id in lacking]


def forget(out: Path, stages: list[Stage]) -> None:
    """Unfinish `stages` in `out`, so that the next run makes them (and their files) again."""
    for stage in stages:
        shutil.rmtree(stage_dir(out, stage), ignore_errors=True)


def read_results(path: Path) -> dict[str, dict[str, Any]]:
    """A run's results.json (a report's, or `out/results.json` of an unfinished run)."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: not a readable results.json ({error})") from None
    if not isinstance(saved, dict) or not all(isinstance(r, dict) for r in saved.values()):
        raise ConfigError(f"{path}: not a results.json (stage name -> result)")
    return saved


def import_results(stages: list[Stage], out: Path, saved: dict[str, dict[str, Any]]) -> list[Stage]:
    """Record in `out` the stages that `saved` finished with the same settings, where this run
    can do without their files: a result that names none (rates, metrics, rate-distortion
    points), or one whose every consumer is finished or imported too (files the report reads
    are made again before it is written: `lacking_files`). The others (e.g. the classifier a
    joint stage still has to start from) run again here. Returns those imported."""
    consumers: dict[StageId, list[Stage]] = {s.id: [] for s in stages}
    for stage in stages:
        for dep in stage.deps:
            consumers[dep].append(stage)
    finished = {s.id for s in stages if load_result(out, s) is not None}
    imported: dict[StageId, Stage] = {}
    for stage in reversed(stages):  # consumers come after what they consume
        result = same_settings(saved.get(stage.name), stage)
        if stage.id in finished or result is None:
            continue
        if saved_result(out, stage) is not None:  # finished here with other settings: keep
            continue
        users = consumers[stage.id]
        if not holds_files(stage, result) or all(
            u.id in finished or u.id in imported for u in users
        ):
            imported[stage.id] = stage
    for stage in imported.values():
        folder = stage_dir(out, stage)
        if folder.exists():  # an unfinished attempt, which the import makes needless
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        (folder / "key").write_text(stage.key)
        atomic_write_text(folder / RESULT, json.dumps(saved[stage.name], indent=2) + "\n")
    return [s for s in stages if s.id in imported]


def stage_state(out: Path, stage: Stage, saved: dict[str, dict[str, Any]] | None = None) -> str:
    """A plan row's state for a dry run: 'to run', or 'done' (in `out`, or 'done elsewhere'
    in a results.json given to import, with the same settings) and the stage's headline
    numbers, so a run that spans sessions shows how far it got and what it found so far."""
    result, where = load_result(out, stage), "done"
    if result is None:
        result, where = same_settings((saved or {}).get(stage.name), stage), "done elsewhere"
    if result is None:
        return "to run"
    numbers = headline(result)
    return f"{where}: {numbers}" if numbers else where


def headline(result: dict[str, Any]) -> str:
    """A finished stage's main numbers: test (and validation) scores of a network, a rate."""
    found = result.get("metrics")
    metrics: dict[str, Any] = found if isinstance(found, dict) else {}
    parts = []
    for key, label in (("top1", "top-1"), ("miou", "mIoU")):
        if isinstance(metrics.get(key), int | float):
            val = metrics.get(f"val_{key}")
            extra = f" (val {val:.2f})" if isinstance(val, int | float) else ""
            parts.append(f"{label} {metrics[key]:.2f}{extra}")
    if isinstance(result.get("bpp"), int | float):
        parts.append(f"{result['bpp']:.4f} bpp")
    return ", ".join(parts)


def write_results(out: Path, stages: list[Stage]) -> None:
    """out/results.json: the result of every stage finished so far, by name."""
    by_name = {s.name: result for s in stages if (result := load_result(out, s)) is not None}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / RESULTS, json.dumps(by_name, indent=1, default=str) + "\n")
