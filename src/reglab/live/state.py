"""What the live page shows, read from a run directory through the store's readers alone.

The trainer never talks to the page: it writes its records (and, per epoch, a progress file) as it
always does, and this module turns whatever is on disk into one JSON snapshot. So the page works
the same for a study trained by this process, by another one, one that was interrupted, or one that
ended long ago; a damaged file is listed, never raised.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reglab.analysis.curves import curves
from reglab.errors import ReglabError
from reglab.store import DIVERGED, EpochRecord, RunStore
from reglab.store.files import Damaged, RunFiles

# A run's state on the page (the page's words for each are in live/page.py).
WAITING, TRAINING, FINISHED, DIVERGED_STATE, STOPPED_EARLY, INTERRUPTED, DAMAGED = (
    "waiting", "training", "finished", "diverged", "stopped_early", "interrupted", "damaged")
RUN_STATES = (TRAINING, FINISHED, STOPPED_EARLY, DIVERGED_STATE, WAITING, INTERRUPTED, DAMAGED)

# The study as a whole.
STUDY_TRAINING, STUDY_FINISHED, STUDY_STOPPED = "training", "finished", "stopped"

CURVES = ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr")
REPORT_FILES = ("report.html", "findings.json")


def signature(root: Path) -> tuple:
    """A cheap fingerprint of everything the snapshot depends on (names, sizes, modification
    times): the server rebuilds the snapshot only when it changes. One stat per file."""
    entries: list[tuple] = []
    for folder in (root, root / "runs", root / "report"):
        entries += _stats(folder)
    runs = root / "runs"
    try:
        subfolders = sorted(e.path for e in os.scandir(runs) if e.is_dir(follow_symlinks=False))
    except OSError:
        subfolders = []
    for sub in subfolders:
        entries += _stats(Path(sub))
    return tuple(entries) + (writer_alive(root),)


def _stats(folder: Path) -> list[tuple]:
    try:
        with os.scandir(folder) as it:
            return sorted((e.path, e.stat(follow_symlinks=False).st_mtime_ns, e.stat(follow_symlinks=False).st_size)
                          for e in it if not e.name.endswith(".tmp"))
    except OSError:
        return []


def writer_alive(root: Path) -> bool:
    """Whether the process that last trained into the directory still runs. The store's lock file
    holds its pid; the lock itself is not tried, because taking it even for a moment could make a
    trainer starting at that moment refuse to run."""
    try:
        pid = int(RunFiles(root).read_text(".writer.lock").strip())  # never through a link
    except (Damaged, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's process
    except OSError:
        return False
    return True


@dataclass
class _Variant:
    name: str
    description: str = ""
    description_ja: str = ""
    baseline: str | None = None
    epochs: int | None = None
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    histories: dict[int, list[EpochRecord]] = field(default_factory=dict)


def snapshot(root: Path, *, ended: bool = False, findings: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The page's data. `ended`: the serving process knows the study is over (run --live)."""
    try:
        store = RunStore.open(root)  # knows the directory's format (checksums or not)
        study = store.study()  # study.json, else the manifest's copy; shape checked
    except (ReglabError, Damaged):
        store, study = RunStore(root), None
    problems: list[str] = []
    if not isinstance(study, dict) or store.read_json("study.json") is None:  # lost (the manifest's copy serves)
        problems.append("study.json: " + ("missing" if not (root / "study.json").exists() else "unreadable"))
        study = study if isinstance(study, dict) else {}
    seeds = [s for s in study.get("seeds", []) if isinstance(s, int)]
    variants: dict[str, _Variant] = {}
    for spec in study.get("variants", []):
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            variants[spec["name"]] = _Variant(
                spec["name"], str(spec.get("description") or ""), str(spec.get("description_ja") or ""),
                None if spec.get("baseline") in (None, spec["name"]) else str(spec["baseline"]),
                spec.get("epochs") if isinstance(spec.get("epochs"), int) else None)

    alive = writer_alive(root) and not ended
    records, damaged = store.load_runs()
    problems += damaged
    for stored in records:
        r = stored.record
        v = variants.setdefault(r.variant, _Variant(r.variant))
        v.histories[r.seed] = list(r.history)
        status = DIVERGED_STATE if r.status == DIVERGED else STOPPED_EARLY if r.stopped_epoch is not None else FINISHED
        v.runs[r.seed] = {"seed": r.seed, "status": status, "epochs": len(r.history),
                          "diverged_at": r.diverged_at, "stopped_epoch": r.stopped_epoch, "best_epoch": r.best_epoch,
                          "test_accuracy": _finite(r.test_accuracy)}
    damaged_paths = {line.split(":", 1)[0] for line in damaged}
    for record_path, (name, seed, history) in store.load_progress().items():
        v = variants.setdefault(name, _Variant(name))
        if seed in v.runs:
            continue  # its record is written: the progress file is about to go
        v.histories[seed] = history
        v.runs[seed] = {"seed": seed, "status": TRAINING if alive else INTERRUPTED, "epochs": len(history)}
    for index, v in enumerate(variants.values()):
        for seed in seeds:
            if seed in v.runs:
                continue
            path = _record_path(store, index, v, seed)
            if str(path.relative_to(root)) in damaged_paths:
                state = DAMAGED
            elif path.with_suffix(".ckpt").exists():
                state = TRAINING if alive else INTERRUPTED
            else:
                state = WAITING
            v.runs[seed] = {"seed": seed, "status": state, "epochs": 0}

    counts = {state: 0 for state in RUN_STATES}
    out_variants = []
    for v in variants.values():
        runs = [v.runs[s] for s in sorted(v.runs)]
        for run in runs:
            counts[run["status"]] += 1
        bands = curves([v.histories[s] for s in sorted(v.histories)]) if v.histories else {}
        out_variants.append({
            "name": v.name, "description": v.description, "description_ja": v.description_ja,
            "baseline": v.baseline, "epochs": v.epochs, "runs": runs,
            "curves": {m: _band_json(bands[m]) for m in CURVES if m in bands},
        })
    unfinished = counts[WAITING] + counts[TRAINING] + counts[INTERRUPTED] + counts[DAMAGED]
    state = STUDY_TRAINING if alive and unfinished else STUDY_FINISHED if not unfinished and out_variants else STUDY_STOPPED
    report = root / "report"
    data = store.read_json("data.json") or {}
    return {
        "study": str(study.get("name") or (store.read_json("manifest.json") or {}).get("study") or root.name),
        "dataset": str(data.get("dataset") or study.get("dataset") or ""),
        "run_dir": str(root),
        "seeds": seeds,
        "state": state,
        "counts": counts,
        "variants": out_variants,
        "problems": problems,
        "findings": findings if state == STUDY_FINISHED else None,
        "report": "report/report.html" if (report / "report.html").is_file() else None,
    }


def stored_findings(root: Path) -> list[dict[str, str]] | None:
    """The findings the report wrote (report/findings.json), in both languages, or None."""
    try:
        data = json.loads(RunFiles(root).read_text("report/findings.json"))  # never through a link
        return [{"en": str(f["en"]), "ja": str(f["ja"])} for f in data["findings"]]
    except (Damaged, ValueError, KeyError, TypeError, RecursionError):
        return None


def computed_findings(root: Path) -> list[dict[str, str]]:
    """The findings of a finished study that has no report yet, computed from the store as the
    report computes them (a second or so: the analysis bootstraps its intervals)."""
    from reglab.analysis.analyze import analyze
    from reglab.analysis.collect import collect
    from reglab.analysis.findings import findings

    return [{"en": f.en, "ja": f.ja} for f in findings(analyze(collect(RunStore.open(root))))]


def _record_path(store: RunStore, index: int, v: _Variant, seed: int) -> Path:
    return store.run_path(index, v.name, seed)


def _band_json(band) -> dict[str, list[float | None]]:
    # Band.to_json's per-element check, vectorised: this runs at every change of a training study.
    def clean(values: np.ndarray) -> list[float | None]:
        return [v if ok else None for v, ok in zip(values.tolist(), np.isfinite(values).tolist())]
    return {"mean": clean(band.mean), "low": clean(band.low), "high": clean(band.high)}


def _finite(value: float | None) -> float | None:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None
