"""Reference models beside the networks: scikit-learn classifiers trained on the very splits the
networks train on, so a study answers the first question a tabular user has (is a regularized
network better than a well-kept classical model here? Kadra et al. 2021; Grinsztajn et al. 2022).

A study names them once: `references = ["logistic", "hist_gradient_boosting"]`. Each is fitted
on the training split (the features the networks get: a table's standardized and one-hot
columns, or pixels / max), once per seed of the study (`random_state=seed`; logistic regression
is deterministic, so its seeds agree and its spread is 0), and scored on the test split: accuracy
and log loss, as the networks are. The validation split is not used: these models have no epochs
to choose and their settings are scikit-learn's defaults, stated here, not tuned.

Torch-free; scikit-learn is imported only when a study has references.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Reference:
    name: str
    short: str  # the results table's row: "(short)"
    summary_en: str
    summary_ja: str
    settings: str  # what it is, with the settings that are not scikit-learn's defaults


REFERENCES: dict[str, Reference] = {r.name: r for r in (
    Reference("logistic", "logistic", "logistic regression (scikit-learn, L2, C = 1)",
              "ロジスティック回帰（scikit-learn、L2、C = 1）",
              "LogisticRegression(max_iter=2000)"),
    Reference("hist_gradient_boosting", "boosting", "histogram gradient boosting (scikit-learn's defaults)",
              "ヒストグラム勾配ブースティング（scikit-learn の既定値）",
              "HistGradientBoostingClassifier(random_state=seed)"),
)}


def fit_and_score(name: str, seed: int, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                  y_test: np.ndarray, classes: int) -> dict[str, Any]:
    """One reference's run: fitted on the training split, scored on the test split."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from threadpoolctl import threadpool_limits

    model = (LogisticRegression(max_iter=2000) if name == "logistic"
             else HistGradientBoostingClassifier(random_state=seed))
    start = time.perf_counter()
    # One OpenMP thread: boosting's threads spin while they wait, and beside the training processes
    # on a busy 2-core machine one fit of breast_cancer took 53 s of wall clock instead of 0.9 s.
    with threadpool_limits(1):
        model.fit(x_train, y_train)
        probabilities = np.zeros((len(x_test), classes))
        probabilities[:, model.classes_] = model.predict_proba(x_test)  # a class absent from training: 0
    probabilities /= probabilities.sum(axis=1, keepdims=True)  # float error: log_loss wants rows summing to 1
    predicted = probabilities.argmax(axis=1)
    return {"name": name, "seed": int(seed), "test_accuracy": float((predicted == y_test).mean()),
            "test_loss": float(log_loss(y_test, probabilities, labels=list(range(classes)))),
            "seconds": time.perf_counter() - start, "settings": REFERENCES[name].settings,
            "short": REFERENCES[name].short, "summary": REFERENCES[name].summary_en}
