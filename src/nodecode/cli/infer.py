"""`nodecode classify` and `nodecode segment`: predictions from bitstreams, no decoding."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from nodecode.cli.common import (
    CODEC_HELP,
    JSON_HELP,
    add_compile_argument,
    add_workers_argument,
    codec_for_file,
    output_path,
    output_paths,
    write_json,
)
from nodecode.codec.zoo import Codec
from nodecode.errors import ConfigError
from nodecode.utils.io import atomic_path
from nodecode.utils.precision import PRECISIONS

if TYPE_CHECKING:
    from nodecode.models.checkpoint import TaskModelInfo

PRECISION_HELP = "bf16: the network under bf16 autocast (AMX CPUs, GPUs)"
WORKERS_HELP = (
    "processes that entropy-decode files while the network runs (worth it beside a GPU, "
    "where decoding dominates); codecs then decode on the CPU"
)


def _add_inference_arguments(p: argparse.ArgumentParser, network: str) -> None:
    """What `classify` and `segment` share: the files, the network, and how it runs."""
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--model", required=True, help=f"{network}: shipped name or checkpoint")
    p.add_argument("--codec", default=None, help=f"{CODEC_HELP} (default: from the file)")
    p.add_argument("--batch-size", type=int, default=16, help="files per network call")
    add_workers_argument(p, WORKERS_HELP)
    p.add_argument("--precision", choices=PRECISIONS, default="fp32", help=PRECISION_HELP)
    add_compile_argument(p)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, default=None, help=JSON_HELP)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("classify", help="labels straight from .ndc files (no decoding)")
    _add_inference_arguments(p, "cResNet classifier")
    p.add_argument("--top", type=int, default=3, help="how many labels to print")
    p.set_defaults(run=run_classify)

    p = subparsers.add_parser("segment", help="masks straight from .ndc files (no decoding)")
    _add_inference_arguments(p, "cResNet-d segmenter")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument(
        "--overlay",
        action="store_true",
        help="also draw the mask over the decoded image (runs the decoder for the picture only)",
    )
    p.set_defaults(run=run_segment)


def run_classify(args: argparse.Namespace) -> None:
    from nodecode.inference import predict_files
    from nodecode.models.inference import for_inference
    from nodecode.models.zoo import load_task

    network, info = load_task(args.model, args.device)
    require_task(info, "classification", args.model, "segment")
    model = for_inference(network, compile=args.compile)
    names = info.class_names
    records = []
    predictions = predict_files(
        model, info, _with_codecs(args), args.batch_size, args.workers, args.precision
    )
    for path, _, probs in predictions:
        top = probs.topk(min(args.top, len(probs)))
        pairs = [
            (names[i], p) for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        ]
        print(f"{path}: " + ", ".join(f"{name} {p:.3f}" for name, p in pairs))
        records.append({"file": str(path), "top": [{"label": n, "p": p} for n, p in pairs]})
    write_json(args.json, records)


def _with_codecs(args: argparse.Namespace) -> Iterator[tuple[Path, Codec]]:
    from nodecode.inference import decoding_device

    device = decoding_device(args.device, args.workers)
    for path in args.files:
        yield path, codec_for_file(path, args.codec, device)


def require_task(info: TaskModelInfo, task: str, model: str, other_command: str) -> None:
    if info.task != task:
        raise ConfigError(
            f"{model}: is a {info.task} model ({info.model}); "
            f"use `nodecode {other_command}` with it"
        )


def palette(num_classes: int) -> np.ndarray:
    import matplotlib

    colors = matplotlib.colormaps["tab10"](np.arange(max(num_classes - 1, 1)) % 10)[:, :3]
    return np.vstack([[0, 0, 0], colors])[:num_classes]


def run_segment(args: argparse.Namespace) -> None:
    from nodecode.codec.files import decompress_file
    from nodecode.inference import predict_files
    from nodecode.models.inference import for_inference
    from nodecode.models.zoo import load_task

    network, info = load_task(args.model, args.device)
    require_task(info, "segmentation", args.model, "classify")
    model = for_inference(network, compile=args.compile)
    colors = (palette(info.num_classes) * 255).astype(np.uint8)
    targets = output_paths(args.out, args.files, ".mask.png")
    names = info.class_names
    records = []
    predictions = predict_files(
        model, info, _with_codecs(args), args.batch_size, args.workers, args.precision
    )
    for (path, _, probs), target in zip(predictions, targets, strict=True):
        mask = probs.argmax(0).numpy().astype(np.uint8)
        with atomic_path(target) as tmp:
            image = Image.fromarray(mask, mode="P")
            image.putpalette(colors.flatten().tolist())
            image.save(tmp, format="PNG")
        found = [names[c] for c in np.unique(mask) if c]
        print(f"{path} -> {target}: {', '.join(found) or 'background only'}")
        shares = np.bincount(mask.ravel(), minlength=len(names)) / mask.size
        records.append(
            {
                "file": str(path),
                "mask": str(target),
                "pixel_share": {names[c]: float(v) for c, v in enumerate(shares) if v},
            }
        )
        if args.overlay:
            _, decoded = decompress_file(codec_for_file(path, args.codec, args.device), path)
            rgb = decoded.permute(1, 2, 0).cpu().numpy()
            blend = np.where(mask[..., None] > 0, 0.45 * rgb + 0.55 * colors[mask] / 255, rgb)
            with atomic_path(output_path(args.out, path, ".overlay.png")) as tmp:
                Image.fromarray((blend * 255).round().astype(np.uint8)).save(tmp, format="PNG")
    write_json(args.json, records)
