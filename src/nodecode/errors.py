"""One exception type per kind of failure, raised at the boundary with an actionable message."""

from __future__ import annotations


class NodecodeError(Exception):
    """Base class: anything a user can act on. The CLI prints these without a traceback."""


class BitstreamError(NodecodeError):
    """A `.ndc` file is malformed, truncated, corrupted or of an unknown version."""


class CodecMismatchError(BitstreamError):
    """A `.ndc` file was written by a different codec (weights or tables) than the one given."""


class CheckpointError(NodecodeError):
    """A checkpoint file cannot be read or does not describe the expected model."""


class CodecNotReadyError(NodecodeError):
    """The codec has no frequency tables yet, so it cannot entropy-code (call `update`)."""


class ImageError(NodecodeError):
    """An input image cannot be read or has an unusable size."""


class OutputError(NodecodeError):
    """An output file or directory cannot be created or written."""


class ConfigError(NodecodeError):
    """An unknown preset, name or option value."""
