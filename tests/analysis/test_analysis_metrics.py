"""The report's confusion matrix and per-class scores (numpy) against scikit-learn's, the reference."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import precision_recall_fscore_support

from reglab.analysis.analyze import confusion_matrix, precision_recall_f1


@pytest.mark.parametrize("seed", range(5))
def test_confusion_and_scores_equal_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    classes = int(rng.integers(2, 12))
    labels = rng.integers(0, classes, size=300)
    predictions = np.where(rng.random(300) < 0.7, labels, rng.integers(0, classes, size=300))
    predictions[predictions == classes - 1] = 0  # a class never predicted: precision's 0/0
    cm = confusion_matrix(labels, predictions, classes)
    assert np.array_equal(cm, sk_confusion(labels, predictions, labels=range(classes)))
    expected = np.array(precision_recall_fscore_support(labels, predictions, labels=range(classes), zero_division=0)[:3])
    assert np.allclose(precision_recall_f1(cm), expected)
