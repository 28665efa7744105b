"""Sweeps read back from stored results: each point's metrics over seeds, the point recommended by
the one-standard-error rule on validation data, the band of points within one standard error of
the best, how stable the recommendation is under seed resampling, the recommendation against doing
nothing, and the regimes (underfitting, good, overfitting) read from the accuracies the report's
table shows. Definitions and references: docs/report.md, "Sweeps".

Only stored records are read (no torch). The choice reads validation metrics and nothing else:
`one_se_choice` is given the validation values alone, so test data cannot reach it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from reglab.analysis.collect import Collected
from reglab.analysis.statistics import ALPHA, DIFFERENCE_OF_PROPORTIONS, NON_NEGATIVE, PROPORTION, Interval, \
    PairedComparison, paired_comparison, t_interval
from reglab.store import COMPLETED

METRICS = ("train_accuracy", "val_accuracy", "train_loss", "val_loss", "test_accuracy", "gap")
BOUNDS = {"train_accuracy": PROPORTION, "val_accuracy": PROPORTION, "test_accuracy": PROPORTION,
          "train_loss": NON_NEGATIVE, "val_loss": NON_NEGATIVE, "gap": DIFFERENCE_OF_PROPORTIONS}
HIGHER_IS_BETTER = {"val_loss": False, "val_accuracy": True}
OTHER_METRIC = {"val_loss": "val_accuracy", "val_accuracy": "val_loss"}
UNDERFITTING, GOOD, OVERFITTING = "underfitting", "good", "overfitting"
ONE_SE, BEST = "one_se", "best"  # the rule that recommended the point
# A standard error from 2 seeds rests on one difference (its 95% range spans a factor of ~70), so
# the one-SE rule needs 3 seeds; below that the sweep is undecided and says how many would decide it.
MIN_SEEDS_ONE_SE = 3
RESAMPLES, RESAMPLE_SEED = 1000, 0  # the stability share: paired bootstrap over seeds, reproducible
# A regime is read from accuracy differences of at least one point (and beyond the seeds' noise):
# smaller ones are not called underfitting or overfitting.
REGIME_MARGIN = 0.01

# Which way a swept setting regularizes more: +1 larger is stronger, -1 smaller is stronger. A
# setting not listed (a learning rate, a batch size) has no order of strength: the recommendation is
# then the best point. The value that switches a +1 setting off is 0.
STRENGTH = {"l1": 1, "l2": 1, "l1.strength": 1, "l2.strength": 1, "l1_l2.l1": 1, "l1_l2.l2": 1,
            "dropout": 1, "dropout.rate": 1, "spatial_dropout": 1, "spatial_dropout.rate": 1,
            "stochastic_depth": 1, "stochastic_depth.rate": 1,
            "recurrent_dropout": 1, "recurrent_dropout.rate": 1, "naive_recurrent_dropout": 1,
            "naive_recurrent_dropout.rate": 1, "weight_decay": 1, "weight_decay.rate": 1,
            "scheduled_decay": 1, "scheduled_decay.rate": 1, "label_smoothing": 1, "label_smoothing.amount": 1,
            "max_norm": -1, "max_norm.max_value": -1}


@dataclass
class SweepPoint:
    name: str
    values: dict[str, Any]
    per_seed: dict[str, dict[int, float]]  # metric -> seed -> the final epoch's value (test: the run's)
    stats: dict[str, Interval] = field(default_factory=dict)
    in_band: bool = False  # within one standard error of the best on the choice metric
    regime: str | None = None  # underfitting, good, overfitting, or None (no accuracy difference read)

    def mean(self, metric: str) -> float | None:
        interval = self.stats.get(metric)
        return interval.mean if interval else None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "values": self.values, "in_band": self.in_band, "regime": self.regime,
                "metrics": {k: v.to_json() for k, v in self.stats.items()}}


@dataclass(frozen=True)
class Choice:
    """What the rule made of one validation metric."""

    metric: str
    rule: str  # ONE_SE, or BEST when the factor has no order of strength
    best: str  # the best mean
    chosen: str  # the recommendation
    se: float | None  # the standard error of the best point's mean (None with one seed)
    band: tuple[str, ...]  # the points within one standard error of the best, in grid order

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "rule": self.rule, "best": self.best, "chosen": self.chosen, "se": self.se,
                "band": list(self.band)}


@dataclass
class SweepAnalysis:
    name: str
    factors: list[str]
    scales: dict[str, str]
    choose: str  # val_loss or val_accuracy
    points: list[SweepPoint]  # in grid order: sorted by the factors' values
    choice: Choice | None = None  # on `choose`
    other: Choice | None = None  # the same rule on the other validation metric
    seeds: int = 0  # the fewest seeds any point completed
    decided: bool = False  # seeds enough for the rule (MIN_SEEDS_ONE_SE); else `chosen` is only the best mean
    stability: float | None = None  # share of seed resamples whose recommendation is `chosen`
    reference: str | None = None  # the unregularized point or variant, when the study has one
    reference_point: SweepPoint | None = None  # the reference's numbers when it is a variant, not a point
    against_reference: PairedComparison | None = None  # chosen - reference, test accuracy, paired by seed
    other_against_reference: PairedComparison | None = None  # the other metric's choice, when it differs
    reference_metric: tuple[float, float] | None = None  # choice metric: (chosen's mean, reference's mean)

    @property
    def chosen(self) -> str | None:
        return self.choice.chosen if self.choice else None

    @property
    def best(self) -> str | None:
        return self.choice.best if self.choice else None

    @property
    def disagree(self) -> bool:
        """Validation loss and validation accuracy recommend different points."""
        return bool(self.decided and self.choice and self.other and self.choice.chosen != self.other.chosen)

    def point(self, name: str | None) -> SweepPoint | None:
        return next((p for p in self.points if p.name == name), None)

    @property
    def band(self) -> list[SweepPoint]:
        return [p for p in self.points if p.in_band]

    def landmarks(self) -> list[SweepPoint]:
        """The points a reader looks at first, in grid order: the sweep's two ends, the recommended and
        the best point, the ends of the one-SE band and the reference (at most seven)."""
        band = self.band
        wanted = {self.points[0].name, self.points[-1].name, self.chosen, self.best, self.reference,
                  *((band[0].name, band[-1].name) if band else ())}
        return [p for p in self.points if p.name in wanted]

    def axis(self, factor: str) -> list[Any]:
        """The factor's distinct values, in order."""
        return sorted({_key(p.values[factor]) for p in self.points})

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "factors": self.factors, "scales": self.scales, "choose": self.choose,
                "chosen": self.chosen, "best": self.best, "decided": self.decided, "seeds": self.seeds,
                "rule": self.choice.rule if self.choice else None, "se": self.choice.se if self.choice else None,
                "band": [p.name for p in self.band], "stability": self.stability,
                "other_metric": self.other.to_json() if self.other else None, "disagree": self.disagree,
                "reference": self.reference,
                "against_reference": self.against_reference.to_json() if self.against_reference else None,
                "points": [p.to_json() for p in self.points],
                "definitions": {"metrics_at": "the last epoch trained",
                                "rule": "one-standard-error rule (Breiman et al. 1984; Hastie et al., ESL 7.10): "
                                        "the strongest setting whose mean is within one standard error of the "
                                        "best mean; the best point for settings without an order of strength",
                                "band": "points whose mean is within one standard error (of the best point's "
                                        "mean) of the best",
                                "stability": f"share of {RESAMPLES} paired bootstrap resamples of the seeds "
                                             "whose recommendation is the same point",
                                "regimes": "outside the band, against the recommended point: underfitting when "
                                           "training accuracy falls by more than the gap grows, overfitting when "
                                           f"the gap grows more; each by at least {REGIME_MARGIN:.0%} and beyond "
                                           "one standard error of the paired differences"}}


def point_names(sweeps: list[SweepAnalysis]) -> set[str]:
    """The variants that are sweeps' points: never singled out by their test accuracy."""
    return {p.name for sweep in sweeps for p in sweep.points}


def analyze_sweeps(collected: Collected) -> list[SweepAnalysis]:
    sweeps: dict[str, SweepAnalysis] = {}
    baselines: dict[str, set[str]] = {}
    for variant in collected.variants:
        tag = variant.spec.get("sweep")
        if not isinstance(tag, dict) or not isinstance(tag.get("values"), dict):
            continue
        sweep = sweeps.setdefault(tag["name"], SweepAnalysis(
            tag["name"], list(tag["values"]), dict(tag.get("scales", {})), tag.get("choose", "val_loss"), []))
        sweep.points.append(_point(variant.name, dict(tag["values"]), _per_seed(variant.records)))
        baselines.setdefault(sweep.name, set()).add(variant.spec.get("baseline") or "")
    for sweep in sweeps.values():
        sweep.points.sort(key=lambda p: tuple(_key(p.values.get(f)) for f in sweep.factors))
        _recommend(sweep)
        label_regimes(sweep)
        _against_nothing(sweep, collected, baselines[sweep.name])
    return list(sweeps.values())


def _point(name: str, values: dict[str, Any], per_seed: dict[str, dict[int, float]]) -> SweepPoint:
    stats = {k: t_interval(list(v.values()), bounds=BOUNDS.get(k)) for k, v in per_seed.items()}
    return SweepPoint(name, values, per_seed, stats)


def strength_order(sweep: SweepAnalysis) -> dict[str, float] | None:
    """Each point's strength (larger = regularizes more), or None when the sweep's setting has no
    order of strength (two factors, a learning rate, values that are not numbers)."""
    if len(sweep.factors) != 1 or sweep.factors[0] not in STRENGTH:
        return None
    factor = sweep.factors[0]
    if not all(isinstance(p.values[factor], (int, float)) for p in sweep.points):
        return None
    return {p.name: STRENGTH[factor] * float(p.values[factor]) for p in sweep.points}


def one_se_choice(validation: dict[str, dict[int, float]], higher_is_better: bool,
                  strength: dict[str, float] | None, metric: str = "val_loss") -> Choice | None:
    """The one-standard-error rule, as glmnet's lambda.1se computes it: the best mean m* over seeds,
    the standard error s*/√n of that best point's mean, the band of points whose mean is within it
    (m <= m* + SE for a loss, m >= m* - SE for an accuracy), and the strongest point of the band.
    Without an order of strength (`strength` None) the recommendation is the best point. Given the
    validation values alone, in grid order."""
    means = {n: float(np.mean(list(v.values()))) for n, v in validation.items() if v}
    means = {n: m for n, m in means.items() if math.isfinite(m)}
    if not means:
        return None
    best = (max if higher_is_better else min)(means, key=lambda n: means[n])
    values = list(validation[best].values())
    se = float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) >= 2 else None
    tolerance = se or 0.0
    sign = -1.0 if higher_is_better else 1.0  # sign * (m - m*) is how much worse m is
    band = tuple(n for n in means if sign * (means[n] - means[best]) <= tolerance + 1e-12 * abs(means[best]))
    if strength is None:
        return Choice(metric, BEST, best, best, se, band)
    return Choice(metric, ONE_SE, best, max(band, key=lambda n: strength[n]), se, band)


def _recommend(sweep: SweepAnalysis) -> None:
    strength = strength_order(sweep)
    for metric in (sweep.choose, OTHER_METRIC[sweep.choose]):
        choice = one_se_choice({p.name: p.per_seed[metric] for p in sweep.points}, HIGHER_IS_BETTER[metric],
                               strength, metric)
        if metric == sweep.choose:
            sweep.choice = choice
        else:
            sweep.other = choice
    if sweep.choice is None:
        return
    # A point whose every run diverged has no value: it is left out, not a reason to decide nothing.
    sweep.seeds = min((len(p.per_seed[sweep.choose]) for p in sweep.points if p.per_seed[sweep.choose]), default=0)
    sweep.decided = sweep.seeds >= MIN_SEEDS_ONE_SE
    if not sweep.decided:
        # The best mean is shown, not recommended: no standard error to build a band or a rule on.
        sweep.choice = Choice(sweep.choose, sweep.choice.rule, sweep.choice.best, sweep.choice.best, None, ())
        return
    for point in sweep.points:
        point.in_band = point.name in sweep.choice.band
    sweep.stability = stability(sweep, strength)


def stability(sweep: SweepAnalysis, strength: dict[str, float] | None, resamples: int = RESAMPLES,
              seed: int = RESAMPLE_SEED) -> float | None:
    """The share of paired bootstrap resamples of the seeds (every point gets the same resampled
    seeds, as the seeds pair them) in which the rule recommends the same point again. Seeds that
    every point completed only."""
    metric, higher = sweep.choose, HIGHER_IS_BETTER[sweep.choose]
    points = [p for p in sweep.points if p.per_seed[metric]]
    seeds = sorted(set.intersection(*(set(p.per_seed[metric]) for p in points))) if points else []
    if len(seeds) < MIN_SEEDS_ONE_SE or sweep.chosen is None:
        return None
    table = np.array([[p.per_seed[metric][s] for s in seeds] for p in points])  # points x seeds
    draws = table[:, np.random.default_rng(seed).integers(0, len(seeds), size=(resamples, len(seeds)))]
    means, sds = draws.mean(axis=2), draws.std(axis=2, ddof=1)  # points x resamples
    sign = -1.0 if higher else 1.0
    best = np.argmin(sign * means, axis=0)
    columns = np.arange(resamples)
    se = sds[best, columns] / math.sqrt(len(seeds))
    in_band = sign * (means - means[best, columns]) <= se + 1e-12 * np.abs(means[best, columns])
    if strength is None:
        picked = best
    else:
        order = np.array([strength[p.name] for p in points])
        picked = np.argmax(np.where(in_band, order[:, None], -np.inf), axis=0)
    index = [p.name for p in points].index(sweep.chosen)
    return float(np.mean(picked == index))


def label_regimes(sweep: SweepAnalysis) -> None:
    """One-factor sweeps of a number, decided ones only. A point in the one-SE band is good. A point
    outside it is compared with the recommended point on the accuracies the report's table shows:
    the validation accuracy it loses splits exactly into Δtrain + Δgap (training accuracy lost, and
    gap gained; the gap = training - validation accuracy). Underfitting when the training accuracy falls (the network no longer fits its own
    training data) by more than the gap grows; overfitting when the gap grows more. Each needs at
    least REGIME_MARGIN and more than one standard error of its paired differences, so that a point
    at the recommended point's training accuracy (100%, say) is never called underfitting. A point
    worse on the choice metric alone gets no label."""
    if not sweep.decided or len(sweep.factors) != 1 or not all(
            isinstance(p.values[sweep.factors[0]], (int, float)) for p in sweep.points):
        return
    chosen = sweep.point(sweep.chosen)
    if chosen is None:
        return
    for point in sweep.points:
        if point.in_band:
            point.regime = GOOD
            continue
        fell = _shift(chosen.per_seed["train_accuracy"], point.per_seed["train_accuracy"])  # training accuracy lost
        grew = _shift(point.per_seed["gap"], chosen.per_seed["gap"])  # gap gained
        if fell is not None and grew is not None:
            point.regime = UNDERFITTING if fell[0] >= grew[0] and fell[1] else \
                OVERFITTING if grew[0] > fell[0] and grew[1] else None


def _shift(high: dict[int, float], low: dict[int, float]) -> tuple[float, bool] | None:
    """Mean of high - low paired by seed, and whether it reaches REGIME_MARGIN and one standard error."""
    seeds = sorted(set(high) & set(low))
    if len(seeds) < 2:
        return None
    d = np.array([high[s] - low[s] for s in seeds])
    mean = float(d.mean())
    return mean, mean >= REGIME_MARGIN and mean > float(d.std(ddof=1)) / math.sqrt(len(d))


def _against_nothing(sweep: SweepAnalysis, collected: Collected, baselines: set[str]) -> None:
    """The unregularized reference: a point of the sweep at the value that switches its setting off
    (dropout = 0), else the points' baseline variant when it is not a point and has the setting off.
    The recommendation (and the other metric's, when it differs) is compared with it on test
    accuracy, paired by seed; reported, never used to choose."""
    sweep.reference = _reference(sweep, collected, baselines)
    if sweep.reference is None or sweep.chosen is None:
        return
    found = sweep.point(sweep.reference)
    if found is None:
        found = sweep.reference_point = _point(sweep.reference, {}, _per_seed(collected.variant(sweep.reference).records))
    reference = found.per_seed

    def against(name: str) -> PairedComparison | None:
        ours = sweep.point(name).per_seed["test_accuracy"]
        if name == sweep.reference or not set(ours) & set(reference["test_accuracy"]):
            return None
        return paired_comparison("test_accuracy", name, sweep.reference, ours, reference["test_accuracy"],
                                 higher_is_better=True, bounds=DIFFERENCE_OF_PROPORTIONS)

    sweep.against_reference = against(sweep.chosen)
    if sweep.disagree:
        sweep.other_against_reference = against(sweep.other.chosen)
        # Two comparisons: Bonferroni-simultaneous intervals, so that an interval excluding 0 is
        # the verdict for the pair. One comparison needs no adjustment: its point was fixed on
        # validation data before any test number was read.
        sweep.against_reference = _simultaneous(sweep.against_reference, 2)
        sweep.other_against_reference = _simultaneous(sweep.other_against_reference, 2)
    ours, theirs = sweep.point(sweep.chosen).per_seed[sweep.choose], reference[sweep.choose]
    if ours and theirs:
        sweep.reference_metric = (float(np.mean(list(ours.values()))), float(np.mean(list(theirs.values()))))


def _simultaneous(comparison: PairedComparison | None, m: int) -> PairedComparison | None:
    """The comparison's t interval at confidence 1 - ALPHA/m (Bonferroni over m comparisons)."""
    if comparison is None:
        return None
    interval = t_interval(comparison.differences, 1 - ALPHA / m)
    if interval.low is not None and not (-1 <= interval.low and interval.high <= 1):
        interval = t_interval(comparison.differences, 1 - ALPHA / m, bounds=DIFFERENCE_OF_PROPORTIONS)
    return replace(comparison, difference=interval)


def _reference(sweep: SweepAnalysis, collected: Collected, baselines: set[str]) -> str | None:
    if len(sweep.factors) != 1 or STRENGTH.get(sweep.factors[0]) != 1:
        return None
    factor = sweep.factors[0]
    for point in sweep.points:
        if point.values[factor] == 0:
            return point.name
    names = {p.name for p in sweep.points}
    for name in sorted(baselines - names - {""}):
        variant = collected.variant(name)
        if variant is not None and variant.runs and _is_off(variant.spec, factor):
            return name
    return None


def _is_off(spec: dict[str, Any], key: str) -> bool:
    """Whether a variant's resolved setting `key` (dotted) is absent, off or zero."""
    value: Any = spec
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, dict):  # l2 = { strength = ... }: off when every number in it is 0
        return all(v == 0 for v in value.values() if isinstance(v, (int, float)) and not isinstance(v, bool))
    return value in (None, False, 0)


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
