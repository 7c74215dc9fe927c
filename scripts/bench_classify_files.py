"""`nodecode classify` over many files against the same work in a warm process (issue 14).

Writes N `.ndc` files (224² crops of the bundled photos, codec of the model), then times
(a) `nodecode.classify(files)` in this process after a warm-up call, and (b) the command
`nodecode classify FILES` as a user runs it (start-up, imports and model loading included).
The target: (b) reaches at least 80 % of (a)'s files per second.

.venv/bin/python scripts/bench_classify_files.py --files 1000
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
from nodecode.models.zoo import load_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--model", default="cresnet51-0.330")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    _, meta = load_task(args.model)
    codec = load_codec(meta["codec"]).eval()
    photos = list(load_images("photos:train").values())
    generator = torch.Generator().manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
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
