"""What both engines record per epoch beyond the losses: the largest unit norm a max-norm
constraint saw before its projection (over its limit), and the count sketch of the hidden kernels.

The checks are against independent numbers: a constraint that never acts leaves a run identical to
the same run without it, and then the last epoch's peak is exactly the largest row norm of the
final weights (numpy, float64); a constraint that acts leaves no row above its limit; the sketch
is the published count sketch Σ s(i)·w_i per bucket, computed here with numpy from the final weights.
"""

from __future__ import annotations

import numpy as np
import pytest

from reglab.analysis import weights as W
from reglab.config import parse_study
from reglab.engine import sketch as S
from reglab.engine.fast import train_stack
from reglab.engine.reference import train_run

STUDY = """[defaults]
hidden = [24, 12]
epochs = 4
batch_size = 32
optimizer = { name = "sgd", lr = 0.2 }
[[variants]]
name = "plain"
[[variants]]
name = "never_acts"
max_norm = 100.0
[[variants]]
name = "acts"
max_norm = 0.9
"""
CNN = """[defaults]
model = "cnn"
conv = [{ filters = 4, kernel_size = 3, padding = "same", pool = 2 }]
hidden = [10]
epochs = 3
batch_size = 32
optimizer = { name = "sgd", lr = 0.2 }
[[variants]]
name = "plain"
[[variants]]
name = "never_acts"
max_norm = 100.0
[[variants]]
name = "acts"
max_norm = 0.5
"""


@pytest.fixture(scope="module")
def data(blobs):
    return blobs(seed=3, n_train=160, n_val=64, n_test=64, spread=0.15, shape=(8, 8), images=True)


def both_engines(data, text: str, seed: int = 1) -> dict[str, dict[str, object]]:
    """{engine: {variant: RunOutcome}} for every variant of `text` in both engines."""
    variants = parse_study(text).variants
    return {"reference": {v.name: train_run(data, v, seed) for v in variants},
            "fast": {v.name: outcome for v, outcome in zip(variants, train_stack(data, [(v, seed) for v in variants]))}}


@pytest.mark.parametrize("text", [STUDY, CNN], ids=["mlp", "cnn"])
def test_the_max_norm_peak_says_whether_the_constraint_acted(data, text):
    for engine, runs in both_engines(data, text).items():
        plain, idle, acting = runs["plain"], runs["never_acts"], runs["acts"]
        assert all(e.max_norm_peak is None for e in plain.record.history), engine  # no constraint, no number
        # Never acting: every epoch's peak at most 1, the run the same as without the constraint,
        # and its last peak at least the largest unit norm of the final weights over the limit
        # (the final weights are the last step's, seen before its projection).
        peaks = [e.max_norm_peak for e in idle.record.history]
        assert max(peaks) < 1, engine
        assert [e.val_loss for e in idle.record.history] == [e.val_loss for e in plain.record.history], engine
        assert peaks[-1] >= W.largest_unit_norm(idle.arrays.weights) / 100.0 * (1 - 1e-6), engine
        # Acting: above 1 at some epoch, and no unit left above the limit at the end.
        peaks = [e.max_norm_peak for e in acting.record.history]
        assert max(peaks) > 1, (engine, peaks)
        limit = parse_study(text).variants[2].switch("max_norm")["max_value"]
        assert W.largest_unit_norm(acting.arrays.weights) <= limit * (1 + 1e-5), engine


def test_the_recorded_sketch_is_the_count_sketch_of_the_weights(data):
    for engine, runs in both_engines(data, STUDY).items():
        outcome = runs["plain"]
        hidden = W.hidden_vector(outcome.arrays.weights)
        bucket, sign = S.hash_of(hidden.size)
        expected = np.bincount(bucket, weights=sign * hidden, minlength=S.SKETCH_BUCKETS)
        np.testing.assert_allclose(outcome.arrays.weight_sketches[-1], expected, rtol=1e-5, atol=1e-6)
        assert outcome.arrays.weight_sketches.shape == (4, S.SKETCH_BUCKETS), engine


def test_the_hash_is_fixed_balanced_and_signed():
    bucket, sign = S.hash_of(1000, 256)
    again, again_sign = S.hash_of(1000, 256)
    assert np.array_equal(bucket, again) and np.array_equal(sign, again_sign)
    assert set(np.unique(sign)) == {-1.0, 1.0}
    assert set(np.bincount(bucket, minlength=256)) <= {3, 4}  # 1000 indices in 256 buckets: 3 or 4 each
