"""Sweeps read back from stored results: each point's metrics over seeds, the point chosen on
validation data only, the plateau of points that cannot be told apart from it, and the regimes
(underfitting, good, overfitting) read from the numbers. Definitions: docs/report.md, "Sweeps".

Only stored records are read (no torch). The choice reads validation metrics and nothing else:
`choose` is given the validation values alone, so test data cannot reach it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reglab.analysis.collect import Collected
from reglab.analysis.statistics import INCONCLUSIVE, MIN_SEEDS, WORSE, Interval, PairedComparison, paired_t_p, \
    t_interval, with_holm
from reglab.store import COMPLETED

METRICS = ("train_accuracy", "val_accuracy", "train_loss", "val_loss", "test_accuracy", "gap")
HIGHER_IS_BETTER = {"val_loss": False, "val_accuracy": True}
TRAIN_OF = {"val_loss": "train_loss", "val_accuracy": "train_accuracy"}
UNDERFITTING, GOOD, OVERFITTING = "underfitting", "good", "overfitting"


@dataclass
class SweepPoint:
    name: str
    values: dict[str, Any]
    per_seed: dict[str, dict[int, float]]  # metric -> seed -> the final epoch's value (test: the run's)
    stats: dict[str, Interval] = field(default_factory=dict)
    comparison: PairedComparison | None = None  # against the chosen point, on the choice metric
    in_plateau: bool = False
    regime: str | None = None  # underfitting, good, overfitting, or None (worse, for no reason read here)

    def mean(self, metric: str) -> float | None:
        interval = self.stats.get(metric)
        return interval.mean if interval else None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "values": self.values, "in_plateau": self.in_plateau, "regime": self.regime,
                "metrics": {k: v.to_json() for k, v in self.stats.items()},
                "comparison_with_chosen": self.comparison.to_json() if self.comparison else None}


@dataclass
class SweepAnalysis:
    name: str
    factors: list[str]
    scales: dict[str, str]
    choose: str  # val_loss or val_accuracy
    points: list[SweepPoint]  # in grid order: sorted by the factors' values
    chosen: str | None = None
    seeds: int = 0  # seeds every point completed (the pairs behind the plateau)
    flat: bool = False  # every point in the plateau: no regime is labelled

    def point(self, name: str | None) -> SweepPoint | None:
        return next((p for p in self.points if p.name == name), None)

    @property
    def plateau(self) -> list[SweepPoint]:
        return [p for p in self.points if p.in_plateau]

    def landmarks(self) -> list[SweepPoint]:
        """The points a reader looks at first, in grid order: the sweep's two ends, the chosen point
        and the ends of its plateau (at most five)."""
        plateau = self.plateau
        wanted = {self.points[0].name, self.points[-1].name, self.chosen,
                  *((plateau[0].name, plateau[-1].name) if plateau else ())}
        return [p for p in self.points if p.name in wanted]

    def axis(self, factor: str) -> list[Any]:
        """The factor's distinct values, in order."""
        return sorted({_key(p.values[factor]) for p in self.points})

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "factors": self.factors, "scales": self.scales, "choose": self.choose,
                "chosen": self.chosen, "plateau": [p.name for p in self.plateau], "paired_seeds": self.seeds,
                "flat": self.flat, "points": [p.to_json() for p in self.points],
                "definitions": {"metrics_at": "the last epoch trained",
                                "plateau": "not worse than the chosen point on the choice metric (paired t-test "
                                           "over seeds, Holm-corrected across the sweep's points)",
                                "regimes": "outside the plateau: underfitting if the training metric accounts for "
                                           "more of the loss of quality than the gap, else overfitting"}}


def point_names(sweeps: list[SweepAnalysis]) -> set[str]:
    """The variants that are sweeps' points: never singled out by their test accuracy."""
    return {p.name for sweep in sweeps for p in sweep.points}


def analyze_sweeps(collected: Collected) -> list[SweepAnalysis]:
    sweeps: dict[str, SweepAnalysis] = {}
    for variant in collected.variants:
        tag = variant.spec.get("sweep")
        if not isinstance(tag, dict) or not isinstance(tag.get("values"), dict):
            continue
        sweep = sweeps.setdefault(tag["name"], SweepAnalysis(
            tag["name"], list(tag["values"]), dict(tag.get("scales", {})), tag.get("choose", "val_loss"), []))
        sweep.points.append(SweepPoint(variant.name, dict(tag["values"]), _per_seed(variant.records)))
    for sweep in sweeps.values():
        sweep.points.sort(key=lambda p: tuple(_key(p.values.get(f)) for f in sweep.factors))
        for point in sweep.points:
            point.stats = {k: t_interval(list(v.values())) for k, v in point.per_seed.items()}
        _choose_and_plateau(sweep)
        label_regimes(sweep)
    return list(sweeps.values())


def choose(validation: dict[str, dict[int, float]], higher_is_better: bool) -> str | None:
    """The point with the best mean over seeds of one validation metric. It is given nothing else."""
    means = {name: float(np.mean(list(v.values()))) for name, v in validation.items() if v}
    means = {n: m for n, m in means.items() if math.isfinite(m)}
    if not means:
        return None
    return (max if higher_is_better else min)(means, key=lambda n: means[n])


def _choose_and_plateau(sweep: SweepAnalysis) -> None:
    metric = sweep.choose
    higher = HIGHER_IS_BETTER[metric]
    sweep.chosen = choose({p.name: p.per_seed[metric] for p in sweep.points}, higher)
    best = sweep.point(sweep.chosen)
    if best is None:
        return
    others = [p for p in sweep.points if p is not best]
    comparisons = with_holm([_t_comparison(metric, p.name, best.name, p.per_seed[metric], best.per_seed[metric],
                                           higher) for p in others])
    best.in_plateau = True
    for point, comparison in zip(others, comparisons):
        point.comparison = comparison
        # Not shown worse after Holm's correction: it cannot be told apart from the best. With too
        # few seeds for a verdict (INCONCLUSIVE) nothing can be told apart, and the plateau says so.
        point.in_plateau = comparison.verdict != WORSE
    sweep.seeds = min((c.n for c in comparisons), default=len(best.per_seed[metric]))
    if any(c.verdict == INCONCLUSIVE for c in comparisons) and sweep.seeds < MIN_SEEDS:
        sweep.seeds = min(sweep.seeds, MIN_SEEDS - 1)


def _t_comparison(metric: str, name: str, best: str, values: dict[int, float], best_values: dict[int, float],
                  higher: bool) -> PairedComparison:
    """The paired comparison the plateau needs (mean difference, its interval, the t-test), without
    the bootstrap and Wilcoxon that `paired_comparison` adds for the report's tables: a sweep of a
    hundred points compares a hundred pairs, and those two cost most of the time."""
    seeds = tuple(sorted(set(values) & set(best_values)))
    d = np.array([values[s] - best_values[s] for s in seeds], dtype=float)
    sign = 1.0 if higher else -1.0
    return PairedComparison(metric=metric, higher_is_better=higher, variant=name, baseline=best, seeds=seeds,
                            differences=tuple(d.tolist()), difference=t_interval(d), bootstrap_low=None,
                            bootstrap_high=None, t_p=paired_t_p(d) if len(d) >= 2 else None, wilcoxon_p=None,
                            effect_size=None, better=int(np.sum(sign * d > 0)), worse=int(np.sum(sign * d < 0)))


def label_regimes(sweep: SweepAnalysis) -> None:
    """One-factor sweeps of a number. The plateau is good. A point outside it is worse than the chosen
    one on the choice metric by Δval = Δtrain + Δgap (the same metric on training data, and the gap
    validation - training): underfitting when the larger share is Δtrain (the network no longer fits
    its training data), overfitting when it is Δgap (it fits them, but not new data). A sweep whose
    plateau holds every point is flat: nothing is labelled underfitting or overfitting."""
    if len(sweep.factors) != 1 or not all(isinstance(p.values[sweep.factors[0]], (int, float))
                                          for p in sweep.points):
        return
    chosen = sweep.point(sweep.chosen)
    if chosen is None:
        return
    train, val = TRAIN_OF[sweep.choose], sweep.choose
    sign = -1.0 if HIGHER_IS_BETTER[val] else 1.0  # positive deltas are worse
    sweep.flat = all(p.in_plateau for p in sweep.points)
    for point in sweep.points:
        if point.in_plateau:
            point.regime = None if sweep.flat else GOOD
            continue
        if point.mean(train) is None or point.mean(val) is None or chosen.mean(train) is None:
            continue
        d_train = sign * (point.mean(train) - chosen.mean(train))
        d_gap = sign * ((point.mean(val) - point.mean(train)) - (chosen.mean(val) - chosen.mean(train)))
        point.regime = UNDERFITTING if d_train >= d_gap else OVERFITTING


def best_per_row(sweep: SweepAnalysis, metric: str = "val_accuracy") -> dict[Any, Any]:
    """Two-factor sweeps: for each value of the first factor, the second factor's value with the best
    mean `metric` (higher is better for accuracy, lower for loss)."""
    first, second = sweep.factors[:2]
    out: dict[Any, Any] = {}
    higher = metric != "val_loss"
    for row in sweep.axis(first):
        cells = [p for p in sweep.points if _key(p.values[first]) == row and p.mean(metric) is not None]
        if cells:
            best = (max if higher else min)(cells, key=lambda p: p.mean(metric))
            out[row] = best.values[second]
    return out


def _per_seed(records: list[Any]) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {k: {} for k in METRICS}
    for record in records:
        if record.status != COMPLETED or not record.history:
            continue
        last = record.history[-1]
        values = {"train_accuracy": last.train_accuracy, "val_accuracy": last.val_accuracy,
                  "train_loss": last.train_loss, "val_loss": last.val_loss, "test_accuracy": record.test_accuracy,
                  "gap": last.train_accuracy - last.val_accuracy}
        for key, value in values.items():
            if value is not None and math.isfinite(value):
                out[key][record.seed] = float(value)
    return out


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
