"""Atomic file output: a reader never sees a partially written file."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from nodecode.errors import OutputError

# A temporary file older than this whose writer process is gone is debris from a kill.
STALE_SECONDS = 60.0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def describe_os_error(error: OSError) -> str:
    """`path: reason`, the way a shell would say it, without errno noise."""
    reason = error.strerror or str(error)
    if isinstance(error, (FileExistsError, NotADirectoryError)) and error.filename:
        # mkdir(exist_ok=True) on a file says only "File exists"; name the clash instead
        reason = _not_a_folder(Path(os.fsdecode(error.filename))) or reason
    return f"{error.filename}: {reason}" if error.filename else reason


def _not_a_folder(path: Path) -> str | None:
    """Why `path` cannot be a directory: it, or one above it, is a file."""
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            return ("is" if part == path else f"{part} is") + " a file, not a directory"
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete temporaries of `path` left by writers killed before their rename
    (`kill -9`, power loss); a live writer's temporary is never touched."""
    removed = []
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp*"):
        pid = tmp.name[len(path.name) + 2 :].split("-", 1)[0]
        try:
            old = time.time() - tmp.stat().st_mtime > STALE_SECONDS
            if pid.isdigit() and old and not _alive(int(pid)):
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    The temporary's name carries the writer's pid, so the next write of `path` can clear
    debris left by a writer that was killed between writing and renaming."""
    path = Path(path)
    suffix = path.suffix if suffix is None else suffix
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}-", suffix=f".tmp{suffix}", dir=path.parent
        )
        os.close(fd)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {describe_os_error(error)}") from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp's 0600 would hide outputs from others
        try:
            os.replace(tmp_path, path)
        except OSError as error:
            raise OutputError(f"cannot write {path}: {describe_os_error(error)}") from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def json_safe(value: object) -> object:
    """`value` with every NaN float as None, so the JSON written is standard (no `NaN`)."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
