"""Training-step time in fp32 and under bf16 autocast, for the presets' precision choices.

One SGD step (forward, backward, update) of the width-1.0 paper codec as joint training
takes it (MSE + rate hinge, 64² crops) and of width-1.0 ResNet-50 / cResNet-51 as the
`small-matched` preset trains them (64² images; 8×8 latents), at batch 64. bf16 runs the
networks in channels-last memory, as `train-classifier --precision bf16` does. Weights
and losses stay fp32. Times are the median of `--steps` steps after one warm-up step.

.venv/bin/python scripts/bench_precision.py --threads 2
"""

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from nodecode.codec.loss import rate_distortion_loss
from nodecode.codec.zoo import load_codec
from nodecode.models import create
from nodecode.utils.precision import PRECISIONS, autocast

BATCH = 64


def codec_step(precision: str) -> Callable[[], None]:
    codec = load_codec("paper-0.635").train()
    optimizer = torch.optim.SGD(codec.parameters(), lr=1e-4)
    x = torch.rand(BATCH, 3, 64, 64)

    def step() -> None:
        with autocast("cpu", precision):
            output = codec(x)
            loss, _ = rate_distortion_loss(x, output, codec.config)
        optimizer.zero_grad()
        loss.float().backward()
        optimizer.step()

    return step


def network_step(name: str, channels: int, side: int, precision: str) -> Callable[[], None]:
    net = create(name, num_classes=10, in_channels=channels, width=1.0).train()
    x = torch.rand(BATCH, channels, side, side)
    if precision == "bf16":
        net, x = (
            net.to(memory_format=torch.channels_last),
            x.contiguous(memory_format=torch.channels_last),
        )
    labels = torch.randint(0, 10, (BATCH,))
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3)

    def step() -> None:
        with autocast("cpu", precision):
            loss = F.cross_entropy(net(x).float(), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def median_seconds(step: Callable[[], None], steps: int) -> float:
    step()  # warm-up: oneDNN picks its kernels
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = {
        "paper-0.635 codec, joint step": lambda p: codec_step(p),
        "ResNet-50 (64² RGB)": lambda p: network_step("resnet50", 3, 64, p),
        "cResNet-51 (8×8 latent)": lambda p: network_step("cresnet51", 32, 8, p),
    }
    print(f"batch {BATCH}, {args.threads} thread(s), median of {args.steps} steps (s)")
    print("| model | " + " | ".join(PRECISIONS) + " | fp32 ÷ bf16 |")
    print("|---|" + "---|" * (len(PRECISIONS) + 1))
    for name, make in cases.items():
        seconds = {p: median_seconds(make(p), args.steps) for p in PRECISIONS}
        ratio = seconds["fp32"] / seconds["bf16"]
        cells = " | ".join(f"{seconds[p]:.2f}" for p in PRECISIONS)
        print(f"| {name} | {cells} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
