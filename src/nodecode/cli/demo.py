"""`nodecode demo`: the shipped codecs on the held-out bundled photos, against JPEG."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from nodecode.cli.common import cached_codec
from nodecode.cli.tables import format_table
from nodecode.codec.zoo import shipped_codecs
from nodecode.data.images import load_images, save_image
from nodecode.errors import ConfigError
from nodecode.evaluate.baselines import BASELINES
from nodecode.evaluate.rate_distortion import compare_codecs

DEMO_COLUMNS = [
    ("codec", "codec"),
    ("bpp", "bpp (file)"),
    ("psnr", "PSNR"),
    ("ms_ssim", "MS-SSIM"),
    ("jpeg_psnr", "JPEG PSNR"),
    ("jpeg_ms_ssim", "JPEG MS-SSIM"),
    ("jpeg2000_psnr", "J2K PSNR"),
    ("jpeg2000_ms_ssim", "J2K MS-SSIM"),
]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="compress/decompress the sample photos, compare to JPEG")
    p.add_argument("--out", type=Path, default=Path("demo-out"))
    p.add_argument("--images", default="skimage:test")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    start = time.time()
    codecs = shipped_codecs()
    if not codecs:
        raise ConfigError("no shipped codecs found in the package (nodecode/codec/weights)")
    images = load_images(args.images)
    for name, image in images.items():
        save_image(image, args.out / "photos" / f"{name}.png")
    codec_models = [cached_codec(spec) for spec in codecs]
    rows = compare_codecs(codec_models, images, BASELINES, args.out, keep_files=True)
    print(
        f"{len(images)} photos ({', '.join(images)}), each compressed to a .ndc file and "
        "decoded back; JPEG / JPEG 2000 interpolated to the same bpp per image:\n"
    )
    print(format_table(rows, DEMO_COLUMNS, digits=3))
    print(f"\nfiles in {args.out}/ ({time.time() - start:.1f} s)")
