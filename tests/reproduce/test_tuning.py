"""`reproduce --tune`: learning rates chosen on the validation split by a fixed rule."""

import dataclasses
import json

import pytest

from nodecode.cli.main import main
from nodecode.errors import ConfigError
from nodecode.reproduce import PRESETS, build_plan
from nodecode.reproduce.tuning import (
    NETWORKS,
    build_tuning_plan,
    choose,
    tuning_op,
    write_tuning_report,
)

# `small` at the learning rates it had before it was tuned: the grids below are around them.
SMALL = dataclasses.replace(PRESETS["small"], lr=0.2, seg_lr=0.01)


def test_the_plan_reuses_the_presets_encode_and_never_scores_the_test_split():
    main_keys = {s.id: s.key for s in build_plan(SMALL)}
    stages = build_tuning_plan(SMALL)
    op = tuning_op(SMALL)
    for stage in stages[:2]:  # codec and encode: the same keys, so a shared --out reuses them
        assert stage.id.codec == op and stage.key == main_keys[stage.id]
    tasks = stages[2:]
    assert {s.kind for s in tasks} == {"classifier"} and len(tasks) == 4 * len(NETWORKS)
    assert {s.params["lr"] for s in tasks} == {0.05, 0.1, 0.2, 0.4}
    assert all(s.params["score_test"] is False and s.params["seed"] == 0 for s in tasks)
    assert not set(main_keys.values()) & {s.key for s in tasks}


def test_segmenters_start_from_the_classifiers_at_the_chosen_lr():
    stages = build_tuning_plan(SMALL, classifier_lr=0.1)
    segmenters = [s for s in stages if s.kind == "segmenter"]
    assert {s.params["lr"] for s in segmenters} == {0.0025, 0.005, 0.01, 0.02}
    by_id = {s.id: s for s in stages}
    for seg in segmenters:
        init = by_id[seg.deps[-1]]
        assert init.kind == "classifier" and init.params["lr"] == 0.1
        assert init.params["input"] == seg.params["input"]


def _results(stages, scores):
    """Synthetic results: `scores` maps lr -> the validation score of every input."""
    results = {}
    for stage in stages:
        if stage.kind == "classifier" and stage.params["lr"] in scores:
            value = scores[stage.params["lr"]]
            value = value[stage.params["input"]] if isinstance(value, dict) else value
            results[stage.id] = {"metrics": {"val_top1": value, "top1": 99.0}}
    return results


def test_the_rule_takes_the_best_mean_and_a_tie_keeps_the_preset():
    stages = build_tuning_plan(SMALL)
    best_mean = {"latent": 60.0, "decoded": 40.0, "rgb": 41.0}  # mean 47, no input's best
    lopsided = {"latent": 70.0, "decoded": 30.0, "rgb": 30.0}  # best latent, mean 43.3
    choice = choose(
        SMALL, stages, _results(stages, {0.1: best_mean, 0.4: lopsided, 0.2: 45.0}), "classifier"
    )
    assert choice.lr == 0.1 and not choice.agrees and not choice.at_edge
    assert choice.scores[0.4]["latent"] == 70.0  # the test score is never read
    tie = choose(SMALL, stages, _results(stages, {0.05: 50.0, 0.2: 50.0, 0.4: 49.0}), "classifier")
    assert tie.lr == 0.2 and tie.agrees
    edge = choose(SMALL, stages, _results(stages, {0.05: 51.0, 0.2: 50.0}), "classifier")
    assert edge.lr == 0.05 and edge.at_edge


def test_an_lr_with_an_unfinished_input_is_left_out_and_none_finished_is_an_error():
    stages = build_tuning_plan(SMALL)
    results = _results(stages, {0.1: 80.0, 0.2: 50.0})
    unfinished = next(s.id for s in stages if s.params.get("lr") == 0.1)
    del results[unfinished]
    assert choose(SMALL, stages, results, "classifier").lr == 0.2
    with pytest.raises(ConfigError, match="no learning rate has all of its classifier"):
        choose(SMALL, stages, {}, "classifier")


def test_presets_without_a_validation_split_or_with_the_papers_lrs_refuse():
    with pytest.raises(ConfigError, match="no validation split"):
        build_tuning_plan(dataclasses.replace(SMALL, val_fraction=0.0))
    with pytest.raises(ConfigError, match="paper's learning rates"):
        build_tuning_plan(PRESETS["paper"])


def test_the_report_shows_every_score_and_the_verdict(tmp_path):
    stages = build_tuning_plan(SMALL, classifier_lr=0.2)
    results = _results(stages, {0.05: 40.0, 0.1: 45.0, 0.2: 44.0, 0.4: 30.0})
    for stage in stages:
        if stage.kind == "segmenter":
            results[stage.id] = {"metrics": {"val_miou": 10.0 + stage.params["lr"]}}
    choices = [choose(SMALL, stages, results, k) for k in ("classifier", "segmenter")]
    write_tuning_report(SMALL, choices, tmp_path, "nodecode reproduce --tune")
    text = (tmp_path / "report" / "TUNING.md").read_text()
    assert "lr 0.1 wins over the preset's 0.2: change the preset" in text
    assert "| 0.2 (preset) | 44.00 | 44.00 | 44.00 | 44.00 |  |" in text
    assert "Chosen: **0.02**" in text and "edge of the grid" in text
    saved = json.loads((tmp_path / "report" / "tuning.json").read_text())
    assert saved[0]["lr"] == 0.1 and saved[0]["scores"]["0.4"]["rgb"] == 30.0


def test_tune_dry_run_lists_the_stages(tmp_path, capsys):
    assert main(["reproduce", "--preset", "small", "--tune", "--dry-run", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lr = PRESETS["small"].lr
    assert f"cls-tune-lr{lr * 2:g}-0.330-cresnet51-s0" in out and f"lr {lr * 2:g}" in out
    assert f"cls-tune-lr{lr / 4:g}-rgb-resnet50-s0" in out and not (tmp_path / "stages").exists()


def test_the_grid_widens_while_the_best_lies_at_an_edge():
    from nodecode.reproduce.tuning import tune

    planned = []

    def run(stages):  # validation score peaks at classifier lr 0.8 and segmenter lr 0.005
        planned.append(stages)
        results = {}
        for s in stages:
            if s.kind == "classifier":
                results[s.id] = {"metrics": {"val_top1": -abs(s.params["lr"] - 0.8)}}
            elif s.kind == "segmenter":
                results[s.id] = {"metrics": {"val_miou": -abs(s.params["lr"] - 0.005)}}
            else:
                results[s.id] = {}
        return results

    classifiers, segmenters = tune(SMALL, run)
    assert classifiers.lr == 0.8 and classifiers.grid == (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
    assert segmenters.lr == 0.005 and not segmenters.at_edge and len(segmenters.grid) == 4
    seg_inits = {s.deps[-1].variant for s in planned[-1] if s.kind == "segmenter"}
    assert seg_inits == {"tune-lr0.8"}
    assert tune(SMALL, lambda stages: None) is None  # a run stopped early stops the search


def test_lr_options_replace_the_presets_and_are_checked(tmp_path, capsys):
    out = str(tmp_path)
    assert main(["reproduce", "--preset", "small", "--lr", "0.4", "--dry-run", "-o", out]) == 0
    text = capsys.readouterr().out
    assert "cresnet51 on latent, 4 epochs, cosine, lr 0.4, seed 0" in text
    seg_lr = PRESETS["small"].seg_lr
    assert f"resnet50-d on rgb, 400 it, cosine, lr {seg_lr:g}, seed 0" in text  # the preset's
    for argv, message in [
        (["--preset", "small", "--seg-lr", "0"], "--seg-lr must be a positive"),
        (["--preset", "paper", "--lr", "0.1"], "keeps the paper's learning rates"),
        (["--preset", "gupta-tiny", "--lr", "0.1"], "--lr applies to the paper's presets"),
        (["--preset", "gupta-tiny", "--tune"], "--tune applies to the tiny and small"),
    ]:
        assert main(["reproduce", *argv, "--dry-run", "-o", out]) == 1
        assert message in capsys.readouterr().err
