"""What every exporter reads: the study's finished runs, each with its variant's settings, from
the store's own readers (a damaged or unfinished run is left out and named, never raised)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reglab.store import RunRecord, RunStore, StoredRun
from reglab.store.files import Damaged

# Settings that describe a variant rather than configure it: not hyperparameters.
DESCRIPTIVE = ("name", "description", "description_ja", "baseline")


@dataclass(frozen=True)
class ExportRun:
    stored: StoredRun
    folder: str  # the store's folder of the variant (NN-slug): unique, in the study's order
    params: dict[str, str | float | int | bool]  # the variant's settings, flattened (optimizer.lr, ...)

    @property
    def record(self) -> RunRecord:
        return self.stored.record

    @property
    def name(self) -> str:
        """variant/seed-S, as TensorBoard's run selector and MLflow's run list show it."""
        return f"{self.folder}/seed-{self.record.seed}"

    def epoch_times(self, fallback: float) -> list[float]:
        """When each epoch ended, in seconds since the epoch of Unix time: the run's start plus the
        stored seconds of the epochs up to it. The start is when its record was written (its
        file's modification time) less the run's stored seconds; `fallback` (the study's creation
        time) where the file cannot be read. TensorBoard's relative and wall-time axes and
        MLflow's metric timestamps are drawn from these."""
        try:
            finished = self.stored.path.stat().st_mtime
            start = finished - max(0.0, float(self.record.seconds or 0.0))
        except (OSError, TypeError, ValueError):
            start = fallback
        times, elapsed = [], 0.0
        for epoch in self.record.history:
            seconds = epoch.seconds if isinstance(epoch.seconds, (int, float)) and math.isfinite(epoch.seconds) else 0.0
            elapsed += max(0.0, seconds)
            times.append(start + elapsed)
        return times

    def weights(self) -> dict[str, np.ndarray]:
        """The final weights, or {} when the arrays cannot be read."""
        try:
            return self.stored.arrays().weights
        except Damaged:  # the store's one error for a file it cannot trust
            return {}


@dataclass(frozen=True)
class ExportSource:
    root: Path
    study: dict[str, Any]
    manifest: dict[str, Any]
    runs: list[ExportRun]
    problems: list[str]

    @property
    def created(self) -> float:
        """When the run directory was made (its manifest), in Unix seconds; now where unknown."""
        from datetime import datetime

        try:
            return datetime.fromisoformat(str(self.manifest.get("created"))).timestamp()
        except ValueError:
            import time

            return time.time()

    @property
    def study_name(self) -> str:
        return str(self.study.get("name") or self.manifest.get("study") or self.root.name)


def read_source(root: Path) -> ExportSource:
    store = RunStore.open(root)
    study = store.read_json("study.json") or {}
    specs = {v.get("name"): v for v in study.get("variants", []) if isinstance(v, dict)}
    stored, problems = store.load_runs()
    runs = []
    for s in stored:
        spec = specs.get(s.record.variant, {})
        params = flatten({k: v for k, v in spec.items() if k not in DESCRIPTIVE})
        runs.append(ExportRun(s, s.path.parent.name, {**params, "seed": s.record.seed}))
    runs.sort(key=lambda r: (r.folder, r.record.seed))
    waiting = len(study.get("variants", [])) * len(study.get("seeds", [])) - len(runs) - len(problems)
    if waiting > 0:
        problems.append(f"{waiting} run(s) not finished yet: export again when they are")
    return ExportSource(root, study, store.read_json("manifest.json") or {}, runs, problems)


def flatten(value: Any, prefix: str = "") -> dict[str, str | float | int | bool]:
    """{"optimizer": {"name": "adam", "lr": 0.001}, "hidden": [32, 16]} ->
    {"optimizer.name": "adam", "optimizer.lr": 0.001, "hidden": "32,16"}"""
    out: dict[str, str | float | int | bool] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, (list, tuple)):
        out[prefix] = ",".join(str(v) for v in value)
    elif value is None:
        out[prefix] = "none"
    elif isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
        out[prefix] = value
    else:
        out[prefix] = str(value)
    return out
