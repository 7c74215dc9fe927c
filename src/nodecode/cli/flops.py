"""`nodecode flops`: measured MACs and parameters of every network, codec and pipeline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nodecode.evaluate.cost import PAPER_MACS, network_costs, pipeline_costs
from nodecode.utils.io import atomic_write_text
from nodecode.utils.tables import format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("flops", help="MACs and parameters (Table 1, Fig. 6)")
    p.add_argument("--width", type=float, default=1.0, help="channel multiplier of the networks")
    p.add_argument("--latent-channels", type=int, default=32, help="C of the cResNet input")
    p.add_argument("--json", type=Path, default=None, help="also write the tables as JSON")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    rows = network_costs(args.width, args.latent_channels)
    pipelines = pipeline_costs(rows)
    reference = {r.task: r.macs for r in rows if r.name in ("resnet50", "resnet50-d")}
    table = []
    for r in rows:
        paper_ratio = None if r.paper_macs is None else r.paper_macs / PAPER_MACS["resnet50"]
        table.append(
            {
                **r.as_dict(),
                "gmacs": r.macs / 1e9,
                "mparams": r.params / 1e6,
                "ratio": r.macs / reference[r.task],
                "paper_ratio": paper_ratio,
                "paper_gmacs": r.paper_macs,
            }
        )
    columns = [
        ("name", "network"),
        ("task", "task"),
        ("input", "input"),
        ("gmacs", "GMACs"),
        ("paper_gmacs", "paper GMACs"),
        ("ratio", "÷ ResNet-50"),
        ("paper_ratio", "paper ÷ ResNet-50"),
        ("mparams", "params (M)"),
    ]
    print(format_table(table, columns, digits=3, markdown=args.markdown))
    print()
    for p in pipelines:
        p["total_gmacs"] = p["total_macs"] / 1e9
    print(
        format_table(
            pipelines,
            [("task", "task"), ("pipeline", "pipeline from bitstream"), ("total_gmacs", "GMACs")],
            digits=3,
            markdown=args.markdown,
        )
    )
    if args.json:
        atomic_write_text(
            args.json, json.dumps({"networks": table, "pipelines": pipelines}, indent=2) + "\n"
        )
        print(f"wrote {args.json}", file=sys.stderr)
