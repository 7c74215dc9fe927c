"""One exception type per kind of failure, raised at the boundary with an actionable message."""

from __future__ import annotations


class NodecodeError(Exception):
    """Base class: anything a user can act on. The CLI prints these without a traceback."""


class BitstreamError(NodecodeError):
    """A `.ndc` file is malformed, truncated, corrupted or of an unknown version."""


class CodecMismatchError(BitstreamError):
    """A `.ndc` file was written by a different codec (weights or tables) than the one given."""


def require_same_codec(expected: bytes | str | None, found: bytes | str, message: str) -> None:
    """The one check that ties a file, a model or a latent cache to a codec's identity
    (16-byte digest, as bytes or hex; None, an unknown codec, matches nothing), and its one
    error type."""
    as_hex = [v.hex() if isinstance(v, bytes) else str(v) for v in (expected, found)]
    if as_hex[0] != as_hex[1]:
        raise CodecMismatchError(message)


class CheckpointError(NodecodeError):
    """A checkpoint file cannot be read or does not describe the expected model."""


class CodecNotReadyError(NodecodeError):
    """The codec has no frequency tables yet, so it cannot entropy-code (call `update`)."""


class ImageError(NodecodeError):
    """An input image cannot be read or has an unusable size."""


class OutputError(NodecodeError):
    """An output file or directory cannot be created or written."""


class TrainingDivergedError(NodecodeError):
    """A training loss became NaN or infinite; the last checkpoint is from before it."""


class ConfigError(NodecodeError):
    """An unknown preset, name or option value."""


class RateUnreachableError(ConfigError):
    """Rate control cannot fit an image's file under the asked rate, even with every latent
    entry at its cheapest center (tiny images: the header alone may exceed it)."""
