"""Helpers shared by subcommands: resolving the codec of a file, output paths."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from nodecode.bitstream.container import NdcHeader
from nodecode.codec.zoo import cached_codec, codec_for_file, list_codecs  # noqa: F401 - re-export
from nodecode.errors import ConfigError, OutputError
from nodecode.utils.io import describe_os_error

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from nodecode.codec.refine import RefineConfig

C = TypeVar("C", bound="DataclassInstance")

CODEC_HELP = (
    f"codec name ({', '.join(list_codecs())}), checkpoint path, or a CompressAI model "
    "compressai:ARCH:QUALITY[:STATE_DICT]"
)


def positive_int(text: str) -> int:
    """The argparse type of counts that must be at least 1, such as `--threads`."""
    count = non_negative_int(text)
    if count == 0:
        raise argparse.ArgumentTypeError("0: must be 1 or more")
    return count


def non_negative_int(text: str) -> int:
    """The argparse type of counts such as `--workers` (0: none, work in this process) and
    `--refine` (0: no refinement)."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if count < 0:
        raise argparse.ArgumentTypeError(f"{count}: must be 0 or more")
    return count


TRAIN_WORKERS_HELP = (
    "DataLoader worker processes for batches and augmentation (resume keeps the count)"
)


def add_workers_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """`--workers N` (0: load in this process), as every verb that loads data takes it."""
    parser.add_argument("--workers", type=non_negative_int, default=0, help=help)


COMPILE_HELP = (
    "torch.compile the network with frozen weights: seconds to compile per input shape, "
    "then faster (docs/RESULTS.md §7); worth it for many files of one size"
)


def add_compile_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--compile", action="store_true", help=COMPILE_HELP)


BPP_HELP = (
    "rate control: cap each whole file at this many bits per pixel, or 'nominal' for the "
    "codec's operating point (paper codecs; the decoder is unchanged)"
)


REFINE_HELP = (
    "optimise each image's latent for this many steps before coding it (the decoder is "
    "unchanged; about 0.4 s a step for a 768x512 photo on 2 CPU cores; paper codecs)"
)


def refine_config(steps: int) -> RefineConfig | None:
    """`--refine STEPS` as a refinement setting; 0 is none."""
    from nodecode.codec.refine import RefineConfig

    return RefineConfig(steps=steps) if steps > 0 else None


def add_rates_argument(parser: argparse.ArgumentParser, default: list[str]) -> None:
    """`--bpp RATE…` of the evaluating verbs: rate-controlled rows beside the plain ones."""
    parser.add_argument(
        "--bpp",
        nargs="*",
        type=rate_target,
        default=default,
        metavar="RATE",
        help="also evaluate each codec rate-controlled to these rates (bpp, or 'nominal' "
        f"for its operating point): rows named CODEC@RATE (default: {' '.join(default) or 'none'})",
    )


def rate_target(text: str) -> float | str:
    """The argparse type of `--bpp`: a positive rate, or "nominal"."""
    from nodecode.codec.rate_control import parse_target

    try:
        return parse_target(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def output_path(out_dir: Path, source: Path, suffix: str) -> Path:
    return out_dir / (source.stem + suffix)


def output_paths(out_dir: Path, sources: list[Path], suffix: str) -> list[Path]:
    """One output per input, refused up front if two inputs would write the same file
    (a/x.png and b/x.png, or x.png and x.jpg): silently keeping the last is data loss."""
    prepare_out_dir(out_dir)
    targets = [output_path(out_dir, source, suffix) for source in sources]
    first: dict[Path, Path] = {}
    for source, target in zip(sources, targets, strict=True):
        if target in first:
            raise ConfigError(
                f"{first[target]} and {source} would both be written to {target}; "
                "give inputs with distinct names or run them into separate -o directories"
            )
        first[target] = source
    return targets


def prepare_out_dir(out_dir: Path) -> None:
    """Fail before any work if the output directory cannot be used."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"-o {out_dir}: is a file, not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"-o {out_dir}: cannot create it: {describe_os_error(error)}") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OutputError(f"-o {out_dir}: directory is not writable")


def describe_header(header: NdcHeader, file_bytes: int) -> dict[str, object]:
    c, h, w = header.latent_shape
    return {
        "format": f".ndc version {header.version}",
        "codec": header.codec_name,
        "codec_id": header.codec_id.hex(),
        "image_size": f"{header.image_size[0]}x{header.image_size[1]}",
        "latent_shape": f"{c}x{h}x{w}",
        "latent_stride": f"{header.stride} (image padded to a multiple of {header.align})",
        "centers": header.num_centers or "the model's own entropy models",
        "payload_bytes": header.payload_length,
        "strings": " + ".join(map(str, header.lengths)) + " bytes",
        "file_bytes": file_bytes,
        "bpp": round(8.0 * file_bytes / header.num_pixels, 4),
        "color_offset": " ".join(f"{v / 4:+.2f}" for v in header.color_offset) + " levels (RGB)",
    }


JSON_HELP = "also write the results as JSON to this file ('-': standard output)"


def write_json(path: Path | None, payload: object) -> None:
    """`--json PATH`: machine-readable results beside the human-readable lines."""
    if path is None:
        return
    import json

    from nodecode.utils.io import json_safe

    text = json.dumps(json_safe(payload), indent=1, default=str)
    if str(path) == "-":
        print(text)
    else:
        from nodecode.utils.io import atomic_write_text

        atomic_write_text(path, text + "\n")


def config_from_args(cls: type[C], args: argparse.Namespace, **overrides: object) -> C:
    """A config dataclass from the command-line options of the same names (flags only map)."""
    values = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)
    }
    return cls(**{**values, **overrides})
