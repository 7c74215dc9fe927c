"""`compress`, `decompress`, `info` and `show-latents`: the codec's verbs on files."""

from __future__ import annotations

import argparse
from pathlib import Path

from torch import Tensor

from nodecode.bitstream.container import read_ndc
from nodecode.cli.common import (
    BPP_HELP,
    CODEC_HELP,
    JSON_HELP,
    REFINE_HELP,
    cached_codec,
    codec_for_file,
    describe_header,
    non_negative_int,
    output_paths,
    rate_target,
    refine_config,
    write_json,
)
from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.entropy import empirical_entropy_bits
from nodecode.codec.files import (
    compress_image,
    decode_image,
    decompress_file,
    read_latents,
    read_symbols,
)
from nodecode.codec.zoo import knows_codec, paper_codec_only
from nodecode.data.images import load_image, save_image
from nodecode.errors import ConfigError


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
    p.add_argument("--bpp", type=rate_target, default=None, help=BPP_HELP)
    p.add_argument("--refine", type=non_negative_int, default=0, metavar="STEPS", help=REFINE_HELP)
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
    p.add_argument("--device", default="cpu")
    p.set_defaults(run=run_show_latents)


def run_compress(args: argparse.Namespace) -> None:
    targets = output_paths(args.out, args.images, ".ndc")
    codec = cached_codec(args.codec, args.device)
    records = []
    for source, target in zip(args.images, targets, strict=True):
        image = load_image(source)
        try:
            info = compress_image(
                codec, image, target, args.correct_color, args.bpp, refine_config(args.refine)
            )
        except ConfigError as error:  # a rate the codec cannot reach on this image
            raise ConfigError(f"{source}: {error}") from None
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
    try:
        if args.codec is None and not knows_codec(header.codec_name):
            raise ConfigError(f"pass --codec CKPT of {header.codec_name!r} to decode the symbols")
        codec = codec_for_file(args.file, args.codec)
    except ConfigError as error:  # the header alone is still worth showing
        if args.codec is not None:
            raise
        print(f"{'latents':>14}: {error}")
        write_json(args.json, description)
        return
    if not isinstance(codec, ConvAutoencoder):  # CompressAI: no fixed alphabet of centers
        _, latents = read_latents(codec, args.file)
        stats = {name: _summary(t) for name, t in latents.items()}
        for name, summary in stats.items():
            print(f"{name:>14}: {summary}")
        write_json(args.json, {**description, "latents": stats})
        return
    header, symbols = read_symbols(codec, args.file)
    entropy = empirical_entropy_bits(symbols, codec.num_centers)
    print(f"{'entropy':>14}: {entropy.mean():.4f} bits/symbol (empirical, mean over channels)")
    print(f"{'per channel':>14}: " + " ".join(f"{h:.3f}" for h in entropy.tolist()))
    levels = codec.config.context_levels
    coded = 8 * sum(header.lengths) / symbols.numel()
    coding = f"in context, {levels} levels" if levels else "static per-channel tables"
    print(f"{'coded':>14}: {coded:.4f} bits/symbol ({coding})")
    write_json(
        args.json,
        {
            **description,
            "entropy_bits": entropy.mean().item(),
            "channel_entropy_bits": entropy.tolist(),
            "coded_bits": coded,
            "context_levels": levels,
        },
    )


def _summary(t: Tensor) -> str:
    t = t.float()
    shape = "x".join(map(str, t.shape[1:]))
    return f"{shape}, mean {t.mean():.3f}, std {t.std():.3f}, |max| {t.abs().max():.2f}"


def run_show_latents(args: argparse.Namespace) -> None:
    from nodecode.evaluate.figures import plot_latent_channels

    codec = paper_codec_only(codec_for_file(args.file, args.codec, args.device), "show-latents")
    header, symbols = read_symbols(codec, args.file)
    image = decode_image(codec, header, symbols)
    plot_latent_channels(image, symbols, codec.num_centers, args.out, title=args.file.name)
    print(f"wrote {args.out}")
