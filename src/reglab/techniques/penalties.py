"""Penalties added to the loss. Keras semantics, as in the tutorial: `l1(λ)` adds λ·Σ|w| and
`l2(λ)` adds λ·Σw² (no 1/2) for the kernels of the hidden layers; biases and the output layer
are not penalised. PyTorch's `weight_decay` argument is a different constant (λ/2 in this form)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from reglab.techniques.params import Param
from reglab.techniques.registry import Technique, register

Tensors = Sequence[torch.Tensor]


@dataclass(frozen=True)
class Penalty:
    """λ1·Σ|w| + λ2·Σw² over the hidden kernels, with its gradient in closed form.

    The engines add the gradient (λ1·sign(w) + 2λ2·w, as autograd computes it: sign(0) = 0, and
    multiplying by 2 is exact) to the data loss's gradient instead of differentiating the penalty
    through autograd, whose broadcast of the scalar gradient over every weight cost a millisecond
    a step on the tutorial's model. The sums are dot products (Σ|w| = w·sign(w), Σw² = w·w): one
    fast pass each, and the L1 term shares its signs with the gradient."""

    l1: float = 0.0
    l2: float = 0.0

    def __call__(self, kernels: Tensors) -> torch.Tensor:
        return self.add_gradient(kernels, None)

    def add_gradient(self, kernels: Tensors, grads: Tensors | None) -> torch.Tensor:
        """grads += d(penalty)/d(kernels), in place (unless None); returns the penalty's value."""
        value = torch.zeros((), device=kernels[0].device)
        for i, w in enumerate(kernels):
            flat = w.reshape(-1)
            if self.l1:
                sign = torch.sign(flat)
                value += self.l1 * torch.dot(flat, sign)
                if grads is not None:
                    grads[i].add_(sign.view_as(w), alpha=self.l1)
            if self.l2:
                value += self.l2 * torch.dot(flat, flat)
                if grads is not None:
                    grads[i].add_(w, alpha=2 * self.l2)
        return value


def _l1(p: dict[str, Any]) -> Penalty:
    return Penalty(l1=p["strength"])


def _l2(p: dict[str, Any]) -> Penalty:
    return Penalty(l2=p["strength"])


def strength(doc: str) -> Param:
    return Param("strength", "float", 0.001, doc, low=0.0)


register(Technique(
    "l1", "penalty", "L1 penalty λ·Σ|w| on hidden kernels: pushes weights to exactly zero (sparsity)",
    "L1 正則化: 損失に λΣ|w| を加え、重みを 0 に近づけスパースにする",
    (strength("λ in λ·Σ|w|"),), _l1, shorthand="strength",
))
register(Technique(
    "l2", "penalty", "L2 penalty λ·Σw² on hidden kernels (Keras l2: no 1/2): shrinks large weights",
    "L2 正則化: 損失に λΣw² を加え、大きな重みを抑える（重み減衰）",
    (strength("λ in λ·Σw²"),), _l2, shorthand="strength",
))


def _l1_l2(p: dict[str, Any]) -> Penalty:
    return Penalty(l1=p["l1"], l2=p["l2"])


register(Technique(
    "l1_l2", "penalty", "Both penalties at once (Keras L1L2): λ1·Σ|w| + λ2·Σw² (elastic net)",
    "L1 と L2 の併用（Elastic Net）: λ1Σ|w| + λ2Σw²",
    (Param("l1", "float", 0.001, "λ1 in λ1·Σ|w|", low=0.0), Param("l2", "float", 0.001, "λ2 in λ2·Σw²", low=0.0)),
    _l1_l2,
))
