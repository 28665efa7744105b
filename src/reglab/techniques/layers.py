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


register(Technique(
    "spatial_dropout", "layer",
    "Spatial dropout after each conv block (CNN only): drops whole feature maps with probability `rate`",
    "空間ドロップアウト（CNN のみ）: 畳み込みブロックの後で特徴マップ（チャネル）ごと確率 rate で無効化",
    (Param("rate", "rate", 0.1, "probability to drop a feature map; one value, or one per conv block",
           low=0.0, high=1.0, high_open=True),),
    _dropout, shorthand="rate",
))


POSITION = Param("position", "str", "before", "before or after the activation", choices=("before", "after"))


def _norm_factory(kind: str) -> Any:
    def build(p: dict[str, Any]) -> Any:
        from torch import nn

        if kind == "batch_norm":
            return lambda width: nn.BatchNorm1d(width, momentum=p["momentum"], eps=p["eps"])
        return lambda width: nn.LayerNorm(width, eps=p["eps"])

    return build


# PyTorch's momentum is the weight of the NEW batch in the running statistics; Keras's momentum
# is the weight of the OLD value: Keras 0.99 is PyTorch 0.01.
register(Technique(
    "batch_norm", "layer",
    "Batch normalization of each hidden layer: per-feature mean 0, variance 1 over the batch",
    "バッチ正規化: ミニバッチ内で各特徴を平均 0・分散 1 に正規化（推論時は移動平均を使用）",
    (POSITION,
     Param("momentum", "float", 0.1, "weight of the new batch in the running statistics (PyTorch convention)",
           low=0.0, high=1.0, low_open=True),
     Param("eps", "float", 1e-5, "added to the variance", low=0.0, low_open=True)),
    _norm_factory("batch_norm"), keras_defaults={"momentum": 0.01, "eps": 1e-3},
))
register(Technique(
    "layer_norm", "layer",
    "Layer normalization of each hidden layer: each sample over its features, independent of the batch",
    "レイヤー正規化: サンプルごとに特徴方向で正規化（バッチに依存しない）",
    (POSITION, Param("eps", "float", 1e-5, "added to the variance", low=0.0, low_open=True)),
    _norm_factory("layer_norm"), keras_defaults={"eps": 1e-3},
))
