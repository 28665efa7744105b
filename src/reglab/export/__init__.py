"""Take a study's runs to the tools people already use: TensorBoard, MLflow, CSV.

    reglab export RUN_DIR --to tensorboard DIR
    reglab export RUN_DIR --to mlflow [--tracking-uri URI]
    reglab export RUN_DIR --to csv DIR
    reglab export RUN_DIR --to model DIR [--variant V] [--seed S]   (export/model_files.py)
    reglab export RUN_DIR --to onnx DIR [--variant V] [--seed S]

Everything comes from the run store alone (no torch, no engine). Only finished runs are exported,
so a partial study exports what it has and a later export adds the rest; exporting twice writes
the same thing again instead of a second copy. TensorBoard and MLflow are optional extras: a clear
error (exit 2) says how to install the one that is missing.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from reglab.errors import ReglabError, StorageError, not_a_folder, unwritable
from reglab.export.source import ExportSource, read_source

TARGETS = ("tensorboard", "mlflow", "csv", "model", "onnx")
MODEL_TARGETS = ("model", "onnx")  # the trained networks, rather than the runs' numbers
WRITES = {"tensorboard": "event files", "csv": "epochs.csv and runs.csv", "mlflow": "mlflow.db and mlartifacts/",
          "model": "a trained network's files", "onnx": "ONNX files"}

# What each target needs beyond reglab, and the extra that installs it.
_NEEDS = {"tensorboard": ("tensorboard", "reglab[tensorboard]"), "mlflow": ("mlflow", "reglab[mlflow]")}

__all__ = ["TARGETS", "ExportSource", "export", "read_source"]


def require(target: str) -> None:
    module, extra = _NEEDS.get(target, (None, None))
    if module is not None and importlib.util.find_spec(module) is None:
        raise ReglabError(f"exporting to {target} needs the {module} package, which is not installed. "
                          f"Fix: pip install '{extra}'")


def export(run_dir: Path | str, to: str, out: Path | str | None = None, *, tracking_uri: str | None = None,
           variants: list[str] | None = None, seeds: list[int] | None = None,
           say: Callable[[str], None] = lambda line: None) -> str:
    """Export the finished runs of `run_dir`; returns where they went (a folder or a tracking URI).
    `variants` and `seeds` choose the runs whose networks --to model and --to onnx write."""
    if to not in TARGETS:
        raise ReglabError(f"--to {to!r} is not known: use one of {', '.join(TARGETS)}.")
    if to in ("tensorboard", "csv", *MODEL_TARGETS) and out is None:
        raise ReglabError(f"--to {to} needs a folder to write into. Fix: reglab export RUN_DIR --to {to} "
                          f"{'tb-logs' if to == 'tensorboard' else 'models' if to in MODEL_TARGETS else 'csv'}")
    if (variants or seeds) and to not in MODEL_TARGETS:
        raise ReglabError(f"--variant and --seed choose the networks that --to model or --to onnx writes; --to {to} "
                          "exports every finished run. Fix: leave them out.")
    if to == "mlflow" and out is not None and tracking_uri is not None:
        raise ReglabError("give either a folder (an SQLite tracking store is made there) or --tracking-uri, "
                          "not both.")
    require(to)
    folder = Path(out) if out is not None else None
    if folder is not None and folder.exists() and not folder.is_dir():
        raise not_a_folder(f"--to {to} writes {WRITES[to]}", folder)
    if to in MODEL_TARGETS:
        from reglab.export.model_files import chosen_runs
        from reglab.results import StudyResult

        result = StudyResult(run_dir)
        runs = chosen_runs(result, variants, seeds, say)  # an unknown variant or seed: before any folder is made
    else:
        source = read_source(Path(run_dir))
        for line in source.problems:
            say(f"left out: {line}")
    try:
        if folder is not None:  # made first: a folder that cannot be is said before any network is converted
            folder.mkdir(parents=True, exist_ok=True)
        if to in MODEL_TARGETS:
            from reglab.export.model_files import export_models

            written = export_models(result, folder, runs, onnx=to == "onnx")
            for path in written:
                say(f"wrote {path.parent}")
            return str(out)
        if to == "csv":
            from reglab.export.csv_export import write_csv
            return str(write_csv(source, folder))
        if to == "tensorboard":
            from reglab.export.tensorboard import write_tensorboard
            return str(write_tensorboard(source, folder))
        from reglab.export.mlflow_export import write_mlflow
        return write_mlflow(source, tracking_uri=tracking_uri, folder=folder)
    except (OSError, StorageError) as exc:  # the destination, never the run directory (only read)
        raise unwritable(f"the {to} export", folder or tracking_uri or Path.cwd(), exc,
                         "give a folder you can write to (it is made, with its parents, when missing), with free "
                         "space; nothing in the run directory was changed.") from None
