"""Downloads happen only when asked: a flag, or `NODECODE_DOWNLOAD=1` for every command."""

from __future__ import annotations

import os

DOWNLOAD_ENV = "NODECODE_DOWNLOAD"


def downloads_allowed(flag: bool | None = None) -> bool:
    """`flag` when given (True or False), else the environment's answer (default: no)."""
    if flag is not None:
        return flag
    return os.environ.get(DOWNLOAD_ENV, "") not in ("", "0")
