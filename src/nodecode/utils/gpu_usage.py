"""How busy a GPU was while a piece of work ran: mean utilisation and peak memory.

A run on an accelerator is judged by its wall-clock and by whether the GPU was kept fed
(DataLoader workers, on-the-fly decoding); torch counts memory but not utilisation, so a
thread samples the driver's utilisation counter (NVML through `torch.cuda.utilization`,
else `nvidia-smi`) once per interval while the work runs.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import torch

Probe = Callable[[], float | None]


def utilization_probe(device: torch.device) -> Probe | None:
    """A function giving the GPU's utilisation in % now, or None where nothing can tell
    (no NVML module and no `nvidia-smi`)."""
    index = device.index if device.index is not None else torch.cuda.current_device()
    try:
        torch.cuda.utilization(index)
        return lambda: float(torch.cuda.utilization(index))
    except Exception:  # NVML's Python module is optional; fall back on the driver's tool
        pass
    command = [
        "nvidia-smi",
        f"--id={index}",
        "--query-gpu=utilization.gpu",
        "--format=csv,noheader,nounits",
    ]

    def smi() -> float | None:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=True)
            return float(done.stdout.strip().splitlines()[0])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            return None

    return smi if smi() is not None else None


class GpuUsage:
    """Context manager: samples `probe` every `interval` s in a thread while the body runs;
    `summary()` gives the mean utilisation and, on a CUDA device, peak memory. On a CPU
    (or with no probe) it records nothing and costs nothing."""

    def __init__(
        self, device: str | torch.device, interval: float = 1.0, probe: Probe | None = None
    ) -> None:
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.interval = interval
        self.probe = probe if probe is not None or not self.cuda else utilization_probe(self.device)
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GpuUsage:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        if self.probe is not None:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _sample(self) -> None:
        assert self.probe is not None
        while True:
            value = self.probe()
            if value is not None:
                self.samples.append(value)
            if self._stop.wait(self.interval):
                return

    def summary(self) -> dict[str, Any]:
        """`gpu_utilization` (mean %, over `gpu_samples` samples) where sampled, and
        `gpu_memory_peak_gb` on a CUDA device; empty on a CPU."""
        found: dict[str, Any] = {}
        if self.samples:
            found["gpu_utilization"] = round(sum(self.samples) / len(self.samples), 1)
            found["gpu_samples"] = len(self.samples)
        if self.cuda:
            peak = torch.cuda.max_memory_allocated(self.device)
            found["gpu_memory_peak_gb"] = round(peak / 1e9, 2)
        return found
