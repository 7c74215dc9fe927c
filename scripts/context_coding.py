"""What entropy coding in context buys (docs/RESULTS.md §2c).

For each shipped paper codec: the mean rate of the photo corpus's splits under the static
per-channel tables (ideal code length) and as real context-coded files (header included);
with --levels, the codec refitted at each number of levels (tables from photos:train):
held-out file rate and the time to entropy-decode one 224² crop (checked, one thread);
with --folds, the training photos' file rate with tables cross-fitted over that many folds
(what `calibrate-codec --folds` measures).

    python scripts/context_coding.py [--folds 5] [--levels 1 2 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from nodecode.bitstream.tables import symbol_bits
from nodecode.codec.files import compressed_bytes
from nodecode.codec.zoo import load_codec
from nodecode.data.images import load_images
from nodecode.train.calibrate import measured_bpp
from nodecode.train.codec import refit_tables

OPS = ("0.0983", "0.330", "0.635")
SPLITS = ("train", "val", "test")


def mean_rates(codec, photos: dict[str, torch.Tensor]) -> tuple[float, float]:
    """(static ideal bpp, context-coded file bpp), means over the photos."""
    static, files = [], []
    for image in photos.values():
        pixels = image.shape[-1] * image.shape[-2]
        static.append(symbol_bits(codec.encode(image[None])[0], codec.cdfs) / pixels)
        files.append(8 * len(compressed_bytes(codec, image)) / pixels)
    return float(np.mean(static)), float(np.mean(files))


def decode_ms(codec, image: torch.Tensor, repeats: int = 50) -> float:
    symbols = codec.encode(image[None, :, :224, :224])
    strings = codec.compress_symbols(symbols)
    codec.decompress_symbols(strings, tuple(symbols.shape[-2:]))
    start = time.perf_counter()
    for _ in range(repeats):
        codec.decompress_symbols(strings, tuple(symbols.shape[-2:]))
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="*", default=[])
    parser.add_argument("--folds", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    photos = {split: load_images(f"photos:{split}") for split in SPLITS}
    crossfit = [f"train, {args.folds}-fold cross-fitted"] if args.folds else []
    columns = [f"{s}: static → context (bpp)" for s in SPLITS] + crossfit
    print("| codec | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for op in OPS:
        codec = load_codec(f"paper-{op}")
        cells = []
        for split in SPLITS:
            static, coded = mean_rates(codec, photos[split])
            cells.append(f"{static:.4f} → {coded:.4f} ({coded / static - 1:+.1%})")
            if split == "train":
                in_sample = coded
        if args.folds:
            held_out = measured_bpp(codec, photos["train"], args.folds)
            cells.append(f"{held_out:.4f} ({held_out / in_sample - 1:+.1%} vs in-sample)")
        print(f"| paper-{op} | " + " | ".join(cells) + " |", flush=True)
    if not args.levels:
        return
    crop = next(iter(photos["test"].values()))
    print("\n| codec | levels | test bpp | decode 224² (ms) |\n|---|---|---|---|")
    for op in OPS:
        shipped = load_codec(f"paper-{op}")
        for levels in [0, *args.levels]:
            codec = refit_tables(shipped, photos["train"], levels)
            _, coded = mean_rates(codec, photos["test"])
            ms = decode_ms(codec, crop)
            print(f"| paper-{op} | {levels} | {coded:.4f} | {ms:.2f} |", flush=True)


if __name__ == "__main__":
    main()
