"""Time entropy decoding and its checks (docs/FORMAT.md) on one photo, one CPU thread:
the static per-channel tables and, for codecs that code in context, the context coder, on
the same symbols; then the whole read path of a file and the decoder network.

.venv/bin/python scripts/bench_entropy_decode.py [--codec paper-0.330] [--image skimage-coffee]
    [--crop 224]
"""

import argparse
import time

import torch
from compressai.ans import RansDecoder

from nodecode.bitstream.container import parse_ndc
from nodecode.bitstream.rans import decode_symbols, encode_symbols
from nodecode.codec import load_codec
from nodecode.codec.files import compressed_bytes, symbols_from_bytes
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
    parser.add_argument("--crop", type=int, default=None, help="top-left crop of this size")
    args = parser.parse_args()
    torch.set_num_threads(1)
    image = load_images("photos:test")[args.image]
    if args.crop:
        image = image[:, : args.crop, : args.crop]
    codec = load_codec(args.codec)
    cdfs = codec.cdfs.cpu()
    data = compressed_bytes(codec, image)
    header, payload = parse_ndc(data)
    shape = header.latent_shape
    symbols = symbols_from_bytes(codec, data)[1]
    static = encode_symbols(symbols, cdfs)
    print(f"{args.image} {tuple(image.shape)}, {args.codec}: symbols {shape}")

    def row(label: str, step, repeats: int = 10) -> None:
        print(f"  {label:<44} {milliseconds(step, repeats):7.2f} ms")

    print(f"static tables: {len(static)} B")
    c, h, w = shape
    lists = [i for i in range(c) for _ in range(h * w)], cdfs.tolist(), [cdfs.shape[1]] * c, [0] * c
    row("CompressAI's coder (Python lists), unchecked", lambda: RansDecoder().decode_with_indexes(
        static, *lists))  # fmt: skip
    row("nodecode's coder, both checks", lambda: decode_symbols(static, shape, cdfs))
    if codec.config.context_levels:
        coder = codec._context_coder()
        print(f"in context ({codec.config.context_levels} levels): {len(payload)} B")
        row("passes, alphabet + canonical checks", lambda: coder.decode(payload, shape))
    print("this codec's files:")
    row("whole read (header, codec id, bound, decode)", lambda: symbols_from_bytes(codec, data))
    row("decoder network g_s", lambda: codec.decode(symbols[None]), 3)


if __name__ == "__main__":
    main()
