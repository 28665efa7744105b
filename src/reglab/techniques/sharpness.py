"""Sharpness-aware minimization (Foret et al. 2021, "Sharpness-Aware Minimization for Efficiently
Improving Generalization"), Algorithm 1: each step takes the gradient g at w, moves to the worst
nearby point w + e with e = rho * g / ||g|| (||g|| over every trainable tensor), takes the gradient
there, comes back to w, and lets the variant's optimizer step with that second gradient. Two
forward and backward passes per step. `adaptive` is ASAM's scaling (Kwon et al. 2021): e = rho *
w² g / ||w g||, as the authors' reference implementation (github.com/davda54/sam) writes it.

Both passes see the step's batch; a technique that transforms batches (augmentation, mixup) draws
again for the second pass, as dropout does, and batch normalization's running statistics move on
both. The run records the loss and accuracy of the first pass, at w. Declared without torch in
catalog.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from reglab.techniques.hooks import Context, Hooks, Weights


class SAM(Hooks):
    def __init__(self, p: dict[str, Any]):
        self.rho, self.adaptive = p["rho"], p["adaptive"]

    def step_gradients(self, compute: Callable[[], Any], weights: Weights, ctx: Context) -> Any:
        first = compute()
        with torch.no_grad():
            params = [p for p in weights.parameters if p.grad is not None]
            grads = [p.grad for p in params]
            if self.adaptive:
                grads = torch._foreach_mul(grads, torch._foreach_abs(params))
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            moves = torch._foreach_mul(grads, self.rho / (norm + 1e-12))
            if self.adaptive:
                torch._foreach_mul_(moves, torch._foreach_abs(params))
            torch._foreach_add_(params, moves)
        compute()  # the gradient at w + e, left in .grad for the optimizer
        with torch.no_grad():
            torch._foreach_sub_(params, moves)
        return first
