"""A run's epochs so far, on disk while it trains: what the live page (reglab.live) reads.

    runs/NN-slug/seed-S.progress   one JSON line per epoch: {"variant", "seed", "epoch": {EpochRecord}}

Written by the process that owns the run directory at every epoch end, read by any process. A
finished run's record (seed-S.json) holds the same history, so the file is removed when the record
is saved.

Unlike the store's other files this one is appended to, not replaced: measured on this machine's
ext4, replacing a small file (temporary file, rename) cost 4.6 ms per epoch, more than an epoch of
a small model on digits, while appending a line costs tens of microseconds (benchmarks/bench_live.py
measures what it costs a study). It is not fsynced: it only shows progress (the checkpoint is what
resumes). A reader may meet a last line still being written; it skips any line it cannot parse.

A run resumed from a checkpoint appends from the epoch after the checkpoint, and a run that starts
over appends epoch 0 again: a reader keeps, at every line, only the epochs before the line's own.
"""

from __future__ import annotations

import json
import math
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
    def epoch_finished(self, path: Path, variant: str, seed: int, record: EpochRecord) -> None:
        line = json.dumps({"variant": variant, "seed": seed, "epoch": _finite(asdict(record))},
                          ensure_ascii=False, allow_nan=False) + "\n"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as handle:  # one write of one short line: O_APPEND puts it at the end whole
                handle.write(line.encode("utf-8"))
        except OSError:
            pass  # progress is only for watching: a full disk shows up where the records are written

    def forget(self, path: Path) -> None:
        path.unlink(missing_ok=True)


def read_progress(path: Path) -> tuple[str, int, list[EpochRecord]] | None:
    """(variant, seed, epochs so far) of a progress file, or None when it is missing or holds no
    readable line."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        return None
    found: tuple[str, int] | None = None
    history: list[EpochRecord] = []
    for line in lines:
        try:
            data = json.loads(line)
            epoch = EpochRecord(**{k: (math.nan if v is None else v) for k, v in data["epoch"].items()})
            found = (str(data["variant"]), int(data["seed"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a line being written, or damage: the next epoch's line follows
        if history and epoch.epoch <= history[-1].epoch:  # resumed or started over (rare): drop what follows
            history = [e for e in history if e.epoch < epoch.epoch]
        history.append(epoch)
    return None if found is None else (*found, history)


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    # JSON has no NaN: a diverged epoch's loss is written as null.
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}
