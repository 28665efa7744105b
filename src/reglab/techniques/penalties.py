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

from reglab.techniques.hooks import Context, Hooks, RunSlot, Stacked, Weights

Tensors = Sequence[torch.Tensor]


@dataclass(frozen=True)
class Penalty(Hooks):
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

    def gradients(self, weights: Weights, ctx: Context) -> torch.Tensor:
        return self.add_gradient(weights.kernels, weights.kernel_grads())

    def penalty(self, weights: Weights) -> torch.Tensor:
        return self.add_gradient(weights.kernels, None)

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


class StackedPenalty(Stacked):
    """Every run's penalties at once: λ1·Σ|w| + λ2·Σw² over its hidden kernels, with per-run
    strengths (a run's l1, l2 and l1_l2 together). The same formulas as Penalty, whose values the
    reference loop adds one run at a time (tests/engine/test_fast.py compares them). The fast
    engine puts the runs with an L1 term side by side, and those with an L2 term (stack_order), so
    that each term works on slices of the stack (a few for the tutorial's stacks) rather than on
    every run's weights: on a GPU the penalties' passes over the weights were a quarter of a 50-run
    step."""

    def __init__(self, per_run: Sequence[Sequence[Penalty]], device: torch.device):
        super().__init__(per_run, device)
        l1, l2 = zip(*(self.strengths(own) for own in per_run))
        self.l1 = _segments(list(l1), device)
        self.l2 = _segments(list(l2), device)
        # 2λ2, the gradient's factor and the alpha the reference's add_ takes (doubling is exact).
        self.l2_twice = [2 * strengths for _, _, strengths in self.l2]

    @staticmethod
    def strengths(own: Sequence[Penalty]) -> tuple[float, float]:
        return sum(p.l1 for p in own), sum(p.l2 for p in own)

    @classmethod
    def stack_order(cls, own: Sequence[Penalty]) -> int:
        """Runs with an L1 term, with both, with L2 only, with neither (see the class)."""
        l1, l2 = cls.strengths(own)
        return {(True, False): 0, (True, True): 1, (False, True): 2, (False, False): 3}[bool(l1), bool(l2)]

    def gradients(self, weights: Weights, runs: Sequence[RunSlot]) -> torch.Tensor:
        return self.add_gradient(weights.kernels, weights.kernel_grads())

    def penalty(self, weights: Weights) -> torch.Tensor:
        return self.add_gradient(weights.kernels, None)

    def add_gradient(self, kernels: Tensors, grads: Tensors | None) -> torch.Tensor:
        """grads[i] += d(penalty)/d(kernels[i]) for every run (unless grads is None); per-run values [R]."""
        value = torch.zeros(kernels[0].shape[0], device=kernels[0].device)
        for i, kernel in enumerate(kernels):
            per_run = (1,) * (kernel.dim() - 1)  # a strength per run, over its kernel [out, in] or [out, in, kh, kw]
            for start, stop, l1 in self.l1:
                w = kernel[start:stop].reshape(stop - start, -1)
                sign = torch.sign(w)
                value[start:stop].addcmul_(l1, torch.linalg.vecdot(w, sign))
                if grads is not None:
                    grads[i][start:stop].addcmul_(sign.view_as(kernel[start:stop]), l1.view(-1, *per_run))
            for (start, stop, l2), l2_twice in zip(self.l2, self.l2_twice):
                w = kernel[start:stop].reshape(stop - start, -1)
                value[start:stop].addcmul_(l2, torch.linalg.vecdot(w, w))
                if grads is not None:
                    grads[i][start:stop].addcmul_(kernel[start:stop], l2_twice.view(-1, *per_run))
        return value


def _segments(strengths: list[float], device: torch.device) -> list[tuple[int, int, torch.Tensor]]:
    """The runs of nonzero strength as (start, stop, their strengths [stop - start]) ranges."""
    segments, start = [], None
    for index, strength in enumerate([*strengths, 0.0]):
        if strength and start is None:
            start = index
        elif not strength and start is not None:
            segments.append((start, index, torch.tensor(strengths[start:index], device=device)))
            start = None
    return segments
