"""Stochastic depth (Huang et al. 2016, "Deep Networks with Stochastic Depth"): while training,
each residual block's branch is skipped at random, so that the network trains as an ensemble of
shallower ones; at evaluation every block is on.

Block l of L is dropped with probability rate * l / L (the paper's linear decay rule, its p_L =
1 - rate), or with `rate` everywhere (`decay = "uniform"`). Kept branches are scaled by 1/(1 - p)
while training and left as they are at evaluation, as torchvision.ops.stochastic_depth and timm's
DropPath do; the paper instead scales the branch by its survival probability at test time, which
is the same network in expectation. `mode = "batch"` (the paper) skips a block for the whole
mini-batch; `mode = "row"` draws for each example (torchvision's "row", timm).

Only an architecture with residual blocks accepts it (model = "resmlp", which asks for it at each
block's "residual" slot); the others refuse it (models/catalog.py). Its layer is
techniques.dropout.SeededBranchDrop, drawn from the run's dropout stream; this file is torch-free.
"""

from __future__ import annotations

from typing import Any

from reglab.techniques.hooks import Hooks, Slot
from reglab.techniques.params import Param
from reglab.techniques.registry import Technique, Words, register


class StochasticDepth(Hooks):
    def __init__(self, p: dict[str, Any]):
        self.rate, self.decay, self.mode = p["rate"], p["decay"], p["mode"]

    def block_rate(self, index: int, count: int) -> float:
        """The drop probability of residual block `index` (from 0) of `count`."""
        return self.rate if self.decay == "uniform" else self.rate * (index + 1) / count

    def layer(self, slot: Slot) -> Any:
        if slot.block != "residual" or slot.where != "branch_end":
            return None
        from reglab.techniques.dropout import SeededBranchDrop

        rate = self.block_rate(slot.index, slot.count)
        return SeededBranchDrop(rate, self.mode) if rate > 0 else None


register(Technique(
    "stochastic_depth", "layer",
    "Stochastic depth (Huang et al. 2016, residual MLP only): each residual block is skipped at random "
    "while training, the last with probability `rate`, earlier ones less (linear decay)",
    "確率的深さ（Huang ら 2016、残差 MLP のみ）: 訓練中に残差ブロックをランダムに飛ばす。最後のブロックは確率 rate、"
    "手前のブロックほど低い確率（線形減衰）",
    (Param("rate", "float", 0.1, "drop probability of the last residual block", low=0.0, high=1.0, high_open=True),
     Param("decay", "str", "linear", "linear: block l of L drops with rate*l/L (Huang et al.); uniform: all with rate",
           choices=("linear", "uniform")),
     Param("mode", "str", "batch", "batch: one draw per block for the whole mini-batch (Huang et al.); "
           "row: one per example (torchvision, timm)", choices=("batch", "row"))),
    StochasticDepth, shorthand="rate",
    words=Words(name=('stochastic depth', '確率的深さ'), note=(
        "<b>Stochastic depth</b> (Huang et al. 2016): while training, each residual block's branch "
        'is skipped at random, so that the network trains as an ensemble of shallower networks; '
        'block <i>l</i> of <i>L</i> is skipped with probability rate·<i>l</i>/<i>L</i> (the last '
        'block most often) and a kept branch is scaled by 1/(1 − that probability). At test time '
        'every block is on.',
        '<b>確率的深さ</b>（Huang et al. 2016）: 訓練中、各残差ブロックの枝をランダムに飛ばし、浅いネットワークのアンサンブルとして学習させます。<i>L</i> '
        '個中 <i>l</i> 番目のブロックを確率 rate·<i>l</i>/<i>L</i> で飛ばし（最後のブロックが最も多い）、残した枝は 1/(1 − その確率) 倍します。'
        'テスト時はすべてのブロックを使います。')),
))
