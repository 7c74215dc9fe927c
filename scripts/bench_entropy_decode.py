"""Time the entropy-decoding checks of docs/FORMAT.md on one photo, one CPU thread.

.venv/bin/python scripts/bench_entropy_decode.py [--codec paper-0.330] [--image skimage-coffee]
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch
from compressai.ans import RansDecoder

from nodecode.bitstream.container import read_ndc
from nodecode.bitstream.rans import _coder_args, decode_symbols
from nodecode.codec import load_codec
from nodecode.codec.files import compress_image
from nodecode.data.images import load_images


def milliseconds(step, repeats: int = 10) -> float:
    step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--codec", default="paper-0.330")
    parser.add_argument("--image", default="skimage-coffee", help="a photos:test image")
    args = parser.parse_args()
    torch.set_num_threads(1)
    image = load_images("photos:test")[args.image]
    codec = load_codec(args.codec)
    cdfs = codec.cdfs.cpu()
    with tempfile.TemporaryDirectory() as tmp:
        compress_image(codec, image, Path(tmp) / "a.ndc")
        header, payload = read_ndc(Path(tmp) / "a.ndc")
    shape = header.latent_shape

    def unchecked():
        RansDecoder().decode_with_indexes(payload, *_coder_args(shape, cdfs))

    symbols = decode_symbols(payload, shape, cdfs)
    print(f"{args.image} {tuple(image.shape)}, {args.codec}: symbols {shape}, {len(payload)} B")
    print(f"CompressAI decode, unchecked: {milliseconds(unchecked):.1f} ms")
    checked = milliseconds(lambda: decode_symbols(payload, shape, cdfs, canonical=False))
    print(f"padded + alphabet check:      {checked:.1f} ms")
    canonical = milliseconds(lambda: decode_symbols(payload, shape, cdfs))
    print(f"+ canonical re-encode check:  {canonical:.1f} ms")
    network = milliseconds(lambda: codec.decode(symbols[None]), 3)
    print(f"decoder network g_s:          {network:.1f} ms")


if __name__ == "__main__":
    main()
