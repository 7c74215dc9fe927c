"""`nodecode train-joint`: joint codec + cResNet fine-tuning (§6, Eq. 2) or its control."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nodecode.cli.common import (
    CODEC_HELP,
    JSON_HELP,
    TRAIN_WORKERS_HELP,
    add_workers_argument,
    config_from_args,
    write_json,
)
from nodecode.data.datasets import DATASET_HELP
from nodecode.train.joint import MODES, JointTrainConfig, train_joint
from nodecode.utils.precision import PRECISIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    d = JointTrainConfig()
    p = subparsers.add_parser(
        "train-joint",
        help="fine-tune codec and classifier together (Eq. 2) or the codec alone (§6.1)",
    )
    p.add_argument("--codec", required=True, help=CODEC_HELP)
    p.add_argument(
        "--classifier", default=None, help="cResNet checkpoint trained on this codec's latents"
    )
    p.add_argument(
        "--mode",
        choices=MODES,
        default=d.mode,
        help="joint: Eq. 2; compression: the codec term alone, the §6.1 control",
    )
    p.add_argument("--data", default=d.data, help=DATASET_HELP)
    p.add_argument("--gamma", type=float, default=d.gamma, help="weight of the codec loss (γ)")
    p.add_argument("--beta", type=float, default=None, help="rate weight β (default: codec's)")
    p.add_argument(
        "--target-entropy", type=float, default=None, help="Ht in bits (default: codec's)"
    )
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr, help="SGD lr, ÷10 after each third")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--fashion-mnist", default=None)
    p.add_argument("-o", "--out", type=Path, required=True, help="run directory")
    p.add_argument("--json", type=Path, default=None, help=JSON_HELP)
    p.add_argument("--resume", action="store_true")
    add_workers_argument(p, TRAIN_WORKERS_HELP)
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=d.precision,
        help="bf16 autocast (about half the step time on CPUs with AVX-512 bf16 and on GPUs)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, …")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    config = config_from_args(JointTrainConfig, args)
    result = train_joint(config, args.out, resume=args.resume, device=args.device)
    print(json.dumps(result))
    write_json(args.json, result)
