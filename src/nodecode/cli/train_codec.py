"""`nodecode train-codec`: train the paper's codec at one operating point (App. A.1)."""

from __future__ import annotations

import argparse
from pathlib import Path

from nodecode.cli.common import config_from_args
from nodecode.codec.config import OPERATING_POINTS
from nodecode.train.codec import CodecTrainConfig, train_codec


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = CodecTrainConfig()
    p = subparsers.add_parser("train-codec", help="train a codec with Eq. 1 (MSE + β·rate hinge)")
    p.add_argument(
        "--op",
        choices=sorted(OPERATING_POINTS),
        required=True,
        help="operating point in bpp (sets C, Ht, β, lr)",
    )
    p.add_argument(
        "--data",
        default=defaults.data,
        help="directory of images, or skimage:train for the bundled photos",
    )
    p.add_argument("--out", required=True, help="codec checkpoint to write (.safetensors)")
    p.add_argument("--width", type=float, default=defaults.width, help="channel multiplier")
    p.add_argument("--crop", type=int, default=defaults.crop, help="training crop size")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--lr", type=float, default=None, help="Adam lr (default: the paper's)")
    p.add_argument("--max-steps", type=int, default=defaults.max_steps)
    p.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every)
    p.add_argument(
        "--table-batches",
        type=int,
        default=defaults.table_batches,
        help="batches of crops used to count symbols for the probability tables",
    )
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--name", default=None, help="codec name stored in files (default: file stem)")
    p.add_argument("--resume", action="store_true", help="continue from the saved train state")
    p.add_argument("--device", default="cpu")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    name = args.name or Path(args.out).stem
    config = config_from_args(CodecTrainConfig, args, name=name)
    codec = train_codec(config, args.out, resume=args.resume, device=args.device)
    print(f"wrote {args.out} (codec {codec.name!r}, id {codec.identity().hex()})")
