"""Techniques that act on the weights around the optimizer step, not through the loss.
Like the penalties they act on the hidden kernels only, so that `l2` and `weight_decay` can be
compared on the same tensors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from reglab.techniques.params import Param
from reglab.techniques.registry import Technique, register

Kernels = Sequence[torch.Tensor]


@dataclass(frozen=True)
class Constraint:
    # Called with the hidden kernels and the current learning rate, under torch.no_grad().
    before_step: Callable[[Kernels, float], None] | None = None
    after_step: Callable[[Kernels, float], None] | None = None


def _weight_decay(p: dict[str, Any]) -> Constraint:
    rate = p["rate"]

    def shrink(kernels: Kernels, lr: float) -> None:
        # Decoupled decay as PyTorch's AdamW applies it: w <- w * (1 - lr * rate), on the weights
        # BEFORE the optimizer's step, while the gradient was taken at the old weights. Under plain
        # SGD this is exactly L2 with strength rate / 2: w - lr*(g + 2λw) = w(1 - 2λ·lr) - lr*g.
        torch._foreach_mul_(list(kernels), 1.0 - lr * rate)

    return Constraint(before_step=shrink)


def _max_norm(p: dict[str, Any]) -> Constraint:
    limit = p["max_value"]

    def clip(kernels: Kernels, lr: float) -> None:
        # Srivastava et al. (2014): each unit's incoming weight vector is a row of a PyTorch
        # kernel (out_features x in_features); rows longer than `limit` are scaled back to it.
        for kernel in kernels:
            kernel.renorm_(p=2, dim=0, maxnorm=limit)

    return Constraint(after_step=clip)


register(Technique(
    "weight_decay", "constraint",
    "Decoupled weight decay (AdamW/SGDW): w <- w*(1 - lr*rate) each step, outside the loss",
    "重み減衰（分離型, AdamW/SGDW）: 毎ステップ w ← w(1 − η·rate)。SGD では L2（λ = rate/2）と同じ",
    (Param("rate", "float", 0.01, "decay per step, multiplied by the learning rate", low=0.0),),
    _weight_decay, shorthand="rate",
))
register(Technique(
    "max_norm", "constraint",
    "Max-norm: each unit's incoming weight vector is clipped to norm max_value after every step",
    "最大ノルム制約: 各ユニットへの入力重みベクトルのノルムを max_value 以下に保つ",
    (Param("max_value", "float", 3.0, "largest allowed L2 norm of a unit's incoming weights",
           low=0.0, low_open=True),),
    _max_norm, shorthand="max_value",
))
