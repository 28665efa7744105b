"""Techniques that add layers to the network: the architectures ask each at its slots
(techniques/hooks.py: `layer(slot)`). Dropout's layers are in techniques/dropout.py (torch);
normalization's are torch's own, imported when a network is built."""

from __future__ import annotations

from typing import Any

from reglab.techniques.hooks import Hooks, Slot
from reglab.techniques.params import Param
from reglab.techniques.registry import LAYERS, Technique, register


# The rate is the probability to DROP a unit, as in Keras and PyTorch; the tutorial's concept
# note writes p for the probability to keep (mask ~ Bernoulli(p), scale 1/p): rate = 1 - p.
register(Technique(
    "dropout", "layer",
    "Inverted dropout after each hidden layer: drops units with probability `rate` while training",
    "ドロップアウト: 訓練中に各ユニットを確率 rate で無効化（rate は落とす確率）",
    (Param("rate", "rate", 0.5, "probability to drop a unit; one value, or one per hidden layer",
           low=0.0, high=1.0, high_open=True),),
    "reglab.techniques.dropout:Dropout", shorthand="rate", stacked=LAYERS,
))


register(Technique(
    "spatial_dropout", "layer",
    "Spatial dropout after each conv block (CNN only): drops whole feature maps with probability `rate`",
    "空間ドロップアウト（CNN のみ）: 畳み込みブロックの後で特徴マップ（チャネル）ごと確率 rate で無効化",
    (Param("rate", "rate", 0.1, "probability to drop a feature map; one value, or one per conv block",
           low=0.0, high=1.0, high_open=True),),
    "reglab.techniques.dropout:SpatialDropout", shorthand="rate", stacked=LAYERS,
))


POSITION = Param("position", "str", "before", "before or after the activation", choices=("before", "after"))


class Normalization(Hooks):
    """Batch or layer normalization of every block, before or after its activation."""

    def __init__(self, kind: str, p: dict[str, Any]):
        self.kind, self.p = kind, p

    def layer(self, slot: Slot) -> Any:
        if slot.where != {"before": "pre_activation", "after": "post_activation"}[self.p["position"]]:
            return None
        from torch import nn

        if self.kind == "layer_norm":
            if slot.block != "dense":
                raise ValueError("layer_norm has no form for a conv block (architectures that have them refuse it)")
            return nn.LayerNorm(slot.width, eps=self.p["eps"])
        norm = nn.BatchNorm2d if slot.block == "conv" else nn.BatchNorm1d
        return norm(slot.width, momentum=torch_momentum(self.p), eps=self.p["eps"])


def _batch_norm(p: dict[str, Any]) -> Normalization:
    return Normalization("batch_norm", p)


def _layer_norm(p: dict[str, Any]) -> Normalization:
    return Normalization("layer_norm", p)


# Batch norm's momentum has two conventions. Keras's is the weight of the OLD running value
# (default 0.99); PyTorch's the weight of the NEW batch (default 0.1): Keras m is PyTorch 1 - m.
# A keras_compat study writes Keras's, others PyTorch's; the resolved study names its convention,
# so study.json reads back the same in either mode.
def torch_momentum(p: dict[str, Any]) -> float:
    return 1.0 - p["momentum"] if p.get("convention") == "keras" else p["momentum"]


def _check_momentum(p: dict[str, Any]) -> list[str]:
    """A momentum that only makes sense in the other convention keeps less than half of the
    running average per step where more than half was surely meant: refused, with the fix."""
    m, convention = p["momentum"], p["convention"]
    if convention == "keras" and m < 0.5:
        return [f"momentum {m:g} reads as PyTorch's convention (weight of the new batch), but here it is Keras's "
                "(keras_compat: weight of the old running value, default 0.99). Fix: momentum = "
                f"{1 - m:g} for the same statistics, or convention = \"pytorch\" to keep {m:g}"]
    if convention == "pytorch" and m > 0.5:
        return [f"momentum {m:g} reads as Keras's convention (weight of the old running value), but here it is "
                "PyTorch's (weight of the new batch, default 0.1). Fix: momentum = "
                f"{1 - m:g} for the same statistics, or convention = \"keras\" to keep {m:g}"]
    return []


register(Technique(
    "batch_norm", "layer",
    "Batch normalization of each hidden layer: per-feature mean 0, variance 1 over the batch. momentum is "
    "Keras's in keras_compat studies (0.99: keep 99% of the old running average), else PyTorch's (0.1: take "
    "10% of the new batch)",
    "バッチ正規化: ミニバッチ内で各特徴を平均 0・分散 1 に正規化（推論時は移動平均を使用）。momentum は keras_compat の研究では "
    "Keras の意味（0.99: 古い移動平均を 99% 残す）、それ以外では PyTorch の意味（0.1: 新しいバッチを 10% 取り込む）",
    (POSITION,
     Param("momentum", "float", 0.1, "running statistics' momentum in the study's convention: Keras's in "
           "keras_compat (weight of the OLD value, default 0.99), else PyTorch's (weight of the NEW batch, 0.1)",
           low=0.0, high=1.0, low_open=True, high_open=True),
     Param("convention", "str", "pytorch", "how momentum reads: keras (keras_compat's default) or pytorch",
           choices=("keras", "pytorch")),
     Param("eps", "float", 1e-5, "added to the variance", low=0.0, low_open=True)),
    _batch_norm, keras_defaults={"momentum": 0.99, "convention": "keras", "eps": 1e-3},
    check=_check_momentum, stacked=LAYERS, batch_statistics=True,
))
register(Technique(
    "layer_norm", "layer",
    "Layer normalization of each hidden layer: each sample over its features, independent of the batch",
    "レイヤー正規化: サンプルごとに特徴方向で正規化（バッチに依存しない）",
    (POSITION, Param("eps", "float", 1e-5, "added to the variance", low=0.0, low_open=True)),
    _layer_norm, keras_defaults={"eps": 1e-3}, stacked=LAYERS,
))
