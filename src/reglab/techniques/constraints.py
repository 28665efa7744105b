"""Techniques that act on the weights around the optimizer step, not through the loss.
Like the penalties they act on the hidden kernels only, so that `l2` and `weight_decay` can be
compared on the same tensors.

Names, parameters and descriptions are declared without torch in catalog.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from reglab.techniques.hooks import Context, Hooks, Weights

Kernels = Sequence[torch.Tensor]


class NormPeak:
    """The largest norm of one unit's incoming weights seen before a max-norm projection since the
    last take(), over the limit: a device tensor, updated at every step without being read (no
    host sync per step); both engines take() it once per epoch (EpochRecord.max_norm_peak)."""

    def __init__(self, limit: float):
        self.limit = limit
        self.largest: torch.Tensor | None = None

    def observe(self, kernels: Kernels) -> None:
        for kernel in kernels:
            largest = torch.linalg.vector_norm(kernel.reshape(kernel.shape[0], -1), dim=1).max()
            self.largest = largest if self.largest is None else torch.maximum(self.largest, largest)

    def take(self) -> float | None:
        """The epoch's peak / limit (None when no step was observed), and a fresh start for the next."""
        largest, self.largest = self.largest, None
        return None if largest is None else largest.item() / self.limit  # .item(): once per epoch


class WeightDecay(Hooks):
    def __init__(self, p: dict[str, Any]):
        self.rate = p["rate"]

    def before_step(self, weights: Weights, ctx: Context) -> None:
        # Decoupled decay as PyTorch's AdamW applies it: w <- w * (1 - lr * rate), on the weights
        # BEFORE the optimizer's step, while the gradient was taken at the old weights. Under plain
        # SGD this is exactly L2 with strength rate / 2: w - lr*(g + 2λw) = w(1 - 2λ·lr) - lr*g.
        torch._foreach_mul_(list(weights.kernels), 1.0 - ctx.lr * self.rate)


class ScheduledDecay(Hooks):
    def __init__(self, p: dict[str, Any]):
        self.rate = p["rate"]

    def before_step(self, weights: Weights, ctx: Context) -> None:
        # Loshchilov & Hutter (2019), Algorithm 2, line 12: θ_t ← θ_{t−1} − η_t(α·m̂/(√v̂ + ε) + λθ_{t−1}).
        # The decay is η_t·λ with η_t the schedule multiplier, lr / α here, and does not scale with
        # α: weight_decay's w·(1 − lr·rate) (torch.optim.AdamW, Keras) is the same update only for
        # rate = λ/α. Applied before the step, on θ_{t−1}, like AdamW; Adam's step does not read θ.
        torch._foreach_mul_(list(weights.kernels), 1.0 - (ctx.lr / ctx.base_lr) * self.rate)


class MaxNorm(Hooks):
    def __init__(self, p: dict[str, Any]):
        self.limit = p["max_value"]
        self.peak = NormPeak(self.limit)

    def after_step(self, weights: Weights, ctx: Context) -> None:
        # Srivastava et al. (2014): each unit's incoming weight vector is a row of a PyTorch
        # kernel (out_features x in_features); rows longer than `limit` are scaled back to it.
        # Their norms are taken first for the records: one more read of the kernels per step.
        self.peak.observe(weights.kernels)
        for kernel in weights.kernels:
            kernel.renorm_(p=2, dim=0, maxnorm=self.limit)

    def epoch_fields(self) -> dict[str, Any]:
        return {"max_norm_peak": self.peak.take()}
