"""`nodecode bench` measures every path stage by stage on real files (tiny sizes here;
the numbers themselves belong in docs/RESULTS.md, not in tests)."""

import json

from nodecode.cli.main import main
from nodecode.codec import save_codec


def test_bench_times_every_path_and_stage(tmp_path, tiny_codec, capsys):
    save_codec(tiny_codec, tmp_path / "tiny.safetensors")
    argv = ["bench", "--codec", str(tmp_path / "tiny.safetensors"), "--batch-sizes", "1", "2"]
    argv += ["--rounds", "2", "--width", "0.0625", "--size", "32", "--seg-size", "40"]
    argv += ["--json", str(tmp_path / "bench.json"), "--figure", str(tmp_path / "bench.png")]
    assert main(argv) == 0
    result = json.loads((tmp_path / "bench.json").read_text())
    rows = result["rows"]
    assert len(rows) == 9 * 2  # every pipeline at every batch size
    stages = {
        "latent": {"entropy decode", "dequantize", "network"},
        "decoded": {"entropy decode", "g_s", "network"},
        "jpeg": {"jpeg decode", "network"},
    }
    for row in rows:
        assert set(row["stage_ms"]) == stages[row["path"]] and len(row["rounds"]) == 2
        total = sorted(sum(r.values()) for r in row["rounds"])
        assert row["total_ms"]["min"] == 1000 * total[0]  # per image: stage time / batch
        assert row["network_gmacs"] > 0 and (row["decoder_gmacs"] > 0) == (row["path"] == "decoded")
    reference = next(
        r for r in rows if (r["path"], r["network"], r["batch"]) == ("decoded", "resnet50", 2)
    )
    assert reference["speedup_vs_decoded"] == 1.0
    assert result["peak_gmacs_per_s"] > 0
    assert (tmp_path / "bench.png").stat().st_size > 1000
    assert "× decoded" in capsys.readouterr().out


def tiny_classification(**levers):
    from nodecode.evaluate.bench import BenchConfig

    tiny = {"batch_sizes": (1,), "rounds": 1, "width": 0.0625, "sizes": {"classification": 32}}
    return BenchConfig(tasks=("classification",), **tiny, **levers)


def test_fast_and_bf16_apply_to_every_network(tiny_codec, monkeypatch):
    import nodecode.evaluate.bench as bench

    prepared, original = [], bench.for_inference

    def counting(network, *args):
        prepared.append(fast := original(network, *args))
        return fast

    monkeypatch.setattr(bench, "for_inference", counting)
    result = bench.run_bench(tiny_classification(fast=True, precision="bf16"), tiny_codec)
    pipelines = [p for p in bench.PIPELINES if p[0] == "classification"]
    assert len(prepared) == len(result["rows"]) == len(pipelines)
    for network in prepared:  # batch norms folded away, weights channels-last
        assert not any(isinstance(m, bench.nn.BatchNorm2d) for m in network.modules())
    assert result["config"]["precision"] == "bf16"


def test_compile_applies_to_every_network_and_the_decoder(tiny_codec, compiled_modules):
    import nodecode.evaluate.bench as bench

    synthesis = tiny_codec.g_s
    result = bench.run_bench(tiny_classification(compile=True), tiny_codec)
    assert len(compiled_modules) == len(result["rows"]) + 1  # each network, and g_s
    assert synthesis in compiled_modules and tiny_codec.g_s is synthesis  # caller's codec kept
