"""`nodecode bench`: per-image time of every path from a file to an answer (Fig. 12)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nodecode.utils.io import atomic_write_text
from nodecode.utils.precision import PRECISIONS
from nodecode.utils.tables import format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench", help="time latent vs decoded vs JPEG paths, stage by stage (Fig. 12)"
    )
    p.add_argument("--codec", default="paper-0.330", help="codec whose .ndc files are read")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 64])
    p.add_argument("--rounds", type=int, default=4, help="interleaved repetitions")
    p.add_argument("--width", type=float, default=1.0, help="networks' width (1.0: the paper's)")
    p.add_argument(
        "--tasks",
        nargs="+",
        choices=["classification", "segmentation"],
        default=["classification", "segmentation"],
    )
    p.add_argument("--size", type=int, default=224, help="classification image size")
    p.add_argument("--seg-size", type=int, default=320, help="segmentation image size")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--fast", action="store_true", help="fold batch norms, channels-last: every path alike"
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile with frozen weights: every network and g_s alike",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="bf16: g_s and every network under bf16 autocast",
    )
    p.add_argument("--json", type=Path, default=None, help="write every measurement as JSON")
    p.add_argument("--figure", type=Path, default=None, help="stacked bar chart (PNG)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    import torch

    from nodecode.codec.zoo import load_codec, paper_codec_only
    from nodecode.evaluate.bench import BenchConfig, plot_bench, run_bench

    config = BenchConfig(
        codec=args.codec,
        batch_sizes=tuple(args.batch_sizes),
        rounds=args.rounds,
        width=args.width,
        sizes={"classification": args.size, "segmentation": args.seg_size},
        tasks=tuple(args.tasks),
        device=args.device,
        fast=args.fast,
        compile=args.compile,
        precision=args.precision,
    )
    codec = paper_codec_only(load_codec(args.codec, args.device), "bench")
    result = run_bench(config, codec)
    table = [
        {
            "task": r["task"][:3],
            "path": r["path"],
            "network": r["network"],
            "batch": r["batch"],
            "ms": r["total_ms"]["median"],
            "ms_min": r["total_ms"]["min"],
            **{f"ms:{k}": v["median"] for k, v in r["stage_ms"].items()},
            "vs_decoded": r["speedup_vs_decoded"],
            "vs_jpeg": r["speedup_vs_jpeg"],
            "peak_share": r["share_of_peak"],
        }
        for r in result["rows"]
    ]
    stages = ["entropy decode", "dequantize", "g_s", "jpeg decode", "network"]
    columns = [("task", "task"), ("path", "path"), ("network", "network"), ("batch", "batch")]
    columns += [("ms", "ms/img median"), ("ms_min", "min")] + [(f"ms:{s}", s) for s in stages]
    columns += [("vs_decoded", "× decoded"), ("vs_jpeg", "× JPEG"), ("peak_share", "net/peak")]
    print(format_table(table, columns, digits=2))
    print(
        f"\nper-image milliseconds, median of {args.rounds} interleaved rounds; "
        f"{torch.get_num_threads()} threads; peak conv rate {result['peak_gmacs_per_s']:.1f} GMAC/s"
    )
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    if args.figure is not None:
        plot_bench(result, args.figure)
        print(f"wrote {args.figure}")
