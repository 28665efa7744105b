"""Gradient clipping with Keras 3's three options and formulas (keras/src/optimizers/base_optimizer.py),
applied to every trainable tensor's gradient after the penalties have added theirs (Keras clips
the gradient of the whole loss, regularization losses included):

- clipnorm: each tensor's gradient alone, g * c / max(||g||, c);
- global_clipnorm: all of them together, g * c * min(1/||G||, 1/c), ||G|| the norm of all of them
  (torch.nn.utils.clip_grad_norm_, but without its 1e-6 in the denominator);
- clipvalue: each element into [-c, c] (torch.nn.utils.clip_grad_value_).

Keras allows one of the three per optimizer, as the one `mode` here does. Declared without torch
in catalog.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from reglab.techniques.hooks import Context, Hooks, Weights


def clip_(grads: Sequence[torch.Tensor], mode: str, limit: float) -> None:
    """Clip `grads` in place as Keras's optimizer does with clipnorm, global_clipnorm or clipvalue."""
    if not grads:
        return
    if mode == "clipvalue":
        torch._foreach_clamp_min_(grads, -limit)
        torch._foreach_clamp_max_(grads, limit)
        return
    norms = torch.stack(torch._foreach_norm(grads))
    if mode == "clipnorm":
        torch._foreach_mul_(grads, list((limit / torch.clamp(norms, min=limit)).unbind()))
    else:  # global_clipnorm; a non-finite norm gives NaN gradients, as Keras's (the run then diverges)
        total = torch.linalg.vector_norm(norms)
        torch._foreach_mul_(grads, limit * torch.minimum(1.0 / total, torch.tensor(1.0 / limit, device=total.device)))


class GradientClipping(Hooks):
    def __init__(self, p: dict[str, Any]):
        self.mode, self.limit = p["mode"], p["limit"]

    def gradients(self, weights: Weights, ctx: Context) -> None:
        clip_([p.grad for p in weights.parameters if p.grad is not None], self.mode, self.limit)
        return None  # it adds nothing to the objective
