"""What both engines must record alike beyond the losses, shared by the MLP and CNN equivalence tests."""

from __future__ import annotations

import numpy as np
import pytest

from reglab.store.records import SKETCH_BUCKETS


def assert_same_diagnostics(fast, reference):
    """The per-epoch max-norm peak and the weight sketches: the same in both engines (the sketch is
    linear in the weights, so it agrees as the weights do)."""
    for x, y in zip(fast.record.history, reference.record.history):
        assert (x.max_norm_peak is None) == (y.max_norm_peak is None)
        if y.max_norm_peak is not None and np.isfinite(y.max_norm_peak):
            assert x.max_norm_peak == pytest.approx(y.max_norm_peak, rel=1e-4)
    a, b = fast.arrays.weight_sketches, reference.arrays.weight_sketches
    assert a.shape == b.shape == (len(reference.record.history), SKETCH_BUCKETS)
    finite = np.isfinite(b).all(axis=1)
    scale = np.abs(b[finite]).max() if finite.any() else 1.0
    np.testing.assert_allclose(a[finite], b[finite], rtol=1e-4, atol=1e-5 * scale)
