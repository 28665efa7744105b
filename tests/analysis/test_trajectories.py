"""The distance between two runs' weights estimated from their count sketches (engine/sketch.py,
analysis/trajectories.py) against the exact distance, on planted weights, within what the theory
of the count sketch allows: E||S x||² = ||x||² and Var||S x||² = (2/K)(||x||⁴ − Σx_i⁴) over the
hash; the tolerances below are multiples of that standard deviation, not numbers picked by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reglab.analysis import trajectories as T
from reglab.engine import sketch as S

SHAPES = [(32, 64), (16, 32)]  # two hidden kernels [out, in]: 2,560 weights
K = S.SKETCH_BUCKETS


def planted_pair(rng: np.random.Generator, kind: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    a = [rng.standard_normal(shape).astype(np.float32) * 0.1 for shape in SHAPES]
    if kind == "dense":  # every weight moved a little
        b = [w + rng.standard_normal(w.shape).astype(np.float32) * 0.02 for w in a]
    elif kind == "shrunk":  # what a decay does: b = 0.8 a
        b = [w * np.float32(0.8) for w in a]
    else:  # a tenth of the weights moved
        b = [w + (rng.random(w.shape) < 0.1) * rng.standard_normal(w.shape).astype(np.float32) * 0.05 for w in a]
    return a, b


def sketched(kernels: list[np.ndarray]) -> np.ndarray:
    return S.weight_sketch([torch.from_numpy(k) for k in kernels]).numpy()


def exact(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([(x.astype(np.float64) - y).ravel() for x, y in zip(a, b)])


@pytest.mark.parametrize("kind", ["dense", "shrunk", "sparse"])
def test_the_sketched_distance_is_within_the_theory_of_the_exact_one(kind):
    """With the hash every run uses, over 200 planted pairs: each squared-distance ratio within 5
    standard deviations of 1, their mean within 4 standard errors of 1, and at least 90% of the
    distances within the ±2·sqrt(1/(2K)) that docs/report.md states (95% for a normal error)."""
    rng = np.random.default_rng(11)
    sigma = math.sqrt(2 / K)  # the squared norm's relative standard deviation, at most
    ratios, within = [], 0
    for _ in range(200):
        a, b = planted_pair(rng, kind)
        true = np.linalg.norm(exact(a, b))
        estimate = T.sketched_distances(sketched(a)[None], sketched(b)[None])[0]
        ratios.append((estimate / true) ** 2)
        within += abs(estimate / true - 1) <= 2 * T.relative_std(K)
    ratios = np.array(ratios)
    assert np.all(np.abs(ratios - 1) < 5 * sigma), ratios.min()
    assert abs(ratios.mean() - 1) < 4 * sigma / math.sqrt(len(ratios))
    assert within >= 0.9 * len(ratios)


def test_over_hashes_the_sketch_is_unbiased_with_the_published_variance(monkeypatch):
    """The theory is over the random hash: for one planted difference x, 300 hashes (other fixed
    seeds) give E ratio = 1 and std = sqrt(2p(1 − Σx⁴/||x||⁴)), each within 4 standard errors, where
    p is the chance that two indices share a bucket: 1/K for a fully random hash, a little less
    for the balanced buckets of engine/sketch.py (Σ n_b(n_b − 1) / (n(n − 1)))."""
    a, b = planted_pair(np.random.default_rng(3), "sparse")
    x = exact(a, b)
    sizes = np.bincount(S.hash_of(x.size)[0], minlength=K).astype(float)
    p = np.sum(sizes * (sizes - 1)) / (x.size * (x.size - 1))
    assert p <= 1 / K
    expected_std = math.sqrt(2 * p * (1 - np.sum(x ** 4) / np.sum(x ** 2) ** 2))
    ratios = []
    for seed in range(300):
        monkeypatch.setattr(S, "SKETCH_SEED", 1000 + seed)
        S._gather.cache_clear()
        ratios.append((np.linalg.norm(sketched(a) - sketched(b)) / np.linalg.norm(x)) ** 2)
    S._gather.cache_clear()
    ratios = np.array(ratios)
    n = len(ratios)
    assert abs(ratios.mean() - 1) < 4 * expected_std / math.sqrt(n)
    # The sample standard deviation's standard error is about std / sqrt(2(n − 1)) for a normal error.
    assert abs(ratios.std(ddof=1) - expected_std) < 4 * expected_std / math.sqrt(2 * (n - 1))


def test_a_trajectory_is_the_distance_over_the_baselines_norm_per_epoch():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((4, K))
    b = a + np.outer([0.0, 1.0, 2.0, 3.0], rng.standard_normal(K))
    norms = np.array([10.0, 10.0, 0.0, 20.0])  # a zero norm (no weights recorded) gives NaN, not inf
    got = T.relative_trajectory(a, b[:3], norms)  # the second run stopped after 3 epochs
    step = np.linalg.norm(b[1] - a[1])
    assert got[0] == 0 and got[1] == pytest.approx(step / 10) and np.isnan(got[2]) and len(got) == 3
