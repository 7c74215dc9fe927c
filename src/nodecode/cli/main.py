"""`nodecode` entry point: builds the subcommands and turns every failure into one line.

Exit codes: 0 success, 1 an error in the input or the environment (bad file, unwritable
output, out of memory), 2 a usage error (argparse), 3 an internal error (a bug: please
report it with the `--debug` traceback), 130/143 interrupted or terminated.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from types import ModuleType

# CompressAI's import triggers a torch.jit deprecation warning that users cannot act on.
warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")

from nodecode import __version__  # noqa: E402
from nodecode.errors import NodecodeError  # noqa: E402
from nodecode.utils.io import describe_os_error  # noqa: E402
from nodecode.utils.network import DOWNLOAD_ENV  # noqa: E402

EXIT_ERROR = 1
EXIT_USAGE = 2  # argparse's own
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
DEBUG_ENV = "NODECODE_DEBUG"
THREADS_ENV = "NODECODE_THREADS"

# Every subcommand, the module (nodecode.cli.*) that registers it, and its one-line help.
# Only the invoked command's module is imported, so `--help` and `--version` start at once
# (tests/cli/test_failures.py checks this table against what the modules register).
COMMANDS: dict[str, tuple[str, str]] = {
    "train-codec": (
        "train_codec",
        "train a codec: the paper's (Eq. 1, --op) or a CompressAI model (--arch)",
    ),
    "calibrate-codec": (
        "train_codec",
        "fine-tune a codec until its files hit the nominal bpp on validation photos",
    ),
    "fit-tables": (
        "train_codec",
        "refit a codec's entropy-coding tables on whole photos (weights and latents kept)",
    ),
    "compress": ("codec_files", "encode images to .ndc bitstreams"),
    "decompress": ("codec_files", "decode .ndc bitstreams to PNG images"),
    "info": ("codec_files", "describe a .ndc file: header, rate, entropy"),
    "show-latents": ("codec_files", "decoded image + 4 highest-entropy channels"),
    "eval-codec": ("eval_codec", "bpp, PSNR, SSIM, MS-SSIM vs JPEG / JPEG 2000 / WebP"),
    "data": ("data", "fashion-scenes benchmark; natural-photo corpus"),
    "encode-dataset": ("data", "encode a dataset once into latent shards"),
    "train-classifier": ("train_tasks", "train a (c)ResNet classifier (App. A.4)"),
    "train-segmenter": ("train_tasks", "train a DeepLab v2 segmenter (App. A.5)"),
    "evaluate": ("train_tasks", "top-1/top-5 or mIoU of a trained checkpoint"),
    "train-joint": (
        "train_joint",
        "fine-tune codec and classifier together (Eq. 2) or the codec alone (§6.1)",
    ),
    "classify": ("infer", "labels straight from .ndc files (no decoding)"),
    "segment": ("infer", "masks straight from .ndc files (no decoding)"),
    "flops": ("flops", "MACs and parameters (Table 1, Fig. 6)"),
    "bench": ("bench", "time latent vs decoded vs JPEG paths, stage by stage (Fig. 12)"),
    "reproduce": (
        "reproduce",
        "run the paper's experiments (codecs, classifiers, segmenters, joint training) and "
        "write report/REPORT.md",
    ),
    "demo": ("demo", "codecs vs JPEG, and classify/segment straight from bitstreams"),
    "zoo": ("zoo", "the shipped codecs and task models, and how they were made"),
}


def command_module(command: str) -> ModuleType:
    return importlib.import_module(f"nodecode.cli.{COMMANDS[command][0]}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser of `command` (its module imported), placeholders for the others."""
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
    if command in COMMANDS:
        command_module(command).register(subparsers)
        _add_common_options(subparsers.choices[command])
    for name, (_, help_text) in COMMANDS.items():
        if name not in subparsers.choices:
            subparsers.add_parser(name, help=help_text)
    return parser


DOWNLOAD_HELP = (
    f"allow downloads of what is missing: datasets via torchvision, CompressAI's pretrained "
    f"weights (as {DOWNLOAD_ENV}=1 does for every command)"
)


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    """Every verb (a verb with sub-verbs, each of them) takes `--download`, since any verb
    may be handed a dataset or a CompressAI codec whose files are not on this machine, and
    `--threads`, since every verb runs torch."""
    from nodecode.cli.common import positive_int

    nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for sub in nested[0].choices.values() if nested else [parser]:
        sub.add_argument("--download", action="store_true", help=DOWNLOAD_HELP)
        sub.add_argument(
            "--threads",
            type=positive_int,
            default=os.environ.get(THREADS_ENV),
            help="CPU threads for torch's operators (default: torch's, one per physical core; "
            f"or set {THREADS_ENV}=N); on a CPU shared with other work, 1 can be faster",
        )


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    import torch

    torch.set_num_threads(threads)


@contextlib.contextmanager
def _downloads(allowed: bool) -> Iterator[None]:
    """`--download` as the environment switch every loader reads, for this command only."""
    if not allowed or os.environ.get(DOWNLOAD_ENV) == "1":
        yield
        return
    previous = os.environ.get(DOWNLOAD_ENV)
    os.environ[DOWNLOAD_ENV] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[DOWNLOAD_ENV]
        else:
            os.environ[DOWNLOAD_ENV] = previous


def _invoked_command(argv: Sequence[str]) -> str | None:
    """The first argument that is not an option: the subcommand, if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so temporary files are removed on the way out."""
    print("nodecode: terminated", file=sys.stderr)
    sys.exit(128 + signum)


def _fail(message: str, code: int) -> int:
    print(f"nodecode: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    as_program = argv is None  # the console script; a library call keeps its own signals
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_invoked_command(argv)).parse_args(argv)
    if as_program:  # the library's progress messages (logging.INFO) on stderr
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    in_main_thread = threading.current_thread() is threading.main_thread()
    if as_program and in_main_thread and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)
    try:
        _set_threads(getattr(args, "threads", None))
        with _downloads(getattr(args, "download", False)):
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
