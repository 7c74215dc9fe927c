"""Per-stage device records: the wall-clock and GPU utilisation a GPU run reports."""

import itertools
import threading

from nodecode.utils.gpu_usage import GpuUsage


def test_utilisation_is_the_mean_of_the_samples_taken_while_the_body_ran():
    readings = itertools.cycle([90.0, None, 30.0])  # None: the driver could not tell
    taken = threading.Event()
    calls = []

    def probe():
        calls.append(1)
        if len(calls) >= 6:
            taken.set()
        return next(readings)

    with GpuUsage("cpu", interval=0.001, probe=probe) as usage:
        assert taken.wait(10)
    count = len(usage.samples)
    assert usage.samples[:4] == [90.0, 30.0, 90.0, 30.0]
    summary = usage.summary()
    assert summary["gpu_samples"] == count
    assert summary["gpu_utilization"] == round(sum(usage.samples) / count, 1)
    assert "gpu_memory_peak_gb" not in summary  # a CPU device has no CUDA memory to count
    after = len(calls)
    threading.Event().wait(0.05)
    assert len(calls) == after  # the sampler stopped with the body


def test_on_a_cpu_nothing_is_sampled_or_recorded():
    with GpuUsage("cpu") as usage:
        pass
    assert usage.probe is None and usage.summary() == {}


def test_a_run_records_where_each_stage_ran_and_the_report_shows_it(tmp_path, monkeypatch):
    """The runner wraps each stage in GpuUsage and keeps its summary beside the stage's
    seconds; the report's stage table gains the device and GPU columns, and a mean weighted
    by wall-clock, only where stages recorded them."""
    from nodecode.reproduce import runner
    from nodecode.reproduce.plan import Stage, assign_keys
    from nodecode.reproduce.report import stage_table
    from nodecode.reproduce.stage_id import StageId

    stages = assign_keys(
        [
            Stage(StageId("cls", "0.330", "x", seed=0), "evaluate", {}),
            Stage(StageId("cls", "0.635", "x", seed=0), "evaluate", {}),
        ]
    )

    class FakeUsage:
        def __init__(self, device):
            self.device = device

        def __enter__(self):
            return self

        def __exit__(self, *error):
            return None

        def summary(self):
            return {"gpu_utilization": 80.0, "gpu_samples": 3, "gpu_memory_peak_gb": 1.5}

    monkeypatch.setattr(runner, "RUNNERS", dict.fromkeys(runner.RUNNERS, lambda *a: {}))
    results = runner.run_plan(stages, tmp_path, log=lambda _: None)
    assert all(r["device"].startswith("cpu") for r in results.values())
    plain = "\n".join(stage_table(stages, results))
    assert "device" in plain and "GPU util" not in plain and "GPU utilisation" not in plain

    monkeypatch.setattr(runner, "GpuUsage", FakeUsage)
    results = runner.run_plan(stages, tmp_path / "gpu", log=lambda _: None)
    assert all(r["gpu_utilization"] == 80.0 for r in results.values())
    results[stages[0].id]["gpu_utilization"] = 40.0
    results[stages[0].id]["seconds"] = 3.0
    results[stages[1].id]["seconds"] = 1.0
    table = "\n".join(stage_table(stages, results))
    assert "| GPU util. % | GPU peak GB |" in table
    assert "2 stage(s) that sampled it: 50.0 %" in table  # (40·3 + 80·1) / 4
