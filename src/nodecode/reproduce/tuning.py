"""Choosing a preset's learning rates on its validation split, never on its test split.

The `tiny`/`small` presets fix one classifier lr and one segmenter lr for every network.
`reproduce --tune` trains seed 0 of each network family at the middle operating point (and on
original RGB) over a grid of multiples of the preset's lr, scores only the validation split
(the test split is never loaded for scoring), and applies a rule fixed before any run: the lr
with the highest mean validation score over the inputs wins, a tie keeps the preset's. The
segmenters are tuned from the classifiers trained at the chosen classifier lr, as the preset's
segmenters start from its classifiers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodecode.errors import ConfigError
from nodecode.reproduce.plan import Stage, assign_keys, build_plan, stage_adder, task_params
from nodecode.reproduce.presets import OPS, ReproducePreset
from nodecode.reproduce.records import Results
from nodecode.reproduce.stage_id import StageId
from nodecode.utils.io import atomic_write_text
from nodecode.utils.tables import format_table

# Multiples of the preset's lr tried first for each family: a factor-of-two grid around it.
# While the winner is the grid's smallest or largest, the grid grows by another factor of two
# that way, up to MAX_FACTORS values.
FACTORS = (0.25, 0.5, 1.0, 2.0)
MAX_FACTORS = 8
Factors = tuple[float, ...]
# (classifier, segmenter, input): the networks of the preset's headline rows.
NETWORKS = (
    ("cresnet51", "cresnet51-d", "latent"),
    ("resnet50", "resnet50-d", "decoded"),
    ("resnet50", "resnet50-d", "rgb"),
)
METRIC = {"classifier": "val_top1", "segmenter": "val_miou"}


@dataclass(frozen=True)
class Choice:
    kind: str  # "classifier" or "segmenter"
    lr: float  # the chosen lr
    preset_lr: float  # the preset's, for comparison
    scores: dict[float, dict[str, float]]  # lr -> input -> validation score
    grid: Factors  # every lr tried, finished or not

    def mean(self, lr: float) -> float:
        return _mean(self.scores[lr])

    @property
    def agrees(self) -> bool:
        return self.lr == self.preset_lr

    @property
    def at_edge(self) -> bool:
        """Whether the winner is the grid's smallest or largest lr (the best may lie beyond)."""
        return len(self.grid) > 1 and self.lr in (self.grid[0], self.grid[-1])


def _mean(by_input: dict[str, float]) -> float:
    return sum(by_input.values()) / len(by_input)


def tuning_op(preset: ReproducePreset) -> str:
    """The operating point tuned at: the middle of the preset's three."""
    return OPS[len(OPS) // 2]


def _check(preset: ReproducePreset) -> None:
    if preset.lr is None or preset.seg_lr is None:
        raise ConfigError(
            f"preset {preset.name} uses the paper's learning rates (App. A.4-A.5); "
            "there is nothing to tune"
        )
    if not preset.val_fraction:
        raise ConfigError(f"preset {preset.name} has no validation split to tune on")


def grid(base: float, factors: Factors = FACTORS) -> list[float]:
    return sorted({round(base * f, 10) for f in factors})


def widened(factors: Factors, choice: Choice) -> Factors | None:
    """The grid grown one factor of two past the winner when it lies at an edge; None when
    the winner is inside the grid, or the grid has reached MAX_FACTORS."""
    if not choice.at_edge or len(factors) >= MAX_FACTORS:
        return None
    low, high = min(factors), max(factors)
    return (low / 2, *factors) if choice.lr == choice.grid[0] else (*factors, high * 2)


def build_tuning_plan(
    preset: ReproducePreset,
    factors: Factors = FACTORS,
    classifier_lr: float | None = None,
    seg_factors: Factors = FACTORS,
) -> list[Stage]:
    """The preset's codec and encode stages for the tuning operating point (same keys as the
    main plan's, so a shared --out reuses them), then seed-0 classifiers over the lr grid;
    with `classifier_lr` (phase two), segmenters over their grid, each from the classifier
    of its input at that lr."""
    _check(preset)
    op = tuning_op(preset)
    main = {s.id: s for s in build_plan(preset)}
    stages: list[Stage] = []
    add = stage_adder(stages)
    for id in (StageId("codec", op), StageId("encode", op)):
        source = main[id]
        add(source.id, source.kind, source.params, *source.deps, op=source.op)
    seed = preset.seeds[0]
    assert preset.lr is not None and preset.seg_lr is not None

    def network(task: str, model: str, input: str, lr: float, *init: StageId) -> None:
        step, kind = ("cls", "classifier") if task == "classification" else ("seg", "segmenter")
        params = task_params(preset, task, model, input, seed) | {"lr": lr, "score_test": False}
        encoded = () if input == "rgb" else (StageId("encode", op),)
        id = _tuning_id(step, model, input, seed, lr, op)
        add(id, kind, params, *encoded, *init, op=None if input == "rgb" else op)

    for lr in grid(preset.lr, factors):
        for model, _, input in NETWORKS:
            network("classification", model, input, lr)
    if classifier_lr is not None:
        for lr in grid(preset.seg_lr, seg_factors):
            for model, seg_model, input in NETWORKS:
                init = _tuning_id("cls", model, input, seed, classifier_lr, op)
                network("segmentation", seg_model, input, lr, init)
    return assign_keys(stages)


def _tuning_id(step: str, model: str, input: str, seed: int, lr: float, op: str) -> StageId:
    codec = "rgb" if input == "rgb" else op
    return StageId(step, codec, model, seed=seed, variant=f"tune-lr{lr:g}")


def choose(preset: ReproducePreset, stages: list[Stage], results: Results, kind: str) -> Choice:
    """The rule: highest mean validation score over the inputs; a tie keeps the preset's lr."""
    preset_lr = preset.lr if kind == "classifier" else preset.seg_lr
    assert preset_lr is not None
    scores: dict[float, dict[str, float]] = {}
    tried = sorted({s.params["lr"] for s in stages if s.kind == kind})
    for stage in stages:
        if stage.kind != kind or stage.id not in results:
            continue
        value = results[stage.id]["metrics"][METRIC[kind]]
        scores.setdefault(stage.params["lr"], {})[stage.params["input"]] = float(value)
    complete = {lr: s for lr, s in scores.items() if len(s) == len(NETWORKS)}
    if not complete:
        raise ConfigError(f"no learning rate has all of its {kind} tuning stages finished")
    means = {lr: _mean(s) for lr, s in complete.items()}
    best = max(means.values())
    winners = [lr for lr, m in means.items() if m == best]
    lr = preset_lr if preset_lr in winners else min(winners)
    return Choice(kind, lr, preset_lr, complete, tuple(tried))


def tune(
    preset: ReproducePreset, run: Callable[[list[Stage]], Results | None]
) -> tuple[Choice, Choice] | None:
    """The classifier lr, then the segmenter lr (from classifiers at the chosen one), each
    grid widened while its best lies at an edge. `run` runs a plan's unfinished stages and
    returns every result, or None when it stopped early (time limit): then so does this."""

    def search(kind: str, plan: Callable[[Factors], list[Stage]]) -> tuple[Choice, Factors] | None:
        factors: Factors = FACTORS
        while True:
            stages = plan(factors)
            results = run(stages)
            if results is None:
                return None
            choice = choose(preset, stages, results, kind)
            wider = widened(factors, choice)
            if wider is None:
                return choice, factors
            factors = wider

    found = search("classifier", lambda factors: build_tuning_plan(preset, factors))
    if found is None:
        return None
    classifiers, grid_used = found
    segmenters = search(
        "segmenter", lambda factors: build_tuning_plan(preset, grid_used, classifiers.lr, factors)
    )
    return None if segmenters is None else (classifiers, segmenters[0])


def tuning_table(choice: Choice) -> list[dict[str, Any]]:
    rows = []
    for lr in sorted(choice.scores):
        row: dict[str, Any] = {"lr": f"{lr:g}" + (" (preset)" if lr == choice.preset_lr else "")}
        row |= {input: choice.scores[lr][input] for _, _, input in NETWORKS}
        row["mean"] = choice.mean(lr)
        row["chosen"] = "yes" if lr == choice.lr else ""
        rows.append(row)
    return rows


def write_tuning_report(
    preset: ReproducePreset, choices: list[Choice], out: Path, command: str
) -> Path:
    """report/TUNING.md and report/tuning.json: every score the choice saw, and the choice."""
    report = out / "report"
    report.mkdir(parents=True, exist_ok=True)
    columns = [("lr", "lr"), *[(i, f"val {i}") for _, _, i in NETWORKS], ("mean", "mean")]
    columns.append(("chosen", "chosen"))
    lines = [
        f"# Learning rates for `{preset.name}`, chosen on the validation split",
        "",
        f"Command: `{command}`",
        "",
        f"Seed {preset.seeds[0]} of each network at {tuning_op(preset)} bpp (and original RGB), "
        f"the preset's schedule, lr × {', '.join(f'{f:g}' for f in FACTORS)} (and further "
        "factors of two while the best lies at the grid's edge). Scored on the "
        f"validation split only (the last {preset.val_fraction:.0%} of the training split); "
        "the test split is never scored here. Rule, fixed before the runs: the highest mean "
        "validation score over the inputs wins; a tie keeps the preset's lr.",
    ]
    for choice in choices:
        what = "top-1 %" if choice.kind == "classifier" else "mIoU %"
        verdict = (
            f"the preset's lr {choice.preset_lr:g} is confirmed"
            if choice.agrees
            else f"lr {choice.lr:g} wins over the preset's {choice.preset_lr:g}: change the "
            "preset and run it again"
        )
        lines += ["", f"## {choice.kind.capitalize()}s (validation {what})", ""]
        lines += [format_table(tuning_table(choice), columns, digits=2, markdown=True), ""]
        edge = (
            " It lies at the edge of the grid: a wider grid may find better."
            if choice.at_edge
            else ""
        )
        lines.append(f"Chosen: **{choice.lr:g}**; {verdict}.{edge}")
    path = report / "TUNING.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    data = [
        {
            "kind": c.kind,
            "lr": c.lr,
            "preset_lr": c.preset_lr,
            "at_edge": c.at_edge,
            "scores": {f"{lr:g}": s for lr, s in sorted(c.scores.items())},
        }
        for c in choices
    ]
    atomic_write_text(report / "tuning.json", json.dumps(data, indent=2) + "\n")
    return path
