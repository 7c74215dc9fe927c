"""`nodecode eval-codec`: rate–distortion of codecs vs JPEG and JPEG 2000 (Fig. 8)."""

from __future__ import annotations

import argparse
from pathlib import Path

from nodecode.cli.common import CODEC_HELP, cached_codec
from nodecode.cli.tables import format_table
from nodecode.data.images import load_images
from nodecode.evaluate.baselines import BASELINES
from nodecode.evaluate.rate_distortion import compare_codecs

SUMMARY_COLUMNS = [
    ("codec", "codec"),
    ("bpp", "bpp"),
    ("bpp_estimate", "bpp est."),
    ("psnr", "PSNR"),
    ("ssim", "SSIM"),
    ("ms_ssim", "MS-SSIM"),
    ("jpeg_psnr", "JPEG PSNR"),
    ("jpeg_ssim", "JPEG SSIM"),
    ("jpeg_ms_ssim", "JPEG MS-SSIM"),
    ("jpeg2000_psnr", "J2K PSNR"),
    ("jpeg2000_ssim", "J2K SSIM"),
    ("jpeg2000_ms_ssim", "J2K MS-SSIM"),
]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval-codec", help="bpp, PSNR, SSIM, MS-SSIM vs JPEG / JPEG 2000")
    p.add_argument("--codec", action="append", required=True, help=f"{CODEC_HELP}; repeatable")
    p.add_argument(
        "--images",
        default="skimage:test",
        help="directory of images, or skimage:test for the held-out bundled photos",
    )
    p.add_argument("-o", "--out", type=Path, default=Path("eval-out"), help="output directory")
    p.add_argument("--baselines", nargs="*", default=list(BASELINES), choices=list(BASELINES))
    p.add_argument("--device", default="cpu")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    images = load_images(args.images)
    codecs = [cached_codec(spec, args.device) for spec in args.codec]
    rows = compare_codecs(codecs, images, args.baselines, args.out)
    print(format_table(rows, SUMMARY_COLUMNS))
    print(
        f"\nbaselines are interpolated to each image's codec bpp; wrote {args.out}/rd_points.csv,"
        " rd_summary.json, rd.png"
    )
