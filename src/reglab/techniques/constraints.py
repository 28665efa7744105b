"""Techniques that act on the weights around the optimizer step, not through the loss.
Like the penalties they act on the hidden kernels only, so that `l2` and `weight_decay` can be
compared on the same tensors.

Names, parameters and descriptions are declared without torch in catalog.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

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


@dataclass(frozen=True)
class Constraint:
    # Called with the hidden kernels and the current learning rate, under torch.no_grad().
    before_step: Callable[[Kernels, float], None] | None = None
    after_step: Callable[[Kernels, float], None] | None = None
    peak: NormPeak | None = None  # what a projection would have cut, for the records
    # Called once per run, before the first step, with the run's starting learning rate (the
    # optimizer's lr, which the schedule multiplies): for a constraint that needs the multiplier.
    start: Callable[[float], None] | None = None


def _weight_decay(p: dict[str, Any]) -> Constraint:
    rate = p["rate"]

    def shrink(kernels: Kernels, lr: float) -> None:
        # Decoupled decay as PyTorch's AdamW applies it: w <- w * (1 - lr * rate), on the weights
        # BEFORE the optimizer's step, while the gradient was taken at the old weights. Under plain
        # SGD this is exactly L2 with strength rate / 2: w - lr*(g + 2λw) = w(1 - 2λ·lr) - lr*g.
        torch._foreach_mul_(list(kernels), 1.0 - lr * rate)

    return Constraint(before_step=shrink)


def _scheduled_decay(p: dict[str, Any]) -> Constraint:
    rate = p["rate"]
    base: list[float] = []  # the run's starting learning rate, from start()

    def begin(lr: float) -> None:
        base[:] = [lr]

    def shrink(kernels: Kernels, lr: float) -> None:
        # Loshchilov & Hutter (2019), Algorithm 2, line 12: θ_t ← θ_{t−1} − η_t(α·m̂/(√v̂ + ε) + λθ_{t−1}).
        # The decay is η_t·λ with η_t the schedule multiplier, lr / α here, and does not scale with
        # α: weight_decay's w·(1 − lr·rate) (torch.optim.AdamW, Keras) is the same update only for
        # rate = λ/α. Applied before the step, on θ_{t−1}, like AdamW; Adam's step does not read θ.
        torch._foreach_mul_(list(kernels), 1.0 - (lr / base[0]) * rate)

    return Constraint(before_step=shrink, start=begin)


def _max_norm(p: dict[str, Any]) -> Constraint:
    limit = p["max_value"]
    peak = NormPeak(limit)

    def clip(kernels: Kernels, lr: float) -> None:
        # Srivastava et al. (2014): each unit's incoming weight vector is a row of a PyTorch
        # kernel (out_features x in_features); rows longer than `limit` are scaled back to it.
        # Their norms are taken first for the records: one more read of the kernels per step.
        peak.observe(kernels)
        for kernel in kernels:
            kernel.renorm_(p=2, dim=0, maxnorm=limit)

    return Constraint(after_step=clip, peak=peak)
