"""A run's epochs so far, on disk while it trains: what the live page (reglab.live) reads.

    runs/NN-slug/seed-S.progress   JSON: {"variant", "seed", "history": [EpochRecord as JSON, ...]}

Written by the process that owns the run directory at every epoch end, read by any process. A
finished run's record (seed-S.json) holds the same history, so the file is removed when the record
is saved. What it costs: one small JSON file (about 200 bytes an epoch) replaced per epoch of each
run. It is renamed into place like every file of the store, so a reader never sees half of one,
but it is not fsynced: it only shows progress (the checkpoint is what resumes), and an fsync per
epoch would cost the trainer more than the epoch of a small model does.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from reglab.store.records import EpochRecord

# Not .json: readers find run records as runs/*/seed-*.json, and this is not one.
SUFFIX = ".progress"


def progress_path(record_path: Path) -> Path:
    """runs/NN-slug/seed-S.json -> runs/NN-slug/seed-S.progress"""
    return record_path.with_suffix(SUFFIX)


class ProgressWriter:
    """Keeps each run's history in memory and rewrites its file at every epoch end.

    A run resumed from a checkpoint reports epochs from where it stopped: the epochs before are
    taken from the file it left; a run that starts over (epoch 0 again) replaces it."""

    def __init__(self) -> None:
        self._histories: dict[Path, list[dict[str, Any]]] = {}

    def epoch_finished(self, path: Path, variant: str, seed: int, record: EpochRecord) -> None:
        history = self._histories.get(path)
        if history is None:
            history = [e for e in (_read(path) or {}).get("history", []) if isinstance(e, dict)]
        history = [e for e in history if isinstance(e.get("epoch"), int) and e["epoch"] < record.epoch]
        history.append(_finite(asdict(record)))
        self._histories[path] = history
        try:
            _replace(path, {"variant": variant, "seed": seed, "history": history})
        except OSError:
            pass  # progress is only for watching: a full disk shows up where the records are written

    def forget(self, path: Path) -> None:
        self._histories.pop(path, None)
        path.unlink(missing_ok=True)


def read_progress(path: Path) -> tuple[str, int, list[EpochRecord]] | None:
    """(variant, seed, epochs so far) of a progress file, or None when it is missing or cannot be
    read (it may be replaced while it is read; the next read gets the new one)."""
    data = _read(path)
    if data is None:
        return None
    try:
        history = [EpochRecord(**{k: (math.nan if v is None else v) for k, v in e.items()})
                   for e in data["history"]]
        return str(data["variant"]), int(data["seed"]), history
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    # JSON has no NaN: a diverged epoch's loss is written as null.
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}


def _replace(path: Path, obj: Any) -> None:
    # The store's naming for temporary files (.NAME.XXXX.tmp), so remove_partial_writes finds strays.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8"))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
