"""`nodecode reproduce`: every experiment of the paper, resumable, ending in a report."""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

from nodecode.cli.tables import format_table
from nodecode.reproduce.presets import PRESETS, get_preset


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reproduce",
        help="run the paper's experiments (codecs, classifiers, segmenters, joint training) "
        "and write report/REPORT.md",
    )
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument(
        "-o", "--out", type=Path, default=None, help="work directory (default: reproduce-PRESET)"
    )
    p.add_argument(
        "--codecs",
        default=None,
        help="shipped codec family for the tiny/small presets: paper (default) or small, "
        "the earlier width-0.5 codecs docs/reproduction/small was made with",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan and its cost only")
    p.add_argument("--device", default="cpu")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from nodecode.reproduce.plan import build_plan

    preset = get_preset(args.preset, args.codecs)
    stages = build_plan(preset)
    out = args.out or Path(f"reproduce-{preset.name}")
    if args.dry_run:
        print_plan(preset, stages, out)
        return
    from nodecode.reproduce.report import write_report
    from nodecode.reproduce.runner import run_plan

    start = time.time()
    results = run_plan(stages, out, args.device)
    command = f"nodecode reproduce --preset {preset.name} --out {shlex.quote(str(out))}"
    if args.codecs:
        command += f" --codecs {args.codecs}"
    report = write_report(preset, stages, results, out, command)
    print(f"{len(stages)} stages done in {time.time() - start:.0f} s; report: {report}")


def print_plan(preset, stages, out: Path) -> None:
    from nodecode.reproduce.estimate import estimate
    from nodecode.reproduce.runner import load_result

    rows = []
    for stage in stages:
        forward, training = estimate(stage, preset)
        rows.append(
            {
                "stage": stage.name,
                "kind": stage.kind,
                "what": stage.describe(),
                "data": stage.params.get("data", stage.params.get("classification", "")),
                "gmacs": forward / 1e9 if forward else None,
                "train_pmacs": training / 1e15 if training else None,
                "state": "done" if load_result(out, stage) else "to run",
            }
        )
    print(f"preset {preset.name}: {preset.description}; {len(stages)} stages in {out}/\n")
    columns = [
        ("stage", "stage"),
        ("what", "what"),
        ("data", "data"),
        ("gmacs", "GMACs/image"),
        ("train_pmacs", "training PMACs"),
        ("state", "state"),
    ]
    print(format_table(rows, columns, digits=3))
    total = sum(r["train_pmacs"] or 0 for r in rows)
    print(f"\nestimated training compute: {total:.3f} PMACs (≈3× forward per image seen)")
