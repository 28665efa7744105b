"""Epoch checkpoints of a run in progress, so that an interrupted study resumes exactly.

A checkpoint holds everything the next epoch depends on: weights, optimizer state, the state of
every random stream (data order, dropout, augmentation), a stateful schedule, early stopping and
its best weights, and the history so far. Resuming from it gives the numbers an uninterrupted
run gives (tests/test_resume.py checks that bit for bit on the CPU).

Written with torch.save and read with torch.load(weights_only=True): tensors, numbers, strings,
lists and dicts only, so a checkpoint file cannot run code when it is loaded. A checkpoint is
bytes: locally a file beside the run's record; on a cluster (engine/ray_executor.py) the worker
sends them to the driver, which writes that same file. Sealed with its SHA-256 and never read
through a link (store/files.py): a damaged checkpoint is refused (torch itself loads many damaged
ones, and training went on from damaged weights) and its run starts over.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from reglab.store.files import Damaged, RunFiles

# 3: the fast engine's optimizer state is over [1, ...] slices of the stack (optimizer groups);
# a checkpoint of another format is not read, and its run starts over.
FORMAT = 3


# What restoring a checkpoint that does not fit its run raises (another architecture or optimizer,
# a state of the wrong shape): the engines then discard it and start the run over.
RESTORE_ERRORS = (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError)


def check_progress(saved: dict[str, Any], epochs: int) -> int:
    """The epoch a checkpoint resumes at; ValueError when it does not fit a run of `epochs` epochs."""
    epoch = saved["epoch"]
    if not (isinstance(epoch, int) and 0 < epoch <= epochs and len(saved["history"]) == epoch):
        raise ValueError("a checkpoint of another run")
    return epoch


class Checkpointer:
    """Saves a run's state at epoch ends: every `interval` seconds, and always when the study is
    being stopped (Ctrl-C), so that stopping loses no finished epoch."""

    def __init__(self, path: Path, interval: float, stopping: threading.Event | None = None,
                 engine: str = "reference", files: RunFiles | None = None):
        self.path = path
        self.files = files or RunFiles(path.parent)  # the run directory's, where the scheduler gives it
        self.engine = engine  # a checkpoint resumes only in the engine that wrote it (they round differently)
        self.interval = interval
        self.stopping = stopping or threading.Event()
        self.last_saved = time.monotonic()

    def read_bytes(self) -> bytes | None:
        """The checkpoint's payload, its checksum verified; None when there is none or it is damaged."""
        try:
            return self.files.read_sealed(self.path)
        except Damaged:
            return None

    def write_bytes(self, data: bytes) -> None:
        self.files.write_sealed(self.path, data)

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is none or it cannot be read (the run starts over)."""
        try:
            data = self.read_bytes()
            if data is None:
                return None
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception:  # a damaged checkpoint costs only the work since the run started
            return None
        if not (isinstance(state, dict) and state.get("format") == FORMAT and state.get("engine") == self.engine):
            return None
        return state

    def maybe_save(self, build: Callable[[], dict[str, Any]]) -> bool:
        if not (self.stopping.is_set() or time.monotonic() - self.last_saved >= self.interval):
            return False
        buffer = io.BytesIO()
        torch.save({"format": FORMAT, "engine": self.engine, **build()}, buffer)
        self.write_bytes(buffer.getvalue())
        self.last_saved = time.monotonic()
        return True

    def discard(self) -> None:
        self.files.unlink(self.path)
