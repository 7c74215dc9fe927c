"""`nodecode reproduce`: the plan, its hashing, the paper dry run, and the tiny preset."""

import dataclasses
import json

import pytest

from nodecode.cli.main import main
from nodecode.reproduce import PRESETS, build_plan
from nodecode.reproduce.stage_id import StageId


def test_plan_covers_every_experiment_of_the_paper():
    names = {s.name for s in build_plan(PRESETS["paper"])}
    for op in ("0.635", "0.330", "0.0983"):
        for model in ("cresnet51", "resnet50", "cresnet39"):
            assert f"cls-{op}-{model}-s0" in names and f"seg-{op}-{model}-d-s0" in names
    assert {"cls-0.0983-resnet71-s0", "cls-0.0983-cresnet72-s0", "cls-rgb-resnet50-s0"} <= names
    assert {"joint-0.635", "compression-0.0983", "cls-comp-more-0.0983-cresnet51"} <= names
    assert "seg-joint-0.0983-cresnet51-d" in names and "rate-distortion" in names


def test_small_has_three_seeds_for_the_headline_rows():
    names = {s.name for s in build_plan(PRESETS["small"])}
    for seed in (0, 1, 2):
        assert f"cls-0.330-cresnet51-s{seed}" in names and f"seg-0.0983-resnet50-d-s{seed}" in names


def test_a_changed_setting_reruns_exactly_what_depends_on_it():
    before = {s.name: s.key for s in build_plan(PRESETS["tiny"])}
    changed = dataclasses.replace(PRESETS["tiny"], seg_iters=31)
    after = {s.name: s.key for s in build_plan(changed)}
    moved = {name for name in before if before[name] != after[name]}
    assert moved and all(name.startswith("seg-") for name in moved)
    assert before["cls-0.330-cresnet51-s0"] == after["cls-0.330-cresnet51-s0"]


def test_paper_dry_run_prints_the_plan_with_costs(capsys, tmp_path):
    assert main(["reproduce", "--preset", "paper", "--dry-run", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "55 stages" in out and "imagefolder:data/imagenet" in out and "voc:data/voc" in out
    assert "cresnet72 on latent, 28 epochs, 224² crops, paper" in out and "20000 it" in out
    assert "estimated training compute" in out and not (tmp_path / "stages").exists()
    # ImageNet train + val at 256² (for random 224² crops) and VOC at 320², symbols +
    # targets (C = 32; masks as bytes): no decoded RGB, which would add 3 bytes a pixel.
    imagenet = (1_281_167 + 50_000) * (32 * 32 * 32 + 8)
    voc = (10_582 + 1_449) * (32 * 40 * 40 + 320 * 320)
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert f"{(imagenet + voc) / 1e9:.3f}" in rows["encode-0.635"]
    assert "decoded per batch later" in rows["encode-0.635"]
    assert "224² crops" in rows["cls-0.635-cresnet51-s0"]
    assert "crops" not in rows["cls-rgb-resnet50-s0"]
    # RAM: the ImageNet labels (int64) and a 256-image float batch in flight, not the data.
    ram = (1_281_167 + 50_000) * 8 + 256 * 4 * 3 * 224 * 224
    assert f"{ram / 1e9:.3f}" in rows["cls-0.635-resnet50-s0"] and "RAM GB" in out
    assert "H100-hours at an assumed" in out and "GB on disk" in out
    # The codecs train on the classification data's training images (App. A.1: ILSVRC2012).
    assert "data/imagenet/train" in rows["codec-0.635"]


def test_a_plan_that_cannot_fit_on_disk_is_refused_before_it_starts(tmp_path, monkeypatch, capsys):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**6, 10**6 - 1000, 1000))
    code = main(["reproduce", "--preset", "tiny", "--out", str(tmp_path / "run")])
    assert code == 1 and "latent caches need" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_tiny_reproduction_runs_end_to_end_and_then_skips_finished_stages(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("NODECODE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    # The width-0.5 codecs: the same stages at a quarter of the encoding cost (this test is
    # most of the suite's time); the paper codecs' own run is `make demo` and RESULTS §5.
    assert main(["reproduce", "--preset", "tiny", "--codecs", "small", "--out", str(out)]) == 0
    report = (out / "report" / "REPORT.md").read_text()
    assert "## Table 2" in report and "| 0.0983 | cresnet72 (latent) | 1 |" in report
    rows = [
        line.split(" | ") for line in report.split("## The paper's four claims")[1].splitlines()
    ]
    verdicts = [cells[2] for cells in rows if len(cells) > 3 and cells[0].lstrip("| ").isdigit()]
    assert len(verdicts) == 4 and set(verdicts) <= {"held", "NOT held", "different result"}
    for figure in (
        "fig3-4-accuracy-vs-epochs",
        "fig5-masks",
        "fig6-accuracy-vs-macs",
        "fig7-finetuning",
        "fig8-rate-distortion",
        "fig9-latents",
    ):
        assert (out / "report" / f"{figure}.png").stat().st_size > 1000
    results = json.loads((out / "report" / "results.json").read_text())
    top1 = results["cls-0.330-cresnet51-s0"]["metrics"]["top1"]
    row = next(line for line in report.splitlines() if line.startswith("| 0.330 | cresnet51 "))
    assert f"{top1:.2f}" in row  # the table shows the stage's own result (one seed in tiny)
    val_top1 = results["cls-0.330-cresnet51-s0"]["metrics"]["val_top1"]
    assert f"{val_top1:.2f}" in row  # and its validation score: tiny holds 10 % out
    with (out / "stages" / "cls-0.330-cresnet51-s0" / "log.csv").open() as f:
        assert "val_top1" in f.readline()  # every round is scored on validation, not test
    # Claim 4's image quality at one rate: both arms rate-controlled under the cheaper one.
    plain = {
        mode: {p["image"]: p["bpp"] for p in results[f"rate-distortion-{mode}-0.0983"]["points"]}
        for mode in ("joint", "compression")
    }
    equal = results["rate-distortion-equal-rate-0.0983"]["equal_rate"]
    for image in plain["joint"]:
        target = 0.97 * min(arm[image] for arm in plain.values())
        rates = [p["bpp"] for arm in equal.values() for p in arm if p["image"] == image]
        assert len(rates) == 2 and all(0.9 * target < r <= target for r in rates)
    assert "SSIM at equal rate" in report
    floor = results["cls-0.330-cresnet51-s0"]["metrics"]["top1_majority"]
    assert f"always the commonest class: top-1 {floor:.2f}" in report and "mIoU" in report
    stamp = (out / "stages" / "cls-0.330-cresnet51-s0" / "result.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["reproduce", "--preset", "tiny", "--codecs", "small", "--out", str(out)]) == 0
    assert (out / "stages" / "cls-0.330-cresnet51-s0" / "result.json").stat().st_mtime_ns == stamp
    assert "[cls-" not in capsys.readouterr().out  # nothing was run again


@pytest.mark.parametrize(
    ("diffs", "expected"),
    [
        ({"0.0983": -0.4, "0.330": -0.1, "0.635": 0.2}, "held"),
        ({"0.0983": -0.6, "0.330": 0.0, "0.635": 0.0}, "NOT held"),
        ({"0.0983": 5.5, "0.330": 6.0, "0.635": 0.0}, "different result"),  # far ahead
        ({"0.0983": -2.0, "0.330": 6.0, "0.635": 0.0}, "NOT held"),
    ],
)
def test_claim_1_is_two_sided(diffs, expected):
    from nodecode.reproduce.claims import verdict_close

    assert verdict_close(diffs) == expected


@pytest.mark.parametrize(
    ("ratios", "equal", "expected"),
    [
        ({"a": 1.76, "b": 1.6}, {"a": True, "b": True}, "held"),
        ({"a": 1.76, "b": 1.02}, {"a": True, "b": True}, "NOT held"),  # segmentation at parity
        ({"a": 1.76, "b": 1.6}, {"a": True, "b": False}, "NOT held"),
        ({"a": 12.8, "b": 13.1}, {"a": True, "b": True}, "different result"),
    ],
)
def test_claim_2_bounds_the_ratio_from_both_sides(ratios, equal, expected):
    from nodecode.reproduce.claims import verdict_cost

    assert verdict_cost(ratios, equal) == expected


@pytest.mark.parametrize(
    ("diffs", "expected"),
    [
        ({"0.0983": 1.2, "0.330": -0.3, "0.635": 0.4}, "held"),
        ({"0.0983": -0.1, "0.330": 0.0, "0.635": 0.0}, "NOT held"),  # not better at the lowest
        ({"0.0983": 1.2, "0.330": -0.8, "0.635": 0.0}, "NOT held"),
        ({"0.0983": 1.2, "0.330": 3.0, "0.635": 0.0}, "different result"),
    ],
)
def test_claim_3_verdicts(diffs, expected):
    from nodecode.reproduce.claims import verdict_segmentation

    assert verdict_segmentation(diffs, "0.0983") == expected


def test_claims_1_and_3_leave_open_what_the_seeds_noise_leaves_open():
    from nodecode.reproduce.claims import verdict_close, verdict_segmentation

    ops = ("0.0983", "0.330", "0.635")
    se = dict.fromkeys(ops, 1.0)  # a bound is cleared only by 2 s.e. = 2 points
    assert verdict_close({"0.0983": 2.0, "0.330": 0.0, "0.635": 0.0}, se) == (
        "unresolved (within seed noise)"  # past the ±0.5 tolerance by 1.5 < 2
    )
    assert verdict_close({"0.0983": 3.0, "0.330": 0.0, "0.635": 0.0}, se) == "different result"
    assert verdict_close({"0.0983": -3.0, "0.330": 0.0, "0.635": 0.0}, se) == "NOT held"
    assert verdict_close(dict.fromkeys(ops, 0.3), se) == "held"
    # Claim 3: better at the lowest rate must clear zero by 2 s.e.; clearly behind fails it.
    moderate = {"0.330": 0.0, "0.635": 0.2}
    assert verdict_segmentation({"0.0983": 2.5, **moderate}, "0.0983", se) == "held"
    assert verdict_segmentation({"0.0983": 1.0, **moderate}, "0.0983", se) == (
        "unresolved (within seed noise)"
    )
    assert verdict_segmentation({"0.0983": -2.5, **moderate}, "0.0983", se) == "NOT held"
    assert verdict_segmentation({"0.0983": 2.5, "0.330": 1.5, "0.635": 0.0}, "0.0983", se) == (
        "unresolved (within seed noise)"
    )


def test_claim_4_needs_every_win_and_some_evidence():
    from nodecode.reproduce.claims import verdict_joint

    win = {"top-1": "win", "mIoU": "win", "SSIM": "win", "MS-SSIM": "win"}
    assert verdict_joint([win, win]) == "held"
    assert verdict_joint([win, {**win, "SSIM": "loss"}]) == "NOT held"
    assert verdict_joint([win, {**win, "mIoU": "within noise"}]) == "unresolved (within seed noise)"
    assert verdict_joint([{**win, "SSIM": "loss", "mIoU": "within noise"}]) == "NOT held"
    assert verdict_joint([]) == "not run"  # a preset without joint training


def test_claim_4_tells_a_win_from_seed_noise():
    from nodecode.reproduce.claims import joint_outcome

    # Two standard errors of the difference: √(0.3² + 0.4²) = 0.5, so a margin of 1.0.
    assert joint_outcome(61.1, 0.3, 60.0, 0.4) == "win"
    assert joint_outcome(60.9, 0.3, 60.0, 0.4) == "within noise"
    assert joint_outcome(58.9, 0.3, 60.0, 0.4) == "loss"
    # One seed: no spread to judge by, so the sign decides (and the report says so).
    nan = float("nan")
    assert joint_outcome(60.1, nan, 60.0, nan) == "win"
    assert joint_outcome(59.9, nan, 60.0, nan) == "loss"


def test_trivial_floors_line():
    from nodecode.reproduce.claims import trivial_floors

    cls, seg = StageId("cls", "a", seed=0), StageId("seg", "a", seed=0)
    results = {
        cls: {"metrics": {"top1": 50.0, "top1_majority": 11.5}},
        seg: {"metrics": {"miou": 20.0, "miou_all_background": 7.25}},
    }
    line = trivial_floors(results)
    assert "top-1 11.50" in line and "mIoU 7.25" in line
    assert "not recorded" in trivial_floors({cls: {"metrics": {"top1": 50.0}}})


def test_stage_ids_spell_the_stage_names_and_group_seeds_without_parsing_them():
    from nodecode.reproduce.results import metric_values

    assert StageId("cls", "0.330", "cresnet51", seed=2).name == "cls-0.330-cresnet51-s2"
    assert StageId("seg", "0.0983", "cresnet51-d", variant="joint").name == (
        "seg-joint-0.0983-cresnet51-d"
    )
    assert StageId("cls", "q1", "cresnet39", "sigma", seed=0).name == "cls-q1-cresnet39-sigma-s0"
    assert StageId("rate-distortion").name == "rate-distortion"
    with pytest.raises(ValueError, match="unknown stage step 'train'"):
        StageId("train", "0.330")
    # Rows are typed: an input named "sigma" is not a seed, a seedless stage is its own row.
    results = {
        StageId("cls", "q1", "cresnet39", "sigma", seed=0): {"metrics": {"top1": 1.0}},
        StageId("cls", "q1", "cresnet39", "sigma", seed=1): {"metrics": {"top1": 2.0}},
        StageId("cls", "q1", "cresnet39", seed=0): {"metrics": {"top1": 3.0}},
        StageId("cls", "q1", "cresnet39", variant="comp"): {"metrics": {"top1": 4.0}},
    }
    assert metric_values(results, StageId("cls", "q1", "cresnet39", "sigma"), "top1") == [1, 2]
    assert metric_values(results, StageId("cls", "q1", "cresnet39"), "top1") == [3.0]
    row = StageId("cls", "q1", "cresnet39", variant="comp")
    assert metric_values(results, row, "top1") == [4.0]


def test_small_joint_adds_seeds_to_joint_training_and_reuses_every_other_stage():
    from nodecode.errors import ConfigError

    small = {s.name: s for s in build_plan(PRESETS["small"])}
    joint = {s.name: s for s in build_plan(PRESETS["small-joint"])}
    fine_tuning = {"joint", "compression", "eval"}
    finetuned = {n for n, s in joint.items() if s.id.step in fine_tuning or s.id.variant}
    # Three seeds of each fine-tuning chain at both rates, the first under its old names.
    assert {"joint-0.635", "joint-0.635-s1", "joint-0.0983-s2"} <= finetuned
    assert {"cls-comp-more-0.0983-cresnet51-s2", "seg-joint-0.635-cresnet51-d-s1"} <= finetuned
    assert len(finetuned) == 3 * len({n for n in small if n in joint and n in finetuned})
    assert joint["joint-0.635-s1"].params["seed"] == 1
    assert joint["joint-0.635"].params["epochs"] == 9
    # In bf16 (half the CPU time), both arms alike; small's 2-epoch runs stay fp32.
    arms = [s for s in joint.values() if s.kind == "joint"]
    assert len(arms) == 12 and all(s.params["precision"] == "bf16" for s in arms)
    assert "precision" not in small["joint-0.635"].params
    # Each fine-tuned codec's rate-distortion points are measured beside it, so the final
    # comparison needs only numbers from those stages.
    final = joint["rate-distortion"]
    assert all(joint[d.name].kind != "joint" for d in final.deps)
    assert joint["rate-distortion-joint-0.635-s1"].deps == (joint["joint-0.635-s1"].id,)
    # And both arms of each seed again at one rate, for claim 4's image quality.
    equal = joint["rate-distortion-equal-rate-0.0983-s2"]
    assert equal.deps == (joint["joint-0.0983-s2"].id, joint["compression-0.0983-s2"].id)
    assert equal.params["equal_rate"] == 0.97 and equal not in final.deps
    # Everything else has small's key: a small run's finished stages are reused.
    shared = set(small) & set(joint) - finetuned - {"rate-distortion"}
    assert shared and all(small[n].key == joint[n].key for n in shared)
    with pytest.raises(ConfigError, match="need their baseline classifiers"):
        dataclasses.replace(PRESETS["small"], joint_seeds=(0, 5))


def _fine_tuning_results() -> dict:
    """Two seeds of joint and compression-only fine-tuning at 0.635, as a run records them."""
    results = {}
    rows = []
    for s, (top1_j, top1_c) in zip((None, 1), ((60.0, 58.0), (62.0, 57.0)), strict=True):
        results[StageId("eval", "0.635", variant="joint", seed=s)] = {"metrics": {"top1": top1_j}}
        comp = StageId("cls", "0.635", "cresnet51", variant="comp-more", seed=s)
        results[comp] = {"metrics": {"top1": top1_c}}
        for mode, miou in (("joint", 16.0), ("compression", 15.0 + (s or 0))):
            seg = StageId("seg", "0.635", "cresnet51-d", variant=mode, seed=s)
            results[seg] = {"metrics": {"miou": miou}}
            results[StageId(mode, "0.635", seed=s)] = {}
            name = StageId(mode, "0.635", seed=s).name
            rows.append({"codec": name, "bpp": 0.5 + (s or 0) / 10, "ssim": 0.8, "ms_ssim": 0.9})
    results[StageId("rate-distortion")] = {"rows": rows}
    return results


def test_claim_4_averages_the_seeds_that_ran():
    from nodecode.reproduce.results import fine_tuning_summary

    summary = fine_tuning_summary(_fine_tuning_results(), "0.635")
    assert summary["joint"]["top1"] == 61.0 and summary["compression"]["top1"] == 57.5
    assert summary["compression"]["miou"] == 15.5 and summary["joint"]["seeds"] == 2
    assert summary["joint"]["bpp"] == pytest.approx(0.55)
    # Seeds 60 and 62: s.d. √2, standard error √2 / √2 = 1; equal mIoUs spread not at all.
    assert summary["joint"]["top1_se"] == pytest.approx(1.0)
    assert summary["joint"]["miou_se"] == 0.0


def test_claim_4_so_far_counts_the_seeds_whose_two_arms_finished():
    """A run under way is judged on complete seeds only; a fine-tuned codec's quality comes
    from its own rate-distortion stage when the final comparison has not run yet."""
    from nodecode.reproduce.results import fine_tuning_summary

    results = _fine_tuning_results()
    rows = results.pop(StageId("rate-distortion"))["rows"]
    for row in rows:  # as each fine-tuned codec's own stage records it: one point an image
        mode, _, rest = row["codec"].partition("-")
        seed = 1 if rest.endswith("-s1") else None
        own = StageId("rate-distortion", "0.635", variant=mode, seed=seed)
        points = [{k: row[k] + d for k in ("bpp", "ssim", "ms_ssim")} for d in (-0.01, 0.01)]
        results[own] = {"points": points}
    del results[StageId("seg", "0.635", "cresnet51-d", variant="compression", seed=1)]
    summary = fine_tuning_summary(results, "0.635")
    assert summary["joint"]["seeds"] == summary["compression"]["seeds"] == 1
    assert summary["joint"]["top1"] == 60.0 and summary["compression"]["top1"] == 58.0
    assert summary["joint"]["bpp"] == pytest.approx(0.5)
    del results[StageId("seg", "0.635", "cresnet51-d", variant="compression")]
    assert fine_tuning_summary(results, "0.635")["joint"]["seeds"] == 0


def test_claim_4_judges_image_quality_at_equal_rate_where_measured():
    """The joint codecs spend less here, so their plain SSIM loses; at one rate they win."""
    from nodecode.reproduce.claims import joint_training_claim

    results = _fine_tuning_results()
    for row in results[StageId("rate-distortion")]["rows"]:
        row["ssim"] = 0.80 if row["codec"].startswith("joint") else 0.85  # plain: a loss
    for s in (None, 1):
        points = {
            mode: [{"bpp": 0.4, "ssim": ssim + d, "ms_ssim": 0.9} for d in (-0.01, 0.01)]
            for mode, ssim in (("joint", 0.84 + (s or 0) / 1000), ("compression", 0.82))
        }
        results[StageId("rate-distortion", "0.635", variant="equal-rate", seed=s)] = {
            "equal_rate": points
        }
    evidence = joint_training_claim(results)["evidence"]
    # Seeds 0.840 and 0.841 against 0.820 twice: a win beyond 2 s.e.; MS-SSIM equal: a tie.
    assert "SSIM at equal rate 0.8405 ± 0.0005 vs 0.8200 ± 0.0000 (win)" in evidence
    tie = "MS-SSIM at equal rate 0.9000 ± 0.0000 vs 0.9000 ± 0.0000 (within noise)"
    assert tie in evidence
    assert "where SSIM 0.8000 vs 0.8500" in evidence  # the plain numbers, shown
    assert joint_training_claim(results)["verdict"] == "unresolved (within seed noise)"
    # A seed without the equal-rate stage: the plain numbers decide, as before such stages.
    del results[StageId("rate-distortion", "0.635", variant="equal-rate", seed=1)]
    claim = joint_training_claim(results)
    assert "at equal rate" not in claim["evidence"] and claim["verdict"] == "NOT held"
    assert "SSIM 0.8000 ± 0.0000 vs 0.8500 ± 0.0000 (loss)" in claim["evidence"]


def test_fig_7_draws_the_seeds_spread(tmp_path, monkeypatch):
    from matplotlib.collections import LineCollection

    from nodecode.reproduce import figures

    results = _fine_tuning_results()
    for s, top1 in ((None, 55.0), (1, 57.0)):  # the baseline classifier and segmenter, 2 seeds
        results[StageId("cls", "0.635", "cresnet51", seed=s)] = {"metrics": {"top1": top1}}
        results[StageId("seg", "0.635", "cresnet51-d", seed=s)] = {"metrics": {"miou": 14.0}}
    results[StageId("rate-distortion")]["rows"].append(
        {"codec": "paper-0.635", "bpp": 0.55, "ssim": 0.8, "ms_ssim": 0.9}
    )
    monkeypatch.setattr(figures, "codec_name", lambda results, op: "paper-0.635")
    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, path: drawn.append(fig))
    figures.figure_finetuning(results, tmp_path / "fig7.png")
    top1_panel = drawn[0].axes[0]
    bars = [c for c in top1_panel.collections if isinstance(c, LineCollection)]
    # top-1 error bars: baseline 55/57 and joint 60/62 (s.e. 1), compression 58/57 (s.e. 0.5)
    heights = sorted(
        float(abs(seg[1][1] - seg[0][1])) for bar in bars for seg in bar.get_segments()
    )
    assert heights == pytest.approx([1.0, 2.0, 2.0])  # ± s.e.: spans of 2 s.e.
    means = sorted(float(c.lines[0].get_ydata()[0]) for c in top1_panel.containers)
    assert means == pytest.approx([56.0, 57.5, 61.0])


def test_a_finished_stage_made_with_other_settings_is_discarded_only_when_asked(tmp_path, capsys):
    """small-matched shares small's stage names at other widths: pointed at a small run's
    folder, it must not silently delete that run's results."""
    from nodecode.reproduce.records import RESULT, finished_elsewise, stage_dir

    small = {s.name: s for s in build_plan(PRESETS["small"])}
    matched = build_plan(PRESETS["small-matched"])
    cls = small["cls-0.635-cresnet51-s0"]
    codec = small["codec-0.635"]
    for stage, key in ((cls, cls.key), (codec, "made-by-another-preset")):
        stage_dir(tmp_path, stage).mkdir(parents=True)
        (stage_dir(tmp_path, stage) / RESULT).write_text(json.dumps({"key": key}))
    assert {s.name for s in finished_elsewise(tmp_path, matched)} == {cls.name, codec.name}
    argv = ["reproduce", "--preset", "small-matched", "-o", str(tmp_path), "--only", "codec"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "1 finished stage(s) were made with other settings (codec-0.635)" in err
    assert "--replace" in err  # the classifier is not a codec stage: not in this run's way
    assert json.loads((stage_dir(tmp_path, codec) / RESULT).read_text())["key"] != codec.key
    assert main([*argv, "--replace"]) == 0
    assert json.loads((stage_dir(tmp_path, codec) / RESULT).read_text())["key"] == codec.key
    assert json.loads((stage_dir(tmp_path, cls) / RESULT).read_text())["key"] == cls.key


def test_a_result_file_cut_short_counts_as_unfinished(tmp_path):
    """A damaged result.json (a copy cut short) reruns its stage, with no JSON traceback."""
    from nodecode.reproduce.records import RESULT, finished_elsewise, load_result, stage_dir

    stage = build_plan(PRESETS["small"])[0]
    stage_dir(tmp_path, stage).mkdir(parents=True)
    (stage_dir(tmp_path, stage) / RESULT).write_text(json.dumps({"key": stage.key})[:9])
    assert load_result(tmp_path, stage) is None
    assert finished_elsewise(tmp_path, [stage]) == []
    (stage_dir(tmp_path, stage) / RESULT).write_text(json.dumps({"key": stage.key}))
    assert load_result(tmp_path, stage) == {"key": stage.key}


def test_small_matched_runs_width_1_networks_on_smalls_encodes():
    small = {s.name: s for s in build_plan(PRESETS["small"])}
    matched = {s.name: s for s in build_plan(PRESETS["small-matched"])}
    tasks = [s for s in matched.values() if s.kind in ("classifier", "segmenter")]
    assert tasks and all(s.params["width"] == 1.0 for s in tasks)
    assert all(s.params["precision"] == "bf16" and s.params["channels_last"] for s in tasks)
    assert all(s.key != small[s.name].key for s in tasks)
    shared = [n for n, s in matched.items() if s.kind in ("codec", "encode")]
    assert len(shared) == 6 and all(matched[n].key == small[n].key for n in shared)
    assert not any(s.kind == "joint" for s in matched.values())  # claim 4 is small-joint's


def _chain(tmp_path):
    """A plan in miniature: a shipped codec, a cache, a classifier on it, a rate-distortion
    stage that reads only the classifier's numbers, and a segmenter that reads the cache."""
    from nodecode.reproduce.plan import Stage, assign_keys

    codec, cache = StageId("codec", "0.635"), StageId("encode", "0.635")
    cls = StageId("cls", "0.635", "cresnet51", seed=0)
    rd, seg = StageId("rate-distortion", "0.635", variant="joint"), StageId("seg", "0.635", "x")
    stages = assign_keys(
        [
            Stage(codec, "codec", {"spec": "paper-0.635"}),
            Stage(cache, "encode", {}, (codec,)),
            Stage(cls, "evaluate", {"lr": 0.4}, (cache,)),
            Stage(rd, "rate-distortion", {}, (cls,)),
            Stage(seg, "evaluate", {}, (cache,)),
        ]
    )
    elsewhere = "/elsewhere/run/stages"
    saved = {
        codec.name: {"key": stages[0].key, "codec": "paper-0.635"},
        cache.name: {"key": stages[1].key, "latents": f"{elsewhere}/{cache.name}"},
        cls.name: {"key": stages[2].key, "model": f"{elsewhere}/{cls.name}/model.safetensors"},
        rd.name: {"key": stages[3].key, "points": [{"bpp": 0.5}]},
        seg.name: {"key": stages[4].key, "model": f"{elsewhere}/{seg.name}/model.safetensors"},
    }
    return stages, saved


def test_imported_results_skip_the_stages_whose_files_nothing_here_needs(tmp_path, monkeypatch):
    from nodecode.reproduce import records, runner

    stages, saved = _chain(tmp_path)
    codec, cache, cls, rd, seg = stages
    ran = []

    def fake(stage, deps, folder, device):
        ran.append(stage.name)
        (folder / "model.safetensors").write_bytes(b"weights")
        return {"model": str(folder / "model.safetensors")}

    monkeypatch.setattr(runner, "RUNNERS", dict.fromkeys(runner.RUNNERS, fake))
    # Everything finished elsewhere: nothing runs, and the run's results.json has it all.
    out = tmp_path / "all"
    assert records.import_results(stages, out, saved) == stages
    runner.run_plan(stages, out, log=lambda _: None)
    assert ran == []
    assert records.read_results(out / records.RESULTS) == saved
    # The report reads the segmenter's weights: it runs again here, and so does the cache it
    # reads, whose files stayed elsewhere too; the shipped codec needs nothing.
    assert records.lacking_files(stages, out, {seg.id}) == [cache, seg]
    records.forget(out, [cache, seg])
    runner.run_plan(stages, out, log=lambda _: None)
    assert ran == [cache.name, seg.name] and records.lacking_files(stages, out, {seg.id}) == []
    ran.clear()
    # The segmenter did not finish there: it needs the cache's files, so the cache runs again
    # here; the classifier and its numbers-only consumer are taken as they are.
    out = tmp_path / "partial"
    unfinished = {k: v for k, v in saved.items() if k != seg.name}
    imported = records.import_results(stages, out, unfinished)
    assert imported == [codec, cls, rd]
    runner.run_plan(stages, out, log=lambda _: None)
    assert ran == [cache.name, seg.name]
    # A cache that a stage still to run reads runs again too; a shipped codec's name is no file.
    out = tmp_path / "cache-only"
    assert records.import_results(stages, out, {n: saved[n] for n in (codec.name, cache.name)}) == [
        codec
    ]
    # Results made with other settings are never imported, nor over a result of this run's.
    changed = saved | {cls.name: saved[cls.name] | {"key": "other settings"}}
    assert cls not in records.import_results(stages, tmp_path / "changed", changed)
    folder = records.stage_dir(tmp_path / "mine", rd)
    folder.mkdir(parents=True)
    (folder / records.RESULT).write_text(json.dumps({"key": "from another preset"}))
    assert rd not in records.import_results(stages, tmp_path / "mine", saved)
    assert json.loads((folder / records.RESULT).read_text())["key"] == "from another preset"


def test_importing_a_damaged_results_file_names_it(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text('{"encode-0.635": {"key": ')
    argv = ["reproduce", "--preset", "tiny", "-o", str(tmp_path / "run"), "--import-results"]
    assert main([*argv, str(bad)]) == 1
    bad.write_text('["not", "a", "mapping"]')
    assert main([*argv, str(bad)]) == 1
    assert not (tmp_path / "run" / "stages").exists()


def test_stages_feed_a_gpu_from_loader_processes_and_keep_one_on_a_cpu(monkeypatch, tmp_path):
    """The paper preset's networks train beside a GPU on 8 DataLoader processes; on a CPU
    they would take its cores, so none there."""
    from nodecode.reproduce import runner
    from nodecode.train import joint, tasks

    seen = []

    def record(config, folder, resume, device):
        seen.append((config.workers, device))
        return {}

    monkeypatch.setattr(tasks, "train_task", record)
    monkeypatch.setattr(joint, "train_joint", record)
    plan = {s.name: s for s in build_plan(PRESETS["paper"])}
    cls, ft = plan["cls-0.635-cresnet51-s0"], plan["joint-0.635"]
    deps = [{"latents": "cache", "codec": "paper-0.635", "model": "cls.safetensors"}]
    for device, workers in (("cuda", 8), ("cpu", 0)):
        runner._task(cls, deps, tmp_path, device)
        runner._joint(ft, deps, tmp_path, device)
        assert seen[-2:] == [(workers, device)] * 2
    assert ft.params["precision"] == "bf16"  # the paper preset's joint training, as its networks'


def test_a_saved_runs_claims_are_judged_again_from_its_numbers_alone():
    """scripts/judge_claims.py on the committed small run: no weights or caches on this
    machine, so MACs come from the plan's description of each network."""
    from pathlib import Path

    from nodecode.reproduce.claims import claims
    from nodecode.reproduce.records import read_results
    from nodecode.reproduce.results import with_networks

    saved = read_results(Path("docs/reproduction/small/results.json"))
    stages = build_plan(PRESETS["small"])
    assert not Path(saved["cls-0.635-cresnet51-s0"]["model"]).exists()
    results = with_networks({s.id: saved[s.name] for s in stages if s.name in saved}, stages)
    verdicts = claims(results, 64)
    assert [c["verdict"] for c in verdicts[:3]] == ["different result"] * 3
    assert "cResNet-51 5.2 MMACs (47.80×)" in verdicts[1]["evidence"]


def test_a_small_plans_device_time_is_given_in_minutes_not_rounded_to_zero_hours():
    from nodecode.cli.reproduce import _device_time

    assert _device_time(44.2) == "44 H100-hours"
    assert _device_time(0.0089) == "0.5 H100-minutes"


def test_a_dry_run_shows_how_far_a_run_got_here_and_elsewhere(tmp_path, capsys):
    """The state column: stages done in --out, or in an --import-results file with the same
    settings, with their scores; a result made with other settings does not count, and the
    dry run writes nothing."""
    stages = {s.name: s for s in build_plan(PRESETS["tiny"])}
    cls, seg = stages["cls-0.635-cresnet51-s0"], stages["seg-0.635-cresnet51-d-s0"]
    out = tmp_path / "run"
    folder = out / "stages" / cls.name
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(
        json.dumps({"key": cls.key, "metrics": {"top1": 41.25, "val_top1": 40.5}})
    )
    saved = {
        seg.name: {"key": seg.key, "metrics": {"miou": 12.345}},
        "cls-0.330-cresnet51-s0": {"key": "other settings", "metrics": {"top1": 99.0}},
    }
    elsewhere = tmp_path / "results.json"
    elsewhere.write_text(json.dumps(saved))
    argv = ["reproduce", "--preset", "tiny", "--dry-run", "-o", str(out)]
    assert main([*argv, "--import-results", str(elsewhere)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert rows[cls.name].endswith("done: top-1 41.25 (val 40.50)")
    assert rows[seg.name].endswith("done elsewhere: mIoU 12.35")
    assert rows["cls-0.330-cresnet51-s0"].endswith("to run")
    assert rows["2"].startswith(f"2 of {len(stages)} stages done (1 of them in the --import")
    assert sorted(p.name for p in (out / "stages").iterdir()) == [cls.name]
