"""Techniques that add layers to the network. The model builder reads these entries."""

from __future__ import annotations

from typing import Any

from reglab.techniques.params import Param
from reglab.techniques.registry import Technique, register


def _dropout(p: dict[str, Any]) -> Any:
    return p["rate"]


# The rate is the probability to DROP a unit, as in Keras and PyTorch; the tutorial's concept
# note writes p for the probability to keep (mask ~ Bernoulli(p), scale 1/p): rate = 1 - p.
register(Technique(
    "dropout", "layer",
    "Inverted dropout after each hidden layer: drops units with probability `rate` while training",
    "ドロップアウト: 訓練中に各ユニットを確率 rate で無効化（rate は落とす確率）",
    (Param("rate", "rate", 0.5, "probability to drop a unit; one value, or one per hidden layer",
           low=0.0, high=1.0, high_open=True),),
    _dropout, shorthand="rate",
))
