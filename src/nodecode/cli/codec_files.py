"""`compress`, `decompress`, `info` and `show-latents`: the codec's verbs on files."""

from __future__ import annotations

import argparse
from pathlib import Path

from nodecode.bitstream.container import read_ndc
from nodecode.cli.common import (
    CODEC_HELP,
    JSON_HELP,
    cached_codec,
    codec_for_file,
    describe_header,
    output_paths,
    write_json,
)
from nodecode.codec.entropy import empirical_entropy_bits
from nodecode.codec.files import compress_image, decode_image, decompress_file, read_symbols
from nodecode.codec.zoo import list_codecs
from nodecode.data.images import load_image, save_image


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compress", help="encode images to .ndc bitstreams")
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument("--codec", required=True, help=CODEC_HELP)
    p.add_argument("-o", "--out", type=Path, required=True, help="output directory")
    p.add_argument(
        "--no-color-correction",
        dest="correct_color",
        action="store_false",
        help="skip the decoder pass that stores the mean colour error (faster encoding)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, default=None, help=JSON_HELP)
    p.set_defaults(run=run_compress)

    p = subparsers.add_parser("decompress", help="decode .ndc bitstreams to PNG images")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--codec", default=None, help=f"{CODEC_HELP} (default: from the file)")
    p.add_argument("-o", "--out", type=Path, required=True, help="output directory")
    p.add_argument("--device", default="cpu")
    p.set_defaults(run=run_decompress)

    p = subparsers.add_parser("info", help="describe a .ndc file: header, rate, entropy")
    p.add_argument("file", type=Path)
    p.add_argument("--codec", default=None, help=f"{CODEC_HELP} (default: from the file)")
    p.add_argument("--json", type=Path, default=None, help=JSON_HELP)
    p.set_defaults(run=run_info)

    p = subparsers.add_parser("show-latents", help="decoded image + 4 highest-entropy channels")
    p.add_argument("file", type=Path)
    p.add_argument("--codec", default=None, help=f"{CODEC_HELP} (default: from the file)")
    p.add_argument("-o", "--out", type=Path, required=True, help="PNG to write")
    p.set_defaults(run=run_show_latents)


def run_compress(args: argparse.Namespace) -> None:
    targets = output_paths(args.out, args.images, ".ndc")
    codec = cached_codec(args.codec, args.device)
    records = []
    for source, target in zip(args.images, targets, strict=True):
        image = load_image(source)
        info = compress_image(codec, image, target, correct_color=args.correct_color)
        print(f"{source} -> {target}: {info.file_bytes} bytes, {info.bpp:.4f} bpp")
        records.append(
            {"image": str(source), "file": str(target), "bytes": info.file_bytes, "bpp": info.bpp}
        )
    write_json(args.json, records)


def run_decompress(args: argparse.Namespace) -> None:
    targets = output_paths(args.out, args.files, ".png")
    for source, target in zip(args.files, targets, strict=True):
        codec = codec_for_file(source, args.codec, args.device)
        _, image = decompress_file(codec, source)
        save_image(image, target)
        print(f"{source} -> {target}")


def run_info(args: argparse.Namespace) -> None:
    header, _ = read_ndc(args.file)
    description = describe_header(header, args.file.stat().st_size)
    for key, value in description.items():
        print(f"{key:>14}: {value}")
    if args.codec is None and header.codec_name not in list_codecs():
        print(f"{'entropy':>14}: pass --codec CKPT of {header.codec_name!r} to decode the symbols")
        write_json(args.json, description)
        return
    codec = codec_for_file(args.file, args.codec)
    _, symbols = read_symbols(codec, args.file)
    entropy = empirical_entropy_bits(symbols, codec.num_centers)
    print(f"{'entropy':>14}: {entropy.mean():.4f} bits/symbol (empirical, mean over channels)")
    print(f"{'per channel':>14}: " + " ".join(f"{h:.3f}" for h in entropy.tolist()))
    write_json(
        args.json,
        {
            **description,
            "entropy_bits": entropy.mean().item(),
            "channel_entropy_bits": entropy.tolist(),
        },
    )


def run_show_latents(args: argparse.Namespace) -> None:
    from nodecode.evaluate.figures import plot_latent_channels

    codec = codec_for_file(args.file, args.codec)
    header, symbols = read_symbols(codec, args.file)
    image = decode_image(codec, header, symbols)
    plot_latent_channels(image, symbols, codec.num_centers, args.out, title=args.file.name)
    print(f"wrote {args.out}")
