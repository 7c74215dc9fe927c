"""Gupta et al.'s comparison as a reproduction plan: every stage runs on a micro preset
(a hyperprior trained for a few steps here, the paper's width-0.5 codec beside it), and
the report's table holds each latent's top-1 and each codec's measured rate."""

from dataclasses import replace

import pytest

from nodecode.cli.main import main
from nodecode.data.latent_cache import LatentCache
from nodecode.reproduce.gupta import GUPTA_PRESETS, build_gupta_plan, write_gupta_report
from nodecode.reproduce.runner import run_plan
from nodecode.reproduce.stage_id import StageId

MICRO = replace(
    GUPTA_PRESETS["gupta-tiny"],
    name="gupta-micro",
    qualities=(1,),
    codec_steps=2,
    codec_data="skimage:train",
    codec_crop=64,
    codec_batch=2,
    paper_codecs=("small-0.0983",),
    matched=((1, "small-0.330"),),
    width=0.0625,
    epochs=1,
    rate_images=4,
)


def test_the_plan_covers_every_latent_codec_and_baseline():
    names = [s.name for s in build_gupta_plan(GUPTA_PRESETS["gupta-small"])]
    for q in (1, 2, 3):
        for input in ("y", "sigma", "y+sigma"):
            assert [f"cls-q{q}-cresnet39-{input}-s{s}" in names for s in (0, 1, 2)] == [True] * 3
        assert f"cls-q{q}-resnet50-decoded-s2" in names and f"rate-q{q}" in names
    assert "cls-paper-0.330-cresnet39-latent-s0" in names and "cls-rgb-resnet50-s2" in names
    assert {"joint-q2", "rate-joint-q2", "eval-joint-q2"} <= set(names)
    # the paper's codec again at each quality's measured rate (rate control)
    stages = {s.name: s for s in build_gupta_plan(GUPTA_PRESETS["gupta-small"])}
    matched = stages["encode-at-q2-paper-0.635"]
    assert [d.name for d in matched.deps] == ["codec-paper-0.635", "rate-q2"]
    assert matched.params["capped"] and "capped at rate-q2's bpp" in matched.describe()
    assert "cls-at-q1-paper-0.330-cresnet39-latent-s2" in stages
    zoo = build_gupta_plan(GUPTA_PRESETS["gupta-zoo"])
    assert next(s for s in zoo if s.name == "codec-q3").params == {
        "spec": "compressai:bmshj2018-hyperprior:3"
    }


@pytest.mark.slow
def test_gupta_small_holds_out_a_validation_split_and_gupta_cpu_runs_as_published():
    def fractions(name):
        stages = build_gupta_plan(GUPTA_PRESETS[name])
        return {s.params.get("val_fraction") for s in stages if s.kind == "classifier"}

    assert fractions("gupta-small") == fractions("gupta-minc") == {0.1}
    assert fractions("gupta-cpu") == fractions("gupta-tiny") == {None}  # keys as before


def test_a_micro_run_fills_the_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NODECODE_CACHE", str(tmp_path / "cache"))
    results = run_plan(build_gupta_plan(MICRO), tmp_path, log=lambda _: None)
    report = write_gupta_report(MICRO, results, tmp_path, "cmd").read_text()
    row = next(line for line in report.splitlines() if "bmshj2018-hyperprior:1" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[1]) == pytest.approx(results[StageId("rate", "q1")]["bpp"], abs=5e-4)
    for column, input in zip(cells[2:5], ("y", "sigma", "y+sigma"), strict=True):
        stage = results[StageId("cls", "q1", "cresnet39", input, seed=0)]
        assert column == f"{stage['metrics']['top1']:.2f}"  # each cell is its own stage's
    decoded = results[StageId("cls", "q1", "resnet50", "decoded", seed=0)]["metrics"]["top1"]
    assert cells[6] == f"{decoded:.2f}"
    joint = next(line for line in report.splitlines() if ":1, joint |" in line)
    evaluated = results[StageId("eval", "q1", variant="joint")]["metrics"]["top1"]
    assert joint.count("—") == 4 and f"| {evaluated:.2f} |" in joint
    paper = next(line for line in report.splitlines() if line.startswith("| small-0.0983"))
    assert paper.count("—") == 4  # only the latent column for the paper's codec
    capped = next(line for line in report.splitlines() if "capped at q1's rate" in line)
    cells = [c.strip() for c in capped.strip("|").split("|")]
    rate = results[StageId("rate", "small-0.330", variant="at-q1")]
    assert rate["cap"] == results[StageId("rate", "q1")]["bpp"] >= rate["bpp"]
    assert float(cells[1]) == pytest.approx(rate["bpp"], abs=5e-4)
    folder = results[StageId("encode", "small-0.330", variant="at-q1")]["latents"]
    cache = LatentCache(folder, "classification", "test", "latent")
    assert cache.shards[0].meta["bpp_cap"] == rate["cap"]  # the networks read capped latents
    latent = StageId("cls", "small-0.330", "cresnet39", "latent", seed=0, variant="at-q1")
    assert cells[5] == f"{results[latent]['metrics']['top1']:.2f}" and capped.count("—") == 4
    assert main(["reproduce", "--preset", "gupta-tiny", "--codecs", "small"]) == 1
    assert "--codecs applies" in capsys.readouterr().err


def test_codec_stages_run_alone_in_time_limited_chunks_and_resume(tmp_path):
    import pytest

    from nodecode.errors import ConfigError
    from nodecode.reproduce.records import stage_dir
    from nodecode.reproduce.runner import StageIncomplete, _codec
    from nodecode.train.state import saved_step

    plan = build_gupta_plan(replace(MICRO, codec_steps=3))
    codec = next(s for s in plan if s.name == "codec-q1")
    folder = stage_dir(tmp_path, codec)
    folder.mkdir(parents=True)
    (folder / "key").write_text(codec.key)
    with pytest.raises(StageIncomplete, match="step 1 of 3"):
        _codec(codec, [], folder, "cpu", time_limit=0.0)  # one step, then out of time
    assert saved_step(folder / "codec.state.pt") == 1
    results = run_plan(plan, tmp_path, kinds={"codec"}, log=lambda _: None)
    assert set(results) == {s.id for s in plan if s.kind == "codec"}  # nothing else ran
    assert saved_step(folder / "codec.state.pt") == 3  # resumed, not restarted
    assert run_plan(plan, tmp_path, kinds={"codec"}, time_limit=0.0, log=print) == results
    with pytest.raises(ConfigError, match="needs codec-q1|not done"):
        run_plan(plan, tmp_path / "other", kinds={"rate"}, log=lambda _: None)


def test_only_names_stage_kinds(tmp_path, capsys):
    argv = ["reproduce", "--preset", "gupta-tiny", "-o", str(tmp_path), "--only", "codecs"]
    assert main(argv) == 1
    assert "unknown stage kind codecs" in capsys.readouterr().err
