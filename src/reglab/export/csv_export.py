"""`--to csv`: epochs.csv (one row per run and epoch) and runs.csv (one row per run, with its
variant's settings as columns): what a spreadsheet, pandas or R reads without reglab."""

from __future__ import annotations

import csv
import io
from dataclasses import fields
from pathlib import Path

from reglab.export.source import ExportSource
from reglab.store import EpochRecord
from reglab.store.atomic import write_bytes

EPOCH_COLUMNS = [f.name for f in fields(EpochRecord)]
# epochs_trained: the epochs a run has (fewer than its `epochs` setting when it stopped early or diverged).
RUN_COLUMNS = ["status", "test_loss", "test_accuracy", "seconds", "epochs_trained", "diverged_at", "best_epoch",
               "stopped_epoch", "engine"]
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write_csv(source: ExportSource, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    epochs = [["study", "variant", "seed", *EPOCH_COLUMNS]]
    for run in source.runs:
        for e in run.record.history:
            epochs.append([source.study_name, run.record.variant, run.record.seed,
                           *(getattr(e, column) for column in EPOCH_COLUMNS)])
    params = sorted({key for run in source.runs for key in run.params if key != "seed"})
    fixed = ["study", "variant", "seed", *RUN_COLUMNS]
    runs = [fixed + distinct_columns(fixed, params, "setting.")]
    for run in source.runs:
        r = run.record
        runs.append([source.study_name, r.variant, r.seed, r.status, r.test_loss, r.test_accuracy, r.seconds,
                     len(r.history), r.diverged_at, r.best_epoch, r.stopped_epoch, r.engine,
                     *(run.params.get(key, "") for key in params)])
    _write(out / "epochs.csv", epochs)
    _write(out / "runs.csv", runs)
    return out


def distinct_columns(fixed: list[str], extra: list[str], prefix: str) -> list[str]:
    """`extra`'s names, those that a fixed column already has prefixed (no two columns of one name)."""
    return [f"{prefix}{name}" if name in fixed else name for name in extra]


def cell(value: object) -> object:
    """A cell as a spreadsheet shows it and never runs: text starting like a formula gets a leading
    apostrophe (OWASP's advice); numbers, negative ones included, are written as numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def _write(path: Path, rows: list[list]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerows([[cell(v) for v in row] for row in rows])
    write_bytes(path, text.getvalue().encode("utf-8"))  # atomic: a reader never sees half a table
