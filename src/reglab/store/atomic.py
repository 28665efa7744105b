"""Atomic writes: a reader sees the old file or the new one, never half of one.

Write to a temporary file in the same directory, fsync it, rename it over the target (atomic on
POSIX), then fsync the directory so the rename itself survives a power cut.
"""

from __future__ import annotations

import json
import math
import os
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from reglab.errors import StorageError


def write_atomic(path: Path, write: Callable[[BinaryIO], None], prepare: Callable[[], Path] | None = None) -> None:
    """Raises StorageError (with the fix) when the disk is full or the directory not writable.
    `prepare`, when given, makes the folder ready and returns the path to write (store/files.py:
    a run directory's files never through a link)."""
    try:
        _write_atomic(prepare() if prepare else path, write, make_folder=prepare is None)
    except OSError as exc:
        raise StorageError(path, exc) from None


def _write_atomic(path: Path, write: Callable[[BinaryIO], None], make_folder: bool = True) -> None:
    if make_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the mode open() would
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        _crash_point(path)
        os.replace(temp_name, path)
    except BaseException:
        # Covers KeyboardInterrupt too: no temporary file is left behind.
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()

# Fault injection for tests/test_resume.py: REGLAB_TEST_CRASH=".ckpt:3" kills the process with
# SIGKILL just before the 3rd rename onto a file ending in .ckpt, i.e. in the middle of a write.
# A training worker process (engine/scheduler.py) kills the study's main process, as a crash of
# the machine would, and then itself; the count is per process.
_CRASH = os.environ.get("REGLAB_TEST_CRASH", "")
_crash_counts: dict[str, int] = {}
_MAIN_PID = os.getpid()  # forked workers inherit the main process's value


def _crash_point(path: Path) -> None:
    if not _CRASH:
        return
    suffix, _, count = _CRASH.partition(":")
    if path.name.endswith(suffix):
        _crash_counts[suffix] = _crash_counts.get(suffix, 0) + 1
        if _crash_counts[suffix] == int(count or 1):
            os.kill(_MAIN_PID, signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)


def write_bytes(path: Path, data: bytes) -> None:
    write_atomic(path, lambda handle: handle.write(data))


def write_json(path: Path, obj: Any) -> None:
    """NaN and infinities are written as null: JSON has no such numbers (see json_safe)."""
    write_bytes(path, (json.dumps(json_safe(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8"))


def json_safe(value: Any) -> Any:
    """`value` with every NaN and infinity replaced by None (JSON's null), numpy values as Python's.
    Every JSON reglab writes goes through this: a diverged run's losses are not finite."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # some filesystems do not allow opening a directory; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
