"""Techniques that add layers to the network: the architectures ask each at its slots
(techniques/hooks.py: `layer(slot)`). Dropout's layers are in techniques/dropout.py (torch);
normalization's are torch's own, imported when a network is built."""

from __future__ import annotations

from typing import Any

from reglab.techniques.hooks import Hooks, Slot
from reglab.techniques.params import Param
from reglab.techniques.registry import LAYERS, Technique, Words, register


# The rate is the probability to DROP a unit, as in Keras and PyTorch; the tutorial's concept
# note writes p for the probability to keep (mask ~ Bernoulli(p), scale 1/p): rate = 1 - p.
register(Technique(
    "dropout", "layer",
    "Inverted dropout after each hidden layer: drops units with probability `rate` while training",
    "ドロップアウト: 訓練中に各ユニットを確率 rate で無効化（rate は落とす確率）",
    (Param("rate", "rate", 0.5, "probability to drop a unit; one value, or one per hidden layer",
           low=0.0, high=1.0, high_open=True),),
    "reglab.techniques.dropout:Dropout", shorthand="rate", stacked=LAYERS,
    words=Words(name=('dropout', 'ドロップアウト'), note=(
        "<b>Dropout</b>: during training each unit's output is set to zero with probability "
        '<i>rate</i> and the kept units are scaled by 1/(1 − rate); at test time nothing is dropped. '
        "reglab's <i>rate</i> is the probability to <b>drop</b>, as in Keras and PyTorch. The "
        "tutorial's concept note writes <i>p</i> for the probability to <b>keep</b> (r ~ "
        'Bernoulli(p), scaled by 1/p): rate = 1 − p.',
        '<b>ドロップアウト</b>: 訓練中、各ユニットの出力を確率 <i>rate</i> で 0 にし、残ったユニットを 1/(1 − rate) 倍します。テスト時には何も落としません。reglab の <i>rate</i> は Keras や PyTorch と同じく「<b>落とす</b>確率」です。チュートリアルの概念ノートの <i>p</i> は「<b>残す</b>確率」（r ~ Bernoulli(p)、1/p でスケール）なので、rate = 1 − p です。'), axis=('dropout rate', 'ドロップアウト率'), point_label=True),
))


register(Technique(
    "spatial_dropout", "layer",
    "Spatial dropout after each conv block (CNN only): drops whole feature maps with probability `rate`",
    "空間ドロップアウト（CNN のみ）: 畳み込みブロックの後で特徴マップ（チャネル）ごと確率 rate で無効化",
    (Param("rate", "rate", 0.1, "probability to drop a feature map; one value, or one per conv block",
           low=0.0, high=1.0, high_open=True),),
    "reglab.techniques.dropout:SpatialDropout", shorthand="rate", stacked=LAYERS,
    words=Words(name=('spatial dropout', '空間ドロップアウト')),
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
    words=Words(name=('batch normalization', 'バッチ正規化'), note=(
        '<b>Batch normalization</b>: per mini-batch and unit, x̂ = (x − μ<sub>B</sub>) / '
        '√(σ<sub>B</sub>² + ε), then y = γ·x̂ + β with learned γ and β; at test time running '
        "averages of μ and σ² replace the batch's. It keeps each layer's input distribution steady "
        '(internal covariate shift).',
        '<b>バッチ正規化</b>: ミニバッチごとに μ<sub>B</sub> = (1/m) Σ x<sub>i</sub>、σ<sub>B</sub>² = (1/m) Σ '
        '(x<sub>i</sub> − μ<sub>B</sub>)²、x̂<sub>i</sub> = (x<sub>i</sub> − μ<sub>B</sub>) / '
        '√(σ<sub>B</sub>² + ε)、y<sub>i</sub> = γ x̂<sub>i</sub> + β（γ と β は学習するパラメータ）。'
        'テスト時はバッチの統計量の代わりに移動平均を使います。内部共変量シフトを抑え、学習を安定させます。')),
))
register(Technique(
    "layer_norm", "layer",
    "Layer normalization of each hidden layer: each sample over its features, independent of the batch",
    "レイヤー正規化: サンプルごとに特徴方向で正規化（バッチに依存しない）",
    (POSITION, Param("eps", "float", 1e-5, "added to the variance", low=0.0, low_open=True)),
    _layer_norm, keras_defaults={"eps": 1e-3}, stacked=LAYERS,
    words=Words(name=('layer normalization', 'レイヤー正規化'), note=(
        '<b>Layer normalization</b>: the same standardisation, but over the H units of one example '
        '(μ = (1/H) Σ x<sub>i</sub>) instead of over the batch, so it does not depend on the batch '
        'size.',
        '<b>レイヤー正規化</b>: 同じ標準化を、バッチ方向ではなく 1 つのサンプルの層内の H 個のユニットについて行います（μ<sup>l</sup> = (1/H) Σ '
        'x<sub>i</sub>）。ミニバッチサイズに依存しません。')),
))
