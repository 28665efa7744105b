"""Learning curves across seeds: per epoch, the mean and the range (lowest to highest seed).

Runs of one variant can differ in length (early stopping) or end in a loss that is not finite
(divergence): both become NaN in a runs x epochs matrix, and each epoch is summarised over the
seeds that have a finite value there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reglab.store import EpochRecord

METRICS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr", "train_eval_loss", "weight_norm")
# The generalisation gap: how much worse the model does on data it has not trained on. Note that
# train_loss is the running mean while training (dropout active), so it can exceed val_loss.
GAPS = {"loss_gap": ("val_loss", "train_loss"), "accuracy_gap": ("train_accuracy", "val_accuracy")}


@dataclass(frozen=True)
class Band:
    mean: np.ndarray  # per epoch; NaN where no seed has a value
    low: np.ndarray  # the lowest seed's value
    high: np.ndarray
    n: np.ndarray  # seeds with a finite value

    def to_json(self) -> dict[str, list[float | None] | list[int]]:
        def clean(a: np.ndarray) -> list[float | None]:
            return [float(v) if np.isfinite(v) else None for v in a]
        return {"mean": clean(self.mean), "low": clean(self.low), "high": clean(self.high),
                "n": [int(v) for v in self.n]}


def matrix(histories: Sequence[Sequence[EpochRecord]], metric: str) -> np.ndarray:
    epochs = max((len(h) for h in histories), default=0)
    out = np.full((len(histories), epochs), np.nan)
    for row, history in enumerate(histories):
        values = np.array([getattr(e, metric) for e in history], dtype=float)
        out[row, :len(values)] = np.where(np.isfinite(values), values, np.nan)
    return out


def band(values: np.ndarray) -> Band:
    n = np.sum(np.isfinite(values), axis=0)
    filled = n > 0
    mean, low, high = (np.full(values.shape[1], np.nan) for _ in range(3))
    if not filled.any():  # no finished run (interrupted, lost or diverged at once): nothing to reduce
        return Band(mean, low, high, n)
    mean[filled] = np.nanmean(values[:, filled], axis=0)
    low[filled] = np.nanmin(values[:, filled], axis=0)
    high[filled] = np.nanmax(values[:, filled], axis=0)
    return Band(mean, low, high, n)


def curves(histories: Sequence[Sequence[EpochRecord]]) -> dict[str, Band]:
    """Every metric of the records plus the two generalisation gaps, each as a Band."""
    matrices = {metric: matrix(histories, metric) for metric in METRICS}
    for name, (minuend, subtrahend) in GAPS.items():
        matrices[name] = matrices[minuend] - matrices[subtrahend]
    return {name: band(m) for name, m in matrices.items()}
