"""What stored attribution maps say about each variant, over seeds, and against the baseline
(issue 27: "does L1 make explanations sparser and more stable, and how sure can we be?").
Torch-free: it reads maps that reglab.explain stored, `maps[variant][seed]` as float [N, D] for
the same N test images in every run.

Measures, per map (absolute values; definitions in docs/report.md):
- sparsity: the Gini index of the map (Hurley & Rickard 2009; Chalasani et al. 2020 use it for
  attributions): 0 when every feature gets the same share, → 1 when one feature gets all of it;
- concentration: the share of the map's total in its top CONCENTRATION_TOP of features;
- stability: Spearman's ρ between one seed's map and the mean map of the variant's other seeds, for
  the same image, averaged over images (one value per seed);
- distance from the baseline: 1 - ρ between the variant's map and its baseline's, same seed and
  image (one value per seed: the mean over images).

Comparisons with the baseline, each Bonferroni-adjusted over the variants compared so that the
printed interval and the verdict agree (as in class_effects), paired by seed: the seeds are the
replicates (the same images in every run are not independent draws of what a seed does). Fewer than
MIN_SEEDS pairs: undecided (fewer than two: no interval either), as for every verdict of reglab's.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import stats

from reglab.analysis.statistics import ALPHA, MIN_SEEDS, Interval, paired_t_p, t_interval

CONCENTRATION_TOP = 0.10
HIGHER, LOWER, UNDECIDED = "higher", "lower", "undecided"


def gini(maps: np.ndarray) -> np.ndarray:
    """The Gini index of each row of |maps| (Hurley & Rickard 2009, eq. for G): sorted ascending
    c_1..c_n, G = 1 - 2 Σ_k (c_k / ‖c‖₁) (n - k + ½) / n. A row of zeros gets NaN."""
    c = np.sort(np.abs(maps), axis=1)
    n = c.shape[1]
    totals = c.sum(1)
    k = np.arange(1, n + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - 2 * ((c / totals[:, None]) * ((n - k + 0.5) / n)).sum(1)


def concentration(maps: np.ndarray, top: float = CONCENTRATION_TOP) -> np.ndarray:
    """The share of each row's |maps| total held by its top `top` share of features."""
    a = np.abs(maps)
    count = max(1, int(round(a.shape[1] * top)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sort(a, axis=1)[:, -count:].sum(1) / a.sum(1)


def row_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's ρ of |a| and |b| row by row (NaN where a row is constant)."""
    ra = stats.rankdata(np.abs(a), axis=1)
    rb = stats.rankdata(np.abs(b), axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ra * rb).sum(1) / np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))


@dataclass(frozen=True)
class VariantExplanations:
    variant: str
    seeds: tuple[int, ...]
    sparsity: Interval  # over seeds (each seed: mean Gini over images), in [0, 1]
    concentration: Interval  # over seeds, in [0, 1]
    stability: Interval  # over seeds (each: leave-one-out ρ, mean over images), in [-1, 1]; n = 0 with one seed
    distance: Interval | None  # from the baseline, over seeds, in [0, 2]; None for a baseline

    def to_json(self) -> dict[str, object]:
        return {"variant": self.variant, "seeds": list(self.seeds), "sparsity": self.sparsity.to_json(),
                "concentration": self.concentration.to_json(), "stability": self.stability.to_json(),
                "distance_from_baseline": self.distance.to_json() if self.distance else None}


@dataclass(frozen=True)
class Change:
    """A variant's measure against its baseline's: difference, adjusted interval and p, verdict."""

    variant: str
    baseline: str
    measure: str  # sparsity, concentration, stability
    difference: Interval  # at level 1 - α/m
    p: float | None  # Bonferroni-adjusted
    pairs: int
    verdict: str  # HIGHER, LOWER, UNDECIDED

    def to_json(self) -> dict[str, object]:
        return {"variant": self.variant, "baseline": self.baseline, "measure": self.measure,
                "difference": self.difference.to_json(), "adjusted_p": self.p, "pairs": self.pairs,
                "verdict": self.verdict, "adjustment": "bonferroni"}


def per_seed(maps: dict[int, np.ndarray]) -> dict[str, dict[int, float]]:
    return {"sparsity": {s: float(np.nanmean(gini(m))) for s, m in maps.items()},
            "concentration": {s: float(np.nanmean(concentration(m))) for s, m in maps.items()}}


def stability_per_seed(maps: dict[int, np.ndarray]) -> dict[int, float]:
    """Per seed: the mean over images of ρ between its map and the mean |map| of the variant's other
    seeds (leave-one-out). One value per seed, so that a comparison pairs seeds and its interval
    carries the seed-to-seed variation (images are not independent replicates of it). Empty with
    one seed."""
    if len(maps) < 2:
        return {}
    magnitudes = {s: np.abs(m) for s, m in maps.items()}
    total = sum(magnitudes.values())
    return {s: float(np.nanmean(row_spearman(m, (total - m) / (len(maps) - 1)))) for s, m in magnitudes.items()}


def summarize(variant: str, maps: dict[int, np.ndarray], baseline_maps: dict[int, np.ndarray] | None) -> VariantExplanations:
    measures = per_seed(maps)
    distance = None
    if baseline_maps is not None:
        shared = sorted(set(maps) & set(baseline_maps))
        distance = t_interval([float(np.nanmean(1 - row_spearman(maps[s], baseline_maps[s]))) for s in shared],
                              bounds=(0.0, 2.0))
    stable = list(stability_per_seed(maps).values())
    return VariantExplanations(
        variant, tuple(sorted(maps)),
        t_interval(list(measures["sparsity"].values()), bounds=(0.0, 1.0)),
        t_interval(list(measures["concentration"].values()), bounds=(0.0, 1.0)),
        t_interval([x for x in stable if np.isfinite(x)], bounds=(-1.0, 1.0)), distance)


def changes(maps: dict[str, dict[int, np.ndarray]], baselines: dict[str, str], alpha: float = ALPHA) -> list[Change]:
    """Every variant with a baseline against it, on each measure, Bonferroni over the variants."""
    compared = [v for v in maps if baselines.get(v) in maps and baselines[v] != v]
    m = max(len(compared), 1)
    out = []
    for variant in compared:
        base = baselines[variant]
        ours, theirs = per_seed(maps[variant]), per_seed(maps[base])
        for measure in ("sparsity", "concentration"):
            seeds = sorted(set(ours[measure]) & set(theirs[measure]))
            d = np.array([ours[measure][s] - theirs[measure][s] for s in seeds])
            out.append(_change(variant, base, measure, d, m, alpha, (-1.0, 1.0)))
        ours_stable, theirs_stable = stability_per_seed(maps[variant]), stability_per_seed(maps[base])
        d = np.array([ours_stable[s] - theirs_stable[s] for s in sorted(set(ours_stable) & set(theirs_stable))])
        out.append(_change(variant, base, "stability", d[np.isfinite(d)], m, alpha, (-2.0, 2.0)))
    return out


def _change(variant: str, base: str, measure: str, d: np.ndarray, m: int, alpha: float,
            bounds: tuple[float, float]) -> Change:
    if len(d) < 2:
        return Change(variant, base, measure, t_interval(d), None, len(d), UNDECIDED)
    interval = t_interval(d, confidence=1 - alpha / m)
    if interval.low < bounds[0] or interval.high > bounds[1]:
        interval = t_interval(d, confidence=1 - alpha / m, bounds=bounds)
    p = min(1.0, paired_t_p(d) * m)
    verdict = UNDECIDED
    if len(d) >= MIN_SEEDS and p < alpha and (interval.low > 0 or interval.high < 0):
        verdict = HIGHER if interval.mean > 0 else LOWER
    return Change(variant, base, measure, interval, p, len(d), verdict)
