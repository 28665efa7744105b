"""Per-variant results from stored runs: the data behind `reglab results` (schema in docs/results.md)."""

from __future__ import annotations

import statistics
from typing import Any

from reglab.store import COMPLETED, RunStore
from reglab.store.atomic import json_safe
from reglab.store.files import Damaged


def describe(values: list[float]) -> dict[str, Any]:
    """Mean and sample standard deviation (n - 1); std is null with fewer than two values."""
    n = len(values)
    return {
        "mean": statistics.fmean(values) if n else None,
        "std": statistics.stdev(values) if n >= 2 else None,
        "n": n,
    }


def _or_empty(read) -> dict[str, Any]:
    try:
        return read()
    except Damaged:
        return {}


def study_results(store: RunStore) -> dict[str, Any]:
    """Non-finite numbers (a diverged run's losses) are None here, as in the stored JSON."""
    study = _or_empty(store.study)
    data = _or_empty(store.data)
    runs, damaged = store.load_runs()
    variant_order = [v["name"] for v in study.get("variants", [])]
    by_variant: dict[str, list[Any]] = {name: [] for name in variant_order}
    for stored in runs:
        by_variant.setdefault(stored.record.variant, []).append(stored.record)

    variants = []
    for name, records in by_variant.items():
        records.sort(key=lambda r: r.seed)
        finished = [r for r in records if r.status == COMPLETED]
        spec = next((v for v in study.get("variants", []) if v["name"] == name), {})
        variants.append({
            "name": name,
            "description": spec.get("description", ""),
            "description_ja": spec.get("description_ja", ""),
            # The stored study marks a baseline by naming itself (so it reloads unchanged).
            "baseline": None if spec.get("baseline") in (None, name) else spec["baseline"],
            # A sweep's point: its sweep and the values of the swept settings, as data (None otherwise).
            "sweep": ({"name": spec["sweep"]["name"], "values": spec["sweep"]["values"]}
                      if isinstance(spec.get("sweep"), dict) else None),
            "test_accuracy": describe([r.test_accuracy for r in finished]),
            "test_loss": describe([r.test_loss for r in finished]),
            "diverged": sum(r.status != COMPLETED for r in records),
            "runs": [
                {
                    "seed": r.seed,
                    "status": r.status,
                    "test_accuracy": r.test_accuracy,
                    "test_loss": r.test_loss,
                    "epochs": len(r.history),
                    "diverged_at": r.diverged_at,
                    "best_epoch": r.best_epoch,
                    "stopped_epoch": r.stopped_epoch,
                    "seconds": r.seconds,
                    "engine": r.engine,
                    "history": [
                        {k: getattr(e, k) for k in (
                            "epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr",
                            "train_penalty", "penalty", "seconds")}
                        for e in r.history
                    ],
                }
                for r in records
            ],
        })
    expected = len(study.get("seeds", [])) * len(variant_order)
    return json_safe({
        "study": study.get("name"),
        "dataset": data.get("dataset"),
        "splits": data.get("splits"),
        "seeds": study.get("seeds"),
        "runs_expected": expected,
        "runs_found": len(runs),
        "damaged": damaged,
        "variants": variants,
        "references": references(store, study),
    })


def references(store: RunStore, study: dict[str, Any]) -> list[dict[str, Any]]:
    """The study's scikit-learn reference models (models/sklearn_references.py), described over
    seeds as a variant is: the same splits, the same test metrics."""
    runs = store.references()
    said = {r["name"]: r for r in runs}  # each run says what its model is (models/sklearn_references.py)
    return [{"name": name, "short": said.get(name, {}).get("short", name),
             "summary": said.get(name, {}).get("summary", name),
             "test_accuracy": describe([r["test_accuracy"] for r in runs if r["name"] == name]),
             "test_loss": describe([r["test_loss"] for r in runs if r["name"] == name]),
             "runs": sorted((r for r in runs if r["name"] == name), key=lambda r: r["seed"])}
            for name in study.get("references", []) if isinstance(name, str)]
