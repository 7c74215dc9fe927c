"""`nodecode classify` over many files against the same work in a warm process (issue 14).

Writes N `.ndc` files (224² crops of the bundled photos, codec of the model), then times
(a) `nodecode.classify(files)` in this process after a warm-up call, and (b) the command
`nodecode classify FILES` as a user runs it (start-up, imports and model loading included).
The target: (b) reaches at least 80 % of (a)'s files per second.

.venv/bin/python scripts/bench_classify_files.py --files 1000
.venv/bin/python scripts/bench_classify_files.py --files 1000 --paper-width
    # an untrained cResNet-39 at the paper's width on paper-0.330 latents, 1,000 classes
    # (speed does not depend on the weights)
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import nodecode
from nodecode.codec import load_codec
from nodecode.codec.files import compress_image
from nodecode.data.images import load_images
from nodecode.models import create
from nodecode.models.checkpoint import TaskModelInfo, write_task_model
from nodecode.models.zoo import task_model_info


def write_paper_width_model(path: Path, codec) -> None:  # noqa: ANN001 - a paper codec
    network = create("cresnet39", num_classes=1000, in_channels=codec.latent_channels, width=1.0)
    info = TaskModelInfo(
        model="cresnet39",
        task="classification",
        input="latent",
        num_classes=1000,
        in_channels=codec.latent_channels,
        width=1.0,
        classes=tuple(f"class{i}" for i in range(1000)),
        codec=codec.name,
        codec_id=codec.identity().hex(),
    )
    write_task_model(path, network.eval(), info)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--model", default="cresnet51-0.330")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--paper-width", action="store_true")
    args = parser.parse_args()
    photos = list(load_images("photos:train").values())
    generator = torch.Generator().manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        if args.paper_width:
            args.model = str(Path(tmp) / "cresnet39-paper.safetensors")
            codec = load_codec("paper-0.330").eval()
            write_paper_width_model(Path(args.model), codec)
        else:
            codec = load_codec(task_model_info(args.model).codec).eval()
        files = []
        for i in range(args.files):
            photo = photos[i % len(photos)]
            top = int(torch.randint(photo.shape[-2] - args.size + 1, (1,), generator=generator))
            left = int(torch.randint(photo.shape[-1] - args.size + 1, (1,), generator=generator))
            crop = photo[:, top : top + args.size, left : left + args.size]
            files.append(Path(tmp) / f"{i:05d}.ndc")
            compress_image(codec, crop, files[-1])
        nodecode.classify(files[: args.batch_size], model=args.model)  # warm-up
        start = time.perf_counter()
        nodecode.classify(files, model=args.model, batch_size=args.batch_size)
        in_process = time.perf_counter() - start
        command = [sys.executable, "-m", "nodecode", "classify", *map(str, files)]
        command += ["--model", args.model, "--batch-size", str(args.batch_size)]
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        cli = time.perf_counter() - start
    print(f"{args.files} files of {args.size}², {args.model}, batch {args.batch_size}")
    print(f"in process: {in_process:.2f} s ({args.files / in_process:.1f} files/s)")
    print(f"command:    {cli:.2f} s ({args.files / cli:.1f} files/s)")
    print(f"command / in process throughput: {in_process / cli:.1%}")


if __name__ == "__main__":
    main()
