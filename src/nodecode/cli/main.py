"""`nodecode` entry point: builds the subcommands and turns every failure into one line.

Exit codes: 0 success, 1 an error in the input or the environment (bad file, unwritable
output, out of memory), 2 a usage error (argparse), 3 an internal error (a bug: please
report it with the `--debug` traceback), 130/143 interrupted or terminated.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
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
from nodecode.utils.io import describe_os_error  # noqa: E402

EXIT_ERROR = 1
EXIT_USAGE = 2  # argparse's own
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
DEBUG_ENV = "NODECODE_DEBUG"

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
    parser.add_argument(
        "--debug",
        action="store_true",
        default=bool(os.environ.get(DEBUG_ENV)),
        help=f"show Python tracebacks instead of one-line errors (or set {DEBUG_ENV}=1)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so temporary files are removed on the way out."""
    sys.exit(128 + signum)


def _fail(message: str, code: int) -> int:
    print(f"nodecode: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    except Exception as error:
        if args.debug:
            raise
        if isinstance(error, NodecodeError):
            return _fail(f"error: {error}", EXIT_ERROR)
        if isinstance(error, OSError):
            return _fail(f"error: {describe_os_error(error)}", EXIT_ERROR)
        if isinstance(error, MemoryError):
            return _fail("error: out of memory (try a smaller image or batch)", EXIT_ERROR)
        return _fail(
            f"internal error: {type(error).__name__}: {error}\n"
            "nodecode: this is a bug; rerun with --debug and report the traceback",
            EXIT_INTERNAL,
        )


if __name__ == "__main__":
    sys.exit(main())
