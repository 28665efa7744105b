"""What the numbers say about a technique beyond its accuracy, from stored results alone: batch
norm's running statistics lagging behind its batches, how much a penalty or decay shrank the
weights, a max-norm limit that nothing reached, and how far apart two runs that should (or should
not) be the same ended. Definitions here; the sentences are in analysis/findings.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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


def pair_distances(sources: Sequence[VariantRuns], pairs: dict[str, str]) -> dict[str, dict[int, float]]:
    """For each variant -> baseline in `pairs`: per seed, ||w_variant - w_baseline|| / ||w_baseline||
    over the final hidden kernels. Reads only these variants' weight files, one run at a time."""
    by_name = {s.name: s for s in sources}

    def vectors(name: str) -> dict[int, np.ndarray]:
        out = {}
        for stored in by_name[name].runs if name in by_name else []:
            if stored.record.status != COMPLETED:
                continue
            try:
                out[stored.record.seed] = W.hidden_vector(stored.arrays().weights)
            except Damaged:
                continue  # listed as missing by the main pass
        return out

    distances: dict[str, dict[int, float]] = {}
    for variant, baseline in pairs.items():
        a, b = vectors(variant), vectors(baseline)
        distances[variant] = {seed: float(np.linalg.norm(a[seed] - b[seed]) / np.linalg.norm(b[seed]))
                              for seed in sorted(set(a) & set(b))
                              if a[seed].shape == b[seed].shape and np.linalg.norm(b[seed]) > 0}
    return distances
