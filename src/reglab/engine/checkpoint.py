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

One file format, two payloads. Both engines write the same envelope and the same progress:

    format, engine          this module's FORMAT; "reference" or "fast" (the engine that wrote it)
    epoch, step, seconds    epochs done, optimizer steps done, seconds spent so far
    history                 the finished epochs' EpochRecords, as dicts
    sketches                the finished epochs' weight sketches [epochs, K] (engine/sketch.py)
    generators              the random streams' states: data_order, dropout, and each technique's own
                            (Technique.stream: augmentation's)
    techniques              Techniques.state_dict() (engine/core.py): each stateful technique's state
                            by its name (early stopping), and a stateful schedule's

They differ in how the network and its optimizer are held, because each engine saves the state it
trains in and nothing else:

    reference   model: the model's state_dict; optimizer: torch.optim's state over
                model.parameters(); best_state: a state_dict (early stopping's best weights)
    fast        stack: the run's slices of the stacked tensors, in the stack's order (every kernel,
                then biases, norm scales and running statistics; engine/stacked_*.py `state`);
                optimizer: the state over those [1, ...] slices, in that order; best_state in the
                same layout, and best_steps, the step count a batch norm's num_batches_tracked is
                rebuilt from when the best weights are loaded into the plain model

One layout would mean converting the fast engine's stack state and, harder, its optimizer state
(moments re-indexed from stack order to parameter order, reshaped, for every optimizer including
Keras's RMSprop) at every save and restore. It would buy nothing: a checkpoint resumes only in the
engine that wrote it anyway. The engines round differently (the equivalence tests hold them to a
tolerance, not to the bit), so a run continued in the other engine would match neither engine's
uninterrupted run (tests/test_resume.py checks bit-identity within each engine), and its record
could not honestly name one engine. A checkpoint of the other engine is therefore not loaded (its
run starts over), as one of another FORMAT is not.
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
# 4: the techniques' states by name (techniques/hooks.py). A checkpoint of another format is not
# read, and its run starts over.
FORMAT = 4


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
