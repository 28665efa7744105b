"""Which classes a technique helps or hurts, and which confusions it removes, against its baseline
(issue 27: "dropout helps shirt vs T-shirt by x points [CI]"). From stored predictions alone.

Per class, a run's recall (the share of that class's test images it labels correctly) is paired
with the baseline's recall of the same seed; the mean difference over seeds gets a paired t-test
and an interval. A variant is tested on every class at once, so both are Bonferroni-adjusted over
its K classes: the p-value times K, and the interval at level 1 - α/K. That adjustment is chosen
over Holm's so that the printed interval and the verdict can never disagree: the interval excludes
0 exactly when the adjusted p is below α (Holm's step-down has no matching interval).

Confusions: the baseline's most frequent off-diagonal pairs (true a, predicted b), as a share of
class a's test images, compared the same way, Bonferroni over the pairs examined. Only the
baseline's top CONFUSION_PAIRS are tested, fixed before looking at any variant, so that the
correction stays over a handful of pairs rather than all K(K-1).

With fewer than MIN_SEEDS paired seeds (5, as everywhere in reglab) no verdict is drawn: the effect
and its interval are reported, the verdict is "undecided". With 3 seeds a class of 70 test images
moves in steps of 1.4 points, and three seeds that each flip the same image give a t-test with no
spread and p ≈ 0: evidence of nothing. With fewer than two seeds there is no interval either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reglab.analysis.statistics import ALPHA, DIFFERENCE_OF_PROPORTIONS, MIN_SEEDS, Interval, paired_t_p, t_interval

CONFUSION_PAIRS = 5
HELPS, HURTS, UNDECIDED = "helps", "hurts", "undecided"


@dataclass(frozen=True)
class ClassEffect:
    """One variant's effect on one class (or one confusion pair) against its baseline."""

    label: str  # the class name, or "a → b" for a confusion pair
    index: tuple[int, ...]  # (class,) or (true, predicted)
    difference: Interval  # variant - baseline, in [-1, 1]; its interval at level 1 - α/m
    p: float | None  # the paired t-test's p, Bonferroni-adjusted (times m, at most 1)
    seeds: int
    verdict: str  # HELPS, HURTS or UNDECIDED

    def to_json(self) -> dict[str, object]:
        return {"label": self.label, "index": list(self.index), "difference": self.difference.to_json(),
                "adjusted_p": self.p, "seeds": self.seeds, "verdict": self.verdict,
                "adjustment": "bonferroni"}


@dataclass(frozen=True)
class VariantClassEffects:
    variant: str
    baseline: str
    classes: list[ClassEffect]
    confusions: list[ClassEffect]

    def decided(self) -> list[ClassEffect]:
        return [e for e in self.classes + self.confusions if e.verdict != UNDECIDED]

    def to_json(self) -> dict[str, object]:
        return {"variant": self.variant, "baseline": self.baseline,
                "classes": [e.to_json() for e in self.classes],
                "confusions": [e.to_json() for e in self.confusions]}


def class_rates(labels: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    """[K, K] matrix: row a holds the share of class a's test images predicted as each class
    (the diagonal is the per-class recall). A class absent from the test split has a row of NaN."""
    counts = np.zeros((classes, classes), dtype=float)
    np.add.at(counts, (labels.astype(np.int64), predictions.astype(np.int64)), 1.0)
    totals = counts.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / totals


def compare(variant: str, baseline: str, variant_rates: dict[int, np.ndarray],
            baseline_rates: dict[int, np.ndarray], class_names: Sequence[str],
            alpha: float = ALPHA) -> VariantClassEffects:
    """Per-class and per-confusion effects of `variant` against `baseline`, paired by seed.
    `*_rates`: seed -> class_rates(...) of that run."""
    seeds = sorted(set(variant_rates) & set(baseline_rates))
    k = len(class_names)
    diagonal = [(c,) for c in range(k)]
    per_class = _effects(seeds, variant_rates, baseline_rates, diagonal,
                         [str(class_names[c]) for c in range(k)], alpha)
    pairs = top_confusions([baseline_rates[s] for s in seeds] or list(baseline_rates.values()))
    labels = [f"{class_names[a]} → {class_names[b]}" for a, b in pairs]
    # A confusion removed is good: the verdict reads "helps" when the share falls.
    confusions = _effects(seeds, variant_rates, baseline_rates, pairs, labels, alpha, lower_is_better=True)
    return VariantClassEffects(variant, baseline, per_class, confusions)


def top_confusions(baseline_rates: Sequence[np.ndarray], count: int = CONFUSION_PAIRS) -> list[tuple[int, int]]:
    """The baseline's `count` most frequent confusions (true, predicted), by their mean share over
    seeds; ties broken by class order so the choice is reproducible."""
    if not baseline_rates:
        return []
    mean = np.nanmean(np.stack(baseline_rates), axis=0)
    np.fill_diagonal(mean, -np.inf)
    mean = np.nan_to_num(mean, nan=-np.inf)
    order = sorted(((float(-mean[a, b]), a, b) for a in range(mean.shape[0]) for b in range(mean.shape[1])
                    if a != b and mean[a, b] > 0))
    return [(a, b) for _, a, b in order[:count]]


def _effects(seeds: list[int], variant_rates: dict[int, np.ndarray], baseline_rates: dict[int, np.ndarray],
             cells: list[tuple[int, ...]], labels: list[str], alpha: float,
             lower_is_better: bool = False) -> list[ClassEffect]:
    m = max(len(cells), 1)
    effects = []
    for cell, label in zip(cells, labels):
        index = cell if len(cell) == 2 else (cell[0], cell[0])
        d = np.array([variant_rates[s][index] - baseline_rates[s][index] for s in seeds], dtype=float)
        d = d[np.isfinite(d)]
        if len(d) < 2:
            interval = t_interval(d)
            effects.append(ClassEffect(label, cell, interval, None, len(d), UNDECIDED))
            continue
        interval = t_interval(d, confidence=1 - alpha / m)
        if interval.low is not None and (interval.low < -1 or interval.high > 1):
            interval = t_interval(d, confidence=1 - alpha / m, bounds=DIFFERENCE_OF_PROPORTIONS)
        p = min(1.0, paired_t_p(d) * m)
        verdict = UNDECIDED
        if len(d) >= MIN_SEEDS and p < alpha and (interval.low > 0 or interval.high < 0):
            improved = interval.mean < 0 if lower_is_better else interval.mean > 0
            verdict = HELPS if improved else HURTS
        effects.append(ClassEffect(label, cell, interval, p, len(d), verdict))
    return effects


def for_study(variants: Sequence, labels: np.ndarray | None, class_names: Sequence[str]) -> list[VariantClassEffects]:
    """Every variant with a baseline against it. `variants`: objects with .name, .baseline (None
    for a baseline) and .predictions (seed -> predicted classes of the test split), as
    analysis.analyze.VariantAnalysis has them."""
    if labels is None or not len(labels):
        return []
    k = max(len(class_names), int(labels.max()) + 1)
    names = list(class_names) + [str(c) for c in range(len(class_names), k)]
    rates = {v.name: {s: class_rates(labels, p, k) for s, p in v.predictions.items()} for v in variants}
    return [compare(v.name, v.baseline, rates[v.name], rates[v.baseline], names)
            for v in variants if v.baseline and v.baseline != v.name and rates.get(v.baseline) and rates[v.name]]
