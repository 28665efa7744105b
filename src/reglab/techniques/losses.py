"""Changes to the training loss other than weight penalties (runtime objects: soft_targets.py)."""

from __future__ import annotations

from reglab.techniques.params import Param
from reglab.techniques.registry import Technique, Words, register

# Targets become (1 - amount) * one_hot + amount / classes, as Keras's
# CategoricalCrossentropy(label_smoothing=amount) and torch's cross_entropy(label_smoothing=amount).
register(Technique(
    "label_smoothing", "loss",
    "Label smoothing: train towards (1 - amount)*one_hot + amount/classes instead of one-hot targets",
    "ラベル平滑化: 正解ラベルを (1 − ε)·one-hot + ε/K に和らげる",
    (Param("amount", "float", 0.1, "share of the target spread evenly over all classes",
           low=0.0, high=1.0, high_open=True),),
    "reglab.techniques.soft_targets:LabelSmoothing", shorthand="amount",
    stacked="reglab.techniques.soft_targets:StackedLabelSmoothing",
    words=Words(name=('label smoothing', 'ラベル平滑化'), note=(
        '<b>Label smoothing</b>: the one-hot target is mixed with the uniform distribution (1 − ε + '
        'ε/K on the true class, ε/K on the others), which discourages over-confident outputs.',
        '<b>ラベル平滑化</b>: ワンホットの正解を一様分布と混ぜます（正解クラスに 1 − ε + ε/K、他に ε/K）。過度に自信のある出力を抑えます。')),
))
