"""Does `torch.compile` pay for the networks at batch 1? Eager vs compiled (inductor), fp32,
batch norms folded and channels-last as `classify` runs them, paper widths.

.venv/bin/python scripts/bench_compile.py [--threads 2] [--repeats 20]
"""

import argparse
import time

import torch

from nodecode.models import create
from nodecode.models.inference import for_inference


def milliseconds(network, x: torch.Tensor, repeats: int) -> float:
    with torch.inference_mode():
        for _ in range(3):
            network(x)
        start = time.perf_counter()
        for _ in range(repeats):
            network(x)
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = (("cresnet39", 16, (1, 16, 28, 28)), ("resnet50", 3, (1, 3, 224, 224)))
    for name, channels, shape in cases:
        net = for_inference(create(name, num_classes=1000, in_channels=channels).eval())
        x = torch.rand(shape).contiguous(memory_format=torch.channels_last)
        eager = milliseconds(net, x, args.repeats)
        start = time.perf_counter()
        compiled = torch.compile(net)
        with torch.inference_mode():
            compiled(x)
        compile_s = time.perf_counter() - start
        fast = milliseconds(compiled, x, args.repeats)
        print(f"{name}: eager {eager:.1f} ms, compiled {fast:.1f} ms", end=" ")
        print(f"(compiling took {compile_s:.0f} s)")


if __name__ == "__main__":
    main()
