"""`nodecode demo`: the shipped codecs and models, end to end, on the embedded data.

1. The held-out natural photos through the default (paper-width) codecs, against JPEG,
   JPEG 2000 and WebP at the same bpp, with a side-by-side crop figure.
2. fashion-scenes test images compressed to `.ndc` files, then classified and segmented
   straight from the bitstreams (cResNet-51 on ẑ) and through decode + ResNet-50, with the
   codec each shipped task model names in its header as the one it was trained on.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from nodecode.cli.common import (
    add_compile_argument,
    add_rates_argument,
    cached_codec,
    non_negative_int,
)
from nodecode.codec.config import OPERATING_POINTS
from nodecode.codec.zoo import default_codecs, paper_codec_only, shipped_compressai
from nodecode.data.images import load_images, save_image
from nodecode.errors import ConfigError
from nodecode.evaluate.baselines import BASELINES
from nodecode.evaluate.rate_distortion import compare_codecs, write_crop_comparison
from nodecode.utils.io import atomic_write_text
from nodecode.utils.tables import format_table

DEMO_COLUMNS = [
    ("codec", "codec"),
    ("bpp", "bpp (file)"),
    ("psnr", "PSNR"),
    ("ms_ssim", "MS-SSIM"),
    ("jpeg_psnr", "JPEG PSNR"),
    ("jpeg_ms_ssim", "JPEG MS-SSIM"),
    ("jpeg2000_psnr", "J2K PSNR"),
    ("jpeg2000_ms_ssim", "J2K MS-SSIM"),
    ("webp_psnr", "WebP PSNR"),
    ("webp_ms_ssim", "WebP MS-SSIM"),
    ("color_error", "colour err."),
]
TASK_COLUMNS = [
    ("codec", "codec"),
    ("path", "path"),
    ("bpp", "bpp (file)"),
    ("top1", "top-1 %"),
    ("cls_ms", "ms/image (cls)"),
    ("miou", "mIoU %"),
    ("seg_ms", "ms/image (seg)"),
]
NETWORKS = {"latent": "cresnet51", "decoded": "resnet50"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="codecs vs JPEG, and classify/segment straight from bitstreams"
    )
    p.add_argument("-o", "--out", type=Path, default=Path("demo-out"))
    p.add_argument(
        "--images", default="photos:test", help="photos:test (held-out photos), a directory…"
    )
    add_rates_argument(p, default=["nominal"])
    p.add_argument("--scenes", default="small", help="fashion-scenes preset of the test images")
    p.add_argument(
        "--classify", type=non_negative_int, default=200, help="test images to classify (0: none)"
    )
    p.add_argument(
        "--segment", type=non_negative_int, default=50, help="test images to segment (0: none)"
    )
    p.add_argument("--device", default="cpu", help="where codecs and networks run (cpu, cuda)")
    add_compile_argument(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    start = time.time()
    codecs = default_codecs()
    if not codecs:
        raise ConfigError("no shipped codecs found in the package (nodecode/codec/weights)")
    images = load_images(args.images)
    for name, image in images.items():
        save_image(image, args.out / "photos" / f"{name}.png")
    # The shipped hyperprior (Gupta et al.'s backend) beside the paper's codecs.
    codec_models = [cached_codec(spec, args.device) for spec in codecs + shipped_compressai()]
    rows = compare_codecs(
        codec_models,
        images,
        BASELINES,
        args.out,
        keep_files=True,
        dataset=str(args.images),
        rates=args.bpp,
        skip_unreachable=True,  # tiny images: the header alone may be over a low rate
    )
    first = next(iter(images))
    write_crop_comparison(codec_models, first, images[first], BASELINES, args.out / "crops.png")
    print(
        f"{len(images)} photos ({', '.join(images)}), each compressed to a .ndc file and "
        "decoded back; JPEG / JPEG 2000 / WebP interpolated to the same bpp per image:\n"
    )
    codec_table = format_table(rows, DEMO_COLUMNS, digits=3)
    print(codec_table)
    task_rows = understanding(args)
    if task_rows:
        print(
            f"\nfashion-scenes:{args.scenes} test images as .ndc files: cResNet-51 on the "
            "entropy-decoded latent (no decoder) vs decode + ResNet-50:\n"
        )
        print(format_table(task_rows, TASK_COLUMNS, digits=2))
    _write_report(args, rows, task_rows)
    print(f"\nreport: {args.out}/REPORT.md ({time.time() - start:.1f} s)")


def understanding(args: argparse.Namespace) -> list[dict]:
    """Both paths for every operating point whose four models ship with the package."""

    from nodecode.data.fashion_scenes import NUM_CLASSES, FashionScenes
    from nodecode.evaluate.figures import plot_mask_examples
    from nodecode.evaluate.pipelines import run_pipelines, write_bitstreams
    from nodecode.inference import check_model_codec
    from nodecode.models.zoo import load_task, shipped_task_models, task_model_info

    available = set(shipped_task_models())
    rows: list[dict] = []
    if args.classify == args.segment == 0:
        return rows
    for op in OPERATING_POINTS:
        names = {
            (task, path): f"{NETWORKS[path]}{'-d' if task == 'segmentation' else ''}-{op}"
            for task in ("classification", "segmentation")
            for path in NETWORKS
        }
        if not set(names.values()) <= available:
            continue
        latent_classifier = names[("classification", "latent")]
        spec = task_model_info(latent_classifier).codec
        if spec is None:
            raise ConfigError(f"shipped task model {latent_classifier} names no codec")
        codec = paper_codec_only(cached_codec(spec, args.device), "demo")
        row_by_path: dict[str, dict[str, Any]] = {
            path: {"codec": spec, "path": path} for path in NETWORKS
        }
        for task, count in (("classification", args.classify), ("segmentation", args.segment)):
            scenes = FashionScenes(args.scenes, "test", task)
            count = min(count, len(scenes))
            if count == 0:
                continue
            pairs = [scenes[i] for i in range(count)]
            images, targets = [p[0] for p in pairs], [p[1] for p in pairs]
            files = write_bitstreams(codec, images, args.out / "scenes" / op / task)
            models = {}
            for path in NETWORKS:
                model, info = load_task(names[(task, path)])
                if path == "latent":
                    check_model_codec(info, codec, names[(task, path)])
                models[path] = model
            results = run_pipelines(
                codec,
                files,
                targets,
                models["latent"],
                models["decoded"],
                task,
                NUM_CLASSES[task],
                compile=args.compile,
            )
            for result in results:
                row = result.row(count)
                key = "cls" if task == "classification" else "seg"
                row_by_path[result.path].update(
                    {k: v for k, v in row.items() if k in ("top1", "miou")},
                    **{f"{key}_ms": row["ms"]},
                )
                row_by_path[result.path]["bpp"] = row["bpp"]  # the segmentation files' bpp
            if task == "segmentation":
                predictions = {f"{r.path} ({NETWORKS[r.path]})": r.predictions[:4] for r in results}
                plot_mask_examples(
                    images[:4], targets[:4], predictions, args.out / f"masks-{op}.png"
                )
        rows += list(row_by_path.values())
    return rows


def _write_report(args: argparse.Namespace, codec_rows: list[dict], task_rows: list[dict]) -> None:
    lines = [
        "# nodecode demo",
        "",
        f"## Codecs on `{args.images}` against JPEG, JPEG 2000 and WebP (same bpp per image)",
        "",
        format_table(codec_rows, DEMO_COLUMNS, digits=3, markdown=True),
        "",
        "colour err.: largest per-channel mean error in 8-bit levels. `CODEC@RATE`: the same "
        "codec with each file capped at RATE bpp at encode time (rate control; same decoder).",
        "",
        "![rate-distortion](rd.png)",
        "",
        "![centre crops at equal rate](crops.png)",
        "",
    ]
    if task_rows:
        lines += [
            f"## Understanding from bitstreams: fashion-scenes:{args.scenes} test images",
            "",
            f"{args.classify} images classified and {args.segment} segmented per operating "
            "point. `latent`: entropy decoding + cResNet-51 on ẑ (the decoder never runs); "
            "`decoded`: entropy decoding + decoder + ResNet-50. bpp is that of the "
            "segmentation files; ms are wall-clock per image at batch size 1, both networks "
            "with batch norms folded and channels-last (as `classify` runs them).",
            "",
            format_table(task_rows, TASK_COLUMNS, digits=2, markdown=True),
            "",
        ]
        for row in task_rows[::2]:
            op = row["codec"].rpartition("-")[2]
            lines += [f"![masks at {op} bpp](masks-{op}.png)", ""]
    else:
        lines += ["(No task models ship with this install: see docs/RESULTS.md.)", ""]
    atomic_write_text(args.out / "REPORT.md", "\n".join(lines))
