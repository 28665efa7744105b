"""Near-zero weights per layer, histograms, and learning curves across seeds."""

from __future__ import annotations

import numpy as np
import pytest

from reglab.analysis import weights as W
from reglab.analysis.curves import curves
from reglab.store import EpochRecord

STATE = {
    "layers.0.weight": np.array([[0.0, 0.0005], [-0.0009, 0.5]], np.float32),  # 3 of 4 near zero
    "layers.0.bias": np.zeros(2, np.float32),
    "layers.1.weight": np.ones(2, np.float32),  # a normalization scale: 1-D, not a kernel
    "layers.2.weight": np.array([[0.001, -0.2, 0.0], [0.3, 0.3, 0.3]], np.float32),  # exactly 0.001 is not < 0.001
    "layers.4.weight": np.array([[0.0, 1.0]], np.float32),  # the output layer
}


def test_kernels_are_the_2d_arrays_in_layer_order():
    kernels = W.kernels(STATE)
    assert list(kernels) == ["dense_1", "dense_2", "dense_3"]
    assert kernels["dense_2"].shape == (2, 3)


def test_near_zero_share_per_layer_and_over_the_hidden_layers():
    assert W.layer_shares(STATE) == pytest.approx({"dense_1": 0.75, "dense_2": 1 / 6, "dense_3": 0.5})
    assert W.hidden_share(STATE) == pytest.approx(4 / 10)  # the output kernel is left out
    assert W.near_zero_share(np.array([0.01, 0.02]), threshold=0.015) == 0.5
    assert W.hidden_share({}) != W.hidden_share({})  # NaN: nothing to count


def test_histogram_edges_are_shared_symmetric_and_centred_on_zero():
    samples = [np.random.default_rng(0).normal(0, 0.1, 10_000), np.array([0.0, 5.0])]
    edges = W.histogram_edges(samples)
    assert len(edges) == W.HISTOGRAM_BINS + 1 and edges[0] == -edges[-1]
    middle = W.HISTOGRAM_BINS // 2
    assert edges[middle] < 0 < edges[middle + 1]
    counts = W.histogram(np.array([0.0, 100.0, -100.0]), edges)
    assert counts.sum() == 3 and counts[0] == 1 and counts[-1] == 1  # outliers land in the outer bins


def record(epoch, val_loss, train_loss=0.5):
    return EpochRecord(epoch, train_loss, 0.8, val_loss, 0.75, 0.001, 0.1)


def test_curves_over_seeds_of_different_length_and_with_a_diverged_epoch():
    histories = [
        [record(0, 1.0), record(1, 0.8), record(2, 0.7)],
        [record(0, 1.2), record(1, 0.6)],  # stopped early
        [record(0, 1.1), record(1, float("nan")), record(2, 0.9)],  # a loss that was not finite
    ]
    bands = curves(histories)
    val = bands["val_loss"]
    assert val.mean == pytest.approx([1.1, 0.7, 0.8])
    assert val.low == pytest.approx([1.0, 0.6, 0.7]) and val.high == pytest.approx([1.2, 0.8, 0.9])
    assert list(val.n) == [3, 2, 2]
    assert bands["loss_gap"].mean == pytest.approx([0.6, 0.2, 0.3])  # val - train
    assert bands["accuracy_gap"].mean == pytest.approx([0.05, 0.05, 0.05])
    assert val.to_json()["mean"] == pytest.approx([1.1, 0.7, 0.8])


def test_conv_kernels_count_as_kernels_and_name_as_the_summary_does():
    # A CNN's state_dict: conv kernels [out, in, kh, kw], batch-norm vectors, dense kernels [out, in].
    rng = np.random.default_rng(0)
    weights = {"features.0.weight": rng.normal(size=(4, 1, 3, 3)), "features.0.bias": np.zeros(4),
               "features.1.weight": np.ones(4), "features.1.running_mean": np.zeros(4),
               "features.4.weight": np.zeros((6, 4, 2, 2)), "head.0.weight": rng.normal(size=(10, 24))}
    assert list(W.kernels(weights)) == ["conv2d_1", "conv2d_2", "dense_1"]
    assert W.layer_shares(weights)["conv2d_2"] == 1.0  # all zero: sparse
    assert W.hidden_share(weights) == pytest.approx(96 / (36 + 96))  # the two conv kernels, not the output layer
    assert W.first_filters(weights).shape == (4, 3, 3)
    np.testing.assert_array_equal(W.first_filters(weights)[2], weights["features.0.weight"][2, 0].astype(np.float32))
    # Max-norm caps a filter's norm over all its weights.
    expected = max(np.linalg.norm(weights["features.0.weight"][i]) for i in range(4))
    assert W.largest_unit_norm(weights) == pytest.approx(expected)
    assert W.first_filters({"head.0.weight": np.zeros((10, 4))}) is None
