"""Statistics across seeds: intervals, paired comparisons against a baseline, Holm's correction.

A study has a handful of seeds, so every procedure here is one meant for small samples, computed
with scipy so that anyone can check a number with the same call. Definitions: docs/report.md.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05
# Below this many paired seeds the report calls no difference real: a t-test on 2-4 pairs rests
# entirely on its normality assumption, and Wilcoxon's smallest two-sided p with 4 pairs is 0.125.
MIN_SEEDS = 5
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0

# Verdicts of a comparison, in the order a reader cares about them.
BETTER, WORSE, NO_DIFFERENCE, INCONCLUSIVE = "better", "worse", "no_clear_difference", "not_conclusive"


@dataclass(frozen=True)
class Interval:
    """Mean and an interval of the mean; `std` is the sample standard deviation (n - 1).
    `scale`: where the interval was computed ("t": the plain t interval; "logit" or "log": on the
    scale where a bounded quantity is unbounded, mapped back: `bounded_interval`)."""

    mean: float | None
    low: float | None
    high: float | None
    std: float | None
    n: int
    scale: str = "t"

    def scaled(self, factor: float) -> Interval:
        def s(value: float | None) -> float | None:
            return None if value is None else value * factor
        return Interval(s(self.mean), s(self.low), s(self.high), s(self.std), self.n, self.scale)

    def to_json(self) -> dict[str, float | int | str | None]:
        return asdict(self)


# The range each bounded quantity can take: an interval of it never leaves that range.
PROPORTION = (0.0, 1.0)  # accuracies, shares of weights
NON_NEGATIVE = (0.0, math.inf)  # losses, seconds, norms
DIFFERENCE_OF_PROPORTIONS = (-1.0, 1.0)


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE,
               bounds: tuple[float, float] | None = None) -> Interval:
    """mean ± t(n-1) · s / √n. No interval from a single value: one seed says nothing about spread.
    With `bounds`, the interval of a bounded quantity (an accuracy in [0, 1], a loss >= 0): see
    `bounded_interval`. Without, the textbook t interval (scipy's ttest_1samp(...).confidence_interval)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        return Interval(None, None, None, None, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, None, None, None, 1)
    std = float(x.std(ddof=1))
    if bounds is not None:
        return bounded_interval(mean, std / math.sqrt(n), n - 1, bounds, confidence, std=std, n=n)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, std, n)


def bounded_interval(mean: float, se: float, df: float, bounds: tuple[float, float],
                     confidence: float = CONFIDENCE, *, std: float | None = None, n: int = 0) -> Interval:
    """The t interval of a bounded quantity's mean, computed where the quantity is unbounded and
    mapped back: on the logit scale of (x - a) / (b - a) for a quantity in [a, b] (an accuracy),
    on the log scale of x - a for one in [a, ∞) (a loss). With g that transform,
        g⁻¹( g(mean) ± t(df) · se · g'(mean) )
    (the delta method: the standard error carried to g's scale). It always lies inside the range
    and holds the mean; far from a bound it is the t interval to first order, and near a bound it
    is asymmetric, short on the side of the bound. A t interval cut at the bound would claim
    certainty it does not have: with 2 seeds at 99% and 100% the t interval of 99.5% reaches 105.9%.
    A mean on the bound itself (every seed at 100%) has no spread: the interval is that point."""
    low_bound, high_bound = bounds
    t = float(stats.t.ppf(0.5 + confidence / 2, df))
    if not (low_bound < mean < high_bound) or se == 0:
        return Interval(mean, mean, mean, std, n, "t")
    if math.isinf(high_bound):
        shifted = mean - low_bound
        factor = math.exp(t * se / shifted)
        return Interval(mean, low_bound + shifted / factor, low_bound + shifted * factor, std, n, "log")
    width = high_bound - low_bound
    p = (mean - low_bound) / width
    centre = math.log(p / (1 - p))
    half = t * (se / width) / (p * (1 - p))

    def back(z: float) -> float:
        return low_bound + width / (1 + math.exp(-z)) if z >= 0 else low_bound + width * math.exp(z) / (1 + math.exp(z))

    return Interval(mean, back(centre - half), back(centre + half), std, n, "logit")


@dataclass(frozen=True)
class PairedComparison:
    """A variant against its baseline on one metric, over the seeds both completed."""

    metric: str
    higher_is_better: bool
    variant: str
    baseline: str
    seeds: tuple[int, ...]
    differences: tuple[float, ...]  # variant - baseline, one per seed in `seeds`
    difference: Interval  # mean difference with its t interval
    bootstrap_low: float | None  # percentile bootstrap interval of the mean difference
    bootstrap_high: float | None
    t_p: float | None  # paired t-test, two-sided
    wilcoxon_p: float | None  # Wilcoxon signed-rank, two-sided, exact for small n
    effect_size: float | None  # Cohen's d_z: mean difference / sd of the differences
    better: int  # seeds where the variant did better than the baseline
    worse: int
    holm_p: float | None = None  # t_p after Holm's correction across the study's comparisons
    verdict: str = INCONCLUSIVE

    @property
    def n(self) -> int:
        return len(self.seeds)

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["difference"] = self.difference.to_json()
        out["seeds"], out["differences"] = list(self.seeds), list(self.differences)
        out["n"] = self.n
        return out


def paired_comparison(metric: str, variant: str, baseline: str, variant_values: dict[int, float],
                      baseline_values: dict[int, float], *, higher_is_better: bool,
                      bounds: tuple[float, float] | None = None) -> PairedComparison:
    """Pairs by seed: the same seed means the same data order and, for the same architecture, the
    same initial weights, so differences cancel what the seed itself contributes. `bounds`: those
    of the difference (a difference of two accuracies lies in [-1, 1])."""
    seeds = tuple(sorted(set(variant_values) & set(baseline_values)))
    d = np.array([variant_values[s] - baseline_values[s] for s in seeds], dtype=float)
    sign = 1.0 if higher_is_better else -1.0
    better, worse = int(np.sum(sign * d > 0)), int(np.sum(sign * d < 0))
    base = dict(metric=metric, higher_is_better=higher_is_better, variant=variant, baseline=baseline, seeds=seeds, differences=tuple(d.tolist()),
                difference=difference_interval(d, bounds), better=better, worse=worse)
    if len(d) < 2:
        return PairedComparison(**base, bootstrap_low=None, bootstrap_high=None, t_p=None, wilcoxon_p=None,
                                effect_size=None)
    low, high = bootstrap_interval(d)
    sd = float(d.std(ddof=1))
    return PairedComparison(**base, bootstrap_low=low, bootstrap_high=high, t_p=paired_t_p(d),
                            wilcoxon_p=wilcoxon_p(d), effect_size=float(d.mean()) / sd if sd > 0 else None)


def difference_interval(differences: Sequence[float], bounds: tuple[float, float] | None = None) -> Interval:
    """The paired t interval of the mean difference: it excludes 0 exactly when the paired t-test
    rejects at 1 - CONFIDENCE, so the two never disagree. Where it would leave the differences'
    range (2-3 seeds with a large spread: two seeds at +40 and -10 points give ±318 points), the
    interval on the bounded scale (`bounded_interval`) instead, and the pairing with the test is lost
    only where the t interval was impossible anyway."""
    plain = t_interval(differences)
    if bounds is None or plain.low is None or (bounds[0] <= plain.low and plain.high <= bounds[1]):
        return plain
    return t_interval(differences, bounds=bounds)


def paired_t_p(differences: np.ndarray) -> float:
    """scipy's ttest_rel on the differences. When every difference is the same, scipy answers p = 0
    for a nonzero one (no spread at all) and NaN for zero; zero is no evidence of a difference: p = 1."""
    if np.all(differences == 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the constant-differences case above
        result = stats.ttest_rel(differences, np.zeros_like(differences))
    return float(result.pvalue)


def wilcoxon_p(differences: np.ndarray) -> float:
    if np.all(differences == 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.wilcoxon(differences).pvalue)


def bootstrap_interval(differences: np.ndarray, confidence: float = CONFIDENCE,
                       resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap of the mean difference, with a fixed seed so a report is reproducible.
    Percentile rather than BCa: BCa's jackknife is degenerate on 5 values with ties."""
    if np.all(differences == differences[0]):
        value = float(differences[0])
        return value, value  # every resample has the same mean; scipy would warn and return NaN
    result = stats.bootstrap((differences,), np.mean, n_resamples=resamples, confidence_level=confidence,
                             method="percentile", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment: sort the m p-values, multiply the i-th smallest by (m - i + 1),
    keep the running maximum, cap at 1. None (no test) stays None and does not count in m."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(indexed)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def with_holm(comparisons: Sequence[PairedComparison], alpha: float = ALPHA,
              min_seeds: int = MIN_SEEDS) -> list[PairedComparison]:
    """Adjusts the comparisons of one metric together and gives each its verdict."""
    adjusted = holm([c.t_p for c in comparisons])
    out = []
    for comparison, p in zip(comparisons, adjusted):
        if comparison.n < min_seeds or p is None:
            verdict = INCONCLUSIVE
        elif p < alpha:
            gain = comparison.difference.mean if comparison.higher_is_better else -comparison.difference.mean
            verdict = BETTER if gain > 0 else WORSE
        else:
            verdict = NO_DIFFERENCE
        out.append(replace(comparison, holm_p=p, verdict=verdict))
    return out



@dataclass(frozen=True)
class BestSet:
    """The variants not shown worse than the one with the highest mean: a set, because the top of a
    handful of noisy means is often a tie. `p`: each other variant's one-sided paired t-test p
    against the top, times the number of comparisons (Bonferroni, capped at 1); None where fewer
    than `min_seeds` seeds are paired (never tested, so never excluded)."""

    top: str
    members: tuple[str, ...]  # the top first, then the others in the set by mean, highest first
    excluded: tuple[str, ...]  # shown worse than the top
    p: dict[str, float | None]
    comparisons: int

    @property
    def decided(self) -> bool:
        """Whether any variant could be tested at all: with too few seeds the set is everything."""
        return any(p is not None for p in self.p.values())

    def to_json(self) -> dict[str, object]:
        return {"top": self.top, "members": list(self.members), "excluded": list(self.excluded),
                "p_bonferroni": dict(self.p), "comparisons": self.comparisons}


def best_set(per_variant: dict[str, dict[int, float]], *, higher_is_better: bool = True, alpha: float = ALPHA,
             min_seeds: int = MIN_SEEDS) -> BestSet | None:
    """Subset selection (Gupta 1965; Hsu 1996, ch. 3) with paired tests: each variant is tested
    against the one with the best mean by a one-sided paired t-test over the seeds both completed,
    at alpha / (k - 1) (Bonferroni over the k - 1 comparisons), and stays in the set unless shown
    worse. Whichever variant is truly best, its test against any other one is a test of a true null
    hypothesis, so the union bound over the k - 1 possible references keeps it in the set with
    probability at least 1 - alpha, although the reference (the top) is itself chosen from the data;
    Holm's step-down would not keep that guarantee for a data-chosen reference."""
    means = {name: float(np.mean(list(values.values()))) for name, values in per_variant.items() if values}
    if not means:
        return None
    sign = 1.0 if higher_is_better else -1.0
    top = max(means, key=lambda name: sign * means[name])
    others = [name for name in means if name != top]
    m = len(others)
    p: dict[str, float | None] = {}
    for name in others:
        seeds = sorted(set(per_variant[name]) & set(per_variant[top]))
        if len(seeds) < min_seeds:
            p[name] = None
            continue
        d = sign * np.array([per_variant[name][s] - per_variant[top][s] for s in seeds])
        p[name] = min(1.0, m * _one_sided_p_below_zero(d))
    excluded = tuple(name for name in others if p[name] is not None and p[name] < alpha)
    kept = sorted((name for name in others if name not in excluded), key=lambda name: -sign * means[name])
    return BestSet(top, (top, *kept), excluded, p, m)


def _one_sided_p_below_zero(d: np.ndarray) -> float:
    """One-sided paired t-test of mean(d) < 0 (scipy's ttest_1samp, alternative="less"). With no
    spread at all scipy has no t: equal differences below 0 are shown, zero or above are not."""
    if np.all(d == d[0]):
        return 0.0 if d[0] < 0 else 1.0
    return float(stats.ttest_1samp(d, 0.0, alternative="less").pvalue)
