"""Penalties added to the loss. Keras semantics, as in the tutorial: `l1(λ)` adds λ·Σ|w| and
`l2(λ)` adds λ·Σw² (no 1/2) for the kernels of the hidden layers; biases and the output layer
are not penalised. PyTorch's `weight_decay` argument is a different constant (λ/2 in this form).

Names, parameters and descriptions are declared without torch in catalog.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

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


def _l1_l2(p: dict[str, Any]) -> Penalty:
    return Penalty(l1=p["l1"], l2=p["l2"])
