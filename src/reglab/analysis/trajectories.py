"""How far apart two runs' weights are over training, from stored results alone.

Both engines store, per epoch, a count sketch of each run's hidden kernels (engine/sketch.py,
RunArrays.weight_sketches): K buckets, every weight index hashed to one bucket with a ±1 sign by
one fixed hash for every run of an architecture. The sketch is linear, so the difference of two
runs' sketches is the sketch of the difference of their weights, and its norm estimates the
distance between them:

    E ||S(a − b)||² = ||a − b||²,   Var ||S(a − b)||² = (2/K)·(||a − b||⁴ − Σ (a_i − b_i)⁴)

so the squared distance has a relative standard deviation of at most sqrt(2/K) (8.8% at K = 256)
and the distance itself about half that, sqrt(1/(2K)) (4.4%): an estimate is within about ±9% of
the exact distance (two standard deviations) unless the difference sits on a handful of weights.
The exact distance of the final weights is computed from the stored weights (diagnostics.py).
"""

from __future__ import annotations

import math

import numpy as np

from reglab.analysis.curves import Band, band


def relative_std(buckets: int) -> float:
    """One standard deviation of a sketched distance, relative to the exact one (delta method:
    half the squared norm's sqrt(2/K))."""
    return math.sqrt(1.0 / (2.0 * buckets))


def sketched_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per epoch both runs trained, the estimated ||w_a − w_b|| from their sketches [epochs, K]."""
    epochs = min(a.shape[0], b.shape[0])
    return np.linalg.norm(a[:epochs].astype(np.float64) - b[:epochs].astype(np.float64), axis=1)


def relative_trajectory(a: np.ndarray, b: np.ndarray, norms_b: np.ndarray) -> np.ndarray:
    """Per epoch, the estimated distance between two runs relative to the second's exact weight
    norm at that epoch (EpochRecord.weight_norm): NaN where that norm is missing or zero."""
    distances = sketched_distances(a, b)
    norms = np.full(distances.shape, np.nan)
    shared = min(len(norms_b), len(distances))
    norms[:shared] = np.asarray(norms_b[:shared], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norms > 0, distances / norms, np.nan)


def band_over_seeds(per_seed: dict[int, np.ndarray]) -> Band:
    """Per epoch, the mean and range over seeds of per-seed curves (of unequal length: a seed's
    curve ends where its run stopped)."""
    epochs = max((len(c) for c in per_seed.values()), default=0)
    rows = [np.concatenate([c, np.full(epochs - len(c), np.nan)]) for c in per_seed.values()]
    return band(np.array(rows).reshape(len(rows), epochs))
