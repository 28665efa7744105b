"""The report's confusion matrix and per-class scores equal scikit-learn's, bit for bit (they are
written out so that a report does not import scikit-learn)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import precision_recall_fscore_support

from reglab.analysis.analyze import confusion_matrix, precision_recall_f1


@pytest.mark.parametrize("seed, classes, n, accuracy", [
    (0, 10, 817, 0.95),
    (1, 10, 50, 0.3),  # classes never predicted, or never present: zero divisions
    (2, 3, 7, 0.0),
    (3, 2, 1, 1.0),
])
def test_metrics_equal_scikit_learns(seed, classes, n, accuracy):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    predictions = np.where(rng.random(n) < accuracy, labels, rng.integers(0, classes, n))
    cm = confusion_matrix(labels, predictions, classes)
    expected = sk_confusion_matrix(labels, predictions, labels=range(classes))
    np.testing.assert_array_equal(cm, expected)
    assert cm.dtype == expected.dtype
    ours = precision_recall_f1(cm)
    theirs = np.array(precision_recall_fscore_support(labels, predictions, labels=range(classes),
                                                      zero_division=0)[:3])
    np.testing.assert_array_equal(ours, theirs)


def test_values_outside_the_classes_are_left_out_as_scikit_learn_does():
    labels, predictions = np.array([0, 1, 2, 5]), np.array([0, 1, -1, 1])
    np.testing.assert_array_equal(confusion_matrix(labels, predictions, 3),
                                  sk_confusion_matrix(labels, predictions, labels=range(3)))
