"""Read everything a report needs from a run directory, tolerating damage: what cannot be read
is listed in `missing` (never raised), so a partial or interrupted run still gets a report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reglab.store import RunRecord, RunStore, StoredRun
from reglab.store.files import Damaged

# The run directory's own files (besides manifest.json) and their kind in `Missing`.
EXPLANATIONS = "explanations.json"
FILES = {"study.json": "study", "data.json": "data", "environment.json": "environment", "study.toml": "study_toml"}


@dataclass(frozen=True)
class Missing:
    kind: str  # study, data, environment, study_toml, test_split, model, record, damaged, arrays, explanations
    path: str  # relative to the run directory
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "path": self.path, "detail": self.detail}


@dataclass
class VariantRuns:
    name: str
    description: str
    baseline: str | None  # None for a baseline
    spec: dict[str, Any]  # the resolved variant from study.json ({} when study.json is missing)
    runs: list[StoredRun] = field(default_factory=list)  # sorted by seed
    model: list[dict[str, Any]] | None = None  # model.json's layer table

    @property
    def records(self) -> list[RunRecord]:
        return [r.record for r in self.runs]


@dataclass
class Collected:
    root: Path
    manifest: dict[str, Any]
    study: dict[str, Any]
    data: dict[str, Any]
    environment: dict[str, Any]
    study_toml: str | None
    variants: list[VariantRuns]
    test_labels: np.ndarray | None
    test_images: np.ndarray | None
    missing: list[Missing]
    # explanations.json, written by `reglab explain` (reglab.explain): None until it has run.
    explanations: dict[str, Any] | None = None
    # references.json: the scikit-learn reference models' runs (models/sklearn_references.py), [] if none.
    references: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seeds(self) -> list[int]:
        found = sorted({r.record.seed for v in self.variants for r in v.runs})
        return list(self.study.get("seeds", found))

    def variant(self, name: str) -> VariantRuns | None:
        return next((v for v in self.variants if v.name == name), None)


def collect(store: RunStore) -> Collected:
    missing: list[Missing] = []
    loaded: dict[str, Any] = {}
    readers = {"study": store.study, "data": store.data, "environment": store.environment}
    for name, kind in FILES.items():
        if kind == "study_toml":
            loaded[kind] = store.study_toml()  # a built-in study has none: its absence is not damage
            continue
        try:
            loaded[kind] = readers[kind]()
        except Damaged as exc:
            loaded[kind] = None
            missing.append(Missing(kind, name, "missing" if exc.missing else f"damaged: {exc.reason}"))

    study = loaded["study"] or {}
    runs, damaged = store.load_runs()
    missing += [Missing("damaged", line.split(":", 1)[0], line.split(":", 1)[-1].strip()) for line in damaged]
    variants = _variants(study, runs)

    seeds = study.get("seeds") or sorted({r.record.seed for r in runs})
    damaged_paths = {m.path for m in missing if m.kind == "damaged"}
    for index, variant in enumerate(variants):
        found = {r.record.seed for r in variant.runs}
        folder = _folder(store, index, variant)
        for seed in seeds:
            path = folder / f"seed-{seed}.json"
            relative = str(path.relative_to(store.root))
            if seed not in found and relative not in damaged_paths:
                # A checkpoint beside it: the run was interrupted in the middle (`reglab resume` goes on).
                in_progress = store.files.exists(path.with_suffix(".ckpt"))
                missing.append(Missing("record", relative, "in_progress" if in_progress else ""))
        try:
            variant.model = store.model(folder)
        except Damaged:
            missing.append(Missing("model", str((folder / "model.json").relative_to(store.root))))

    try:
        labels, images = store.test_split()
    except Damaged as exc:
        labels = images = None
        missing.append(Missing("test_split", "test_split.npz", "missing" if exc.missing else f"damaged: {exc.reason}"))
    try:
        manifest = store.manifest()
    except Damaged:
        manifest = {}
    explanations = None
    if store.files.exists(store.root / EXPLANATIONS):  # optional: absent until `reglab explain` runs
        try:
            explanations = store.files.read_json(store.root / EXPLANATIONS)
        except Damaged as exc:
            missing.append(Missing("explanations", EXPLANATIONS, f"damaged: {exc.reason}"))
    return Collected(store.root, manifest, study, loaded["data"] or {},
                     loaded["environment"] or {}, loaded["study_toml"], variants, labels, images, missing,
                     explanations, store.references())


def _variants(study: dict[str, Any], runs: list[StoredRun]) -> list[VariantRuns]:
    """The study's variants in its order; a record of a variant the study does not name (study.json
    missing or damaged) still gets a place, after them."""
    variants: dict[str, VariantRuns] = {}
    for spec in study.get("variants", []):
        name = spec["name"]
        # The stored study marks a baseline by naming itself (so that it reloads unchanged).
        baseline = None if spec.get("baseline") in (None, name) else spec["baseline"]
        variants[name] = VariantRuns(name, spec.get("description", ""), baseline, spec)
    for stored in runs:
        name = stored.record.variant
        variants.setdefault(name, VariantRuns(name, "", None, {})).runs.append(stored)
    for variant in variants.values():
        variant.runs.sort(key=lambda r: r.record.seed)
    return list(variants.values())


def _folder(store: RunStore, index: int, variant: VariantRuns) -> Path:
    if variant.runs:
        return variant.runs[0].path.parent  # where the records really are
    return store.run_path(index, variant.name, 0).parent
