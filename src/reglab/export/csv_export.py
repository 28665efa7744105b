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
RUN_COLUMNS = ["status", "test_loss", "test_accuracy", "seconds", "epochs", "diverged_at", "best_epoch",
               "stopped_epoch", "engine"]


def write_csv(source: ExportSource, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    epochs = [["study", "variant", "seed", *EPOCH_COLUMNS]]
    for run in source.runs:
        for e in run.record.history:
            epochs.append([source.study_name, run.record.variant, run.record.seed,
                           *(getattr(e, column) for column in EPOCH_COLUMNS)])
    params = sorted({key for run in source.runs for key in run.params if key != "seed"})
    runs = [["study", "variant", "seed", *RUN_COLUMNS, *params]]
    for run in source.runs:
        r = run.record
        runs.append([source.study_name, r.variant, r.seed, r.status, r.test_loss, r.test_accuracy, r.seconds,
                     len(r.history), r.diverged_at, r.best_epoch, r.stopped_epoch, r.engine,
                     *(run.params.get(key, "") for key in params)])
    _write(out / "epochs.csv", epochs)
    _write(out / "runs.csv", runs)
    return out


def _write(path: Path, rows: list[list]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    write_bytes(path, text.getvalue().encode("utf-8"))  # atomic: a reader never sees half a table
