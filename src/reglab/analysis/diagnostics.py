"""What the numbers say about a technique beyond its accuracy, from stored results alone: batch
norm's running statistics lagging behind its batches, how much a penalty or decay shrank the
weights, whether and when a max-norm limit acted, and how far apart two runs that should (or should
not) be the same were over training and at the end. Definitions here; the sentences are in analysis/findings.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reglab.analysis import trajectories as T
from reglab.analysis import weights as W
from reglab.analysis.collect import VariantRuns
from reglab.store.files import Damaged
from reglab.store import COMPLETED

# Batch norm's running statistics lag when, at the last epoch, the loss on training rows in
# evaluation mode (running statistics) is more than LAG_RATIO times the training loss (batch
# statistics, the epoch's running mean) and more than LAG_EXCESS above it. A healthy network
# does better in evaluation mode on data it trains on (no dropout, end-of-epoch weights), so
# twice the loss is far outside what noise does; the absolute margin keeps 0.002 against 0.001
# from counting.
LAG_RATIO = 2.0
LAG_EXCESS = 0.1
# A decay or penalty that leaves the hidden weights' norm within this share of the baseline's
# (same seeds) has not acted: whatever else differs, it is not what the technique does.
INERT_SHARE = 0.01
# Runs whose final hidden weights are closer than this (relative distance) are the same run up to
# float32 rounding.
SAME_RUN = 1e-3
# The two ways of shrinking weights whose equivalence under SGD the weight-decay study shows.
DECAY_PAIR = {"l2", "weight_decay"}


@dataclass(frozen=True)
class NormLag:
    lagging: int  # seeds whose running statistics lag
    runs: int  # seeds with the numbers (batch-norm runs recorded since this check exists)
    eval_loss: float  # means over the runs, at the last epoch
    train_loss: float


def norm_lag(check: dict[int, tuple[float, float]]) -> NormLag | None:
    """From VariantAnalysis.norm_check: (evaluation-mode loss on training rows, training loss) per seed."""
    pairs = [(e, t) for e, t in check.values() if np.isfinite(e) and np.isfinite(t)]
    if not pairs:
        return None
    lagging = sum(1 for e, t in pairs if e > LAG_RATIO * t and e - t > LAG_EXCESS)
    return NormLag(lagging, len(pairs), float(np.mean([e for e, _ in pairs])), float(np.mean([t for _, t in pairs])))


def norm_ratio(norms: dict[int, float], baseline_norms: dict[int, float]) -> tuple[float, int] | None:
    """Mean over the shared seeds of the final hidden-weight norm against the baseline's, and how many seeds."""
    seeds = sorted(set(norms) & set(baseline_norms))
    ratios = [norms[s] / baseline_norms[s] for s in seeds if baseline_norms[s] > 0]
    return (float(np.mean(ratios)), len(ratios)) if ratios else None


def is_decay_pair(changes: Sequence[str]) -> bool:
    """A variant that swaps an L2 penalty for decoupled decay (or the reverse) against its baseline."""
    return bool(changes) and set(changes) <= DECAY_PAIR and len(set(changes)) == 2


@dataclass
class PairDistances:
    """For each variant -> baseline pair, per seed: the exact relative distance of the final hidden
    weights, and the sketched one at every epoch (analysis/trajectories.py)."""

    final: dict[str, dict[int, float]]
    over_training: dict[str, dict[int, np.ndarray]]
    buckets: int | None  # the sketches' K (None: no run stored sketches, an older run directory)


def pair_distances(sources: Sequence[VariantRuns], pairs: dict[str, str]) -> PairDistances:
    """For each variant -> baseline in `pairs`: per seed, ||w_variant - w_baseline|| / ||w_baseline||
    over the final hidden kernels, and per epoch from the runs' weight sketches (relative to the
    baseline's norm at that epoch). Reads only these variants' weight files, one run at a time."""
    by_name = {s.name: s for s in sources}
    buckets: set[int] = set()

    def runs(name: str) -> dict[int, tuple[np.ndarray, np.ndarray | None, np.ndarray]]:
        out = {}
        for stored in by_name[name].runs if name in by_name else []:
            if stored.record.status != COMPLETED:
                continue
            try:
                arrays = stored.arrays()
            except Damaged:
                continue  # listed as missing by the main pass
            norms = np.array([np.nan if e.weight_norm is None else e.weight_norm for e in stored.record.history])
            if arrays.weight_sketches is not None:
                buckets.add(arrays.weight_sketches.shape[1])
            out[stored.record.seed] = (W.hidden_vector(arrays.weights), arrays.weight_sketches, norms)
        return out

    result = PairDistances({}, {}, None)
    for variant, baseline in pairs.items():
        a, b = runs(variant), runs(baseline)
        seeds = [s for s in sorted(set(a) & set(b)) if a[s][0].shape == b[s][0].shape]
        result.final[variant] = {s: float(np.linalg.norm(a[s][0] - b[s][0]) / np.linalg.norm(b[s][0]))
                                 for s in seeds if np.linalg.norm(b[s][0]) > 0}
        result.over_training[variant] = {
            s: T.relative_trajectory(a[s][1], b[s][1], b[s][2]) for s in seeds
            if a[s][1] is not None and b[s][1] is not None and a[s][1].shape[1:] == b[s][1].shape[1:]}
    result.buckets = min(buckets) if buckets else None
    return result


@dataclass(frozen=True)
class MaxNormUse:
    """What a max-norm constraint did, from EpochRecord.max_norm_peak (per seed, per epoch: the
    largest unit norm before projection over the limit). Above 1 at an epoch: it acted then."""

    runs: int  # seeds with the numbers
    acted: int  # seeds where it acted at some epoch
    first_epochs: list[int]  # per seed where it acted, the first epoch it did
    largest: float  # the largest peak over every seed and epoch (1.0 = the limit)
    epochs: int  # the most epochs any of these seeds trained


def max_norm_use(peaks: dict[int, list[float]]) -> MaxNormUse | None:
    recorded = {s: np.array(p, dtype=float) for s, p in peaks.items() if len(p) and np.isfinite(p).any()}
    if not recorded:
        return None
    first = [int(np.argmax(p > 1.0)) for p in recorded.values() if (p > 1.0).any()]
    largest = max(float(np.nanmax(p)) for p in recorded.values())
    return MaxNormUse(len(recorded), len(first), first, largest, max(len(p) for p in recorded.values()))
