"""`nodecode` entry point: builds the subcommands and turns NodecodeErrors into clean messages."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

# CompressAI's import triggers a torch.jit deprecation warning that users cannot act on.
warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")

from nodecode import __version__  # noqa: E402
from nodecode.cli import (  # noqa: E402
    codec_files,
    data,
    demo,
    eval_codec,
    flops,
    infer,
    reproduce,
    train_codec,
    train_joint,
    train_tasks,
)
from nodecode.errors import NodecodeError  # noqa: E402

COMMAND_MODULES = (
    train_codec,
    codec_files,
    eval_codec,
    data,
    train_tasks,
    train_joint,
    infer,
    flops,
    reproduce,
    demo,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nodecode",
        description="Image understanding straight from learned-codec bitstreams.",
    )
    parser.add_argument("--version", action="version", version=f"nodecode {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except NodecodeError as e:
        print(f"nodecode: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nodecode: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
