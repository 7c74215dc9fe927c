"""`nodecode eval-codec`: rate–distortion of codecs vs JPEG, JPEG 2000 and WebP (Fig. 8)."""

from __future__ import annotations

import argparse
from pathlib import Path

from nodecode.cli.common import (
    CODEC_HELP,
    JSON_HELP,
    REFINE_HELP,
    add_rates_argument,
    cached_codec,
    non_negative_int,
    refine_config,
    write_json,
)
from nodecode.codec.zoo import default_codecs, paper_codec_only
from nodecode.data.images import load_images
from nodecode.errors import ConfigError
from nodecode.evaluate.baselines import BASELINES
from nodecode.evaluate.rate_distortion import compare_codecs, write_crop_comparison
from nodecode.utils.tables import format_table

SUMMARY_COLUMNS = [
    ("codec", "codec"),
    ("bpp", "bpp"),
    ("bpp_se", "bpp s.e."),
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
    ("webp_psnr", "WebP PSNR"),
    ("webp_ms_ssim", "WebP MS-SSIM"),
    ("color_error", "colour err."),
]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval-codec", help="bpp, PSNR, SSIM, MS-SSIM vs JPEG / JPEG 2000 / WebP"
    )
    p.add_argument(
        "--codec",
        action="append",
        default=None,
        help=f"{CODEC_HELP}; repeatable (default: the shipped paper-width codecs)",
    )
    p.add_argument(
        "--images",
        default="photos:test",
        help="photos:test (held-out photos, the default), photos:independent (23 photos of "
        "other Debian packages, for evaluation only), skimage:test, or a directory of images",
    )
    p.add_argument(
        "--crop-image",
        default=None,
        help="image whose centre crops go side by side in crops.png (default: the first)",
    )
    p.add_argument("-o", "--out", type=Path, default=Path("eval-out"), help="output directory")
    p.add_argument("--baselines", nargs="*", default=list(BASELINES), choices=list(BASELINES))
    p.add_argument(
        "--no-color-correction",
        dest="correct_color",
        action="store_false",
        help="write files without the colour offset (measures the decoder's own colour error)",
    )
    add_rates_argument(p, default=[])
    p.add_argument("--refine", type=non_negative_int, default=0, metavar="STEPS", help=REFINE_HELP)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, default=None, help=JSON_HELP)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    images = load_images(args.images)
    codecs = [cached_codec(spec, args.device) for spec in args.codec or default_codecs()]
    if args.bpp:  # asked for by name here, so a codec without centers is an error, not a skip
        for codec in codecs:
            paper_codec_only(codec, "rate control (--bpp)")
    refine = refine_config(args.refine)
    rows = compare_codecs(
        codecs,
        images,
        args.baselines,
        args.out,
        dataset=str(args.images),
        correct_color=args.correct_color,
        rates=args.bpp,
        refine=refine,
    )
    name = args.crop_image or next(iter(images))
    if name not in images:
        raise ConfigError(f"--crop-image {name!r} is not among the images: {sorted(images)}")
    crops = args.out / "crops.png"
    write_crop_comparison(
        codecs, name, images[name], args.baselines, crops, args.correct_color, refine
    )
    print(format_table(rows, SUMMARY_COLUMNS))
    print(
        f"\nbpp s.e.: standard error of the mean over the images; baselines are interpolated"
        f" to each image's codec bpp; colour err. is the largest"
        f" per-channel mean error in 8-bit levels; wrote {args.out}/rd_points.csv,"
        " rd_summary.json, rd.png, crops.png, compressai/*.json"
    )
    write_json(args.json, rows)
