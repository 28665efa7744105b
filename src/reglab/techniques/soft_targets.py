"""Objectives other than plain cross-entropy: label smoothing's runtime object, and the gradient of
cross-entropy with soft targets that the fast engine's hand-derived networks start their backward
pass from (declared without torch in techniques/losses.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from reglab.techniques.hooks import Context, Hooks, Stacked


def loss_gradient(logits: torch.Tensor, y: torch.Tensor, smoothing: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-run mean cross-entropy [R] (the recorded loss), and the gradient of the runs' summed
    objectives with respect to the logits: (softmax − target) / B, where the target is
    (1 − ε)·one_hot + ε/K with each run's label smoothing ε [R] (None: no run smooths), which is
    what F.cross_entropy differentiates to."""
    R, B, classes = logits.shape
    log_p = logits.log_softmax(-1)
    target = y.unsqueeze(-1)
    data_losses = -log_p.gather(-1, target).squeeze(-1).mean(-1)
    d = log_p.exp()
    if smoothing is None:
        d.scatter_add_(-1, target, torch.full((1, 1, 1), -1.0, device=d.device).expand(R, B, 1))
    else:
        d.scatter_add_(-1, target, (smoothing - 1).view(R, 1, 1).expand(R, B, 1))
        d.sub_((smoothing / classes).view(R, 1, 1))
    return data_losses, d.div_(B)


class LabelSmoothing(Hooks):
    """Targets (1 - amount) * one_hot + amount / classes, as Keras's
    CategoricalCrossentropy(label_smoothing=amount) and torch's cross_entropy(label_smoothing=amount)."""

    def __init__(self, p: dict[str, Any]):
        self.amount = p["amount"]

    def objective(self, logits: torch.Tensor, y: torch.Tensor, ctx: Context) -> torch.Tensor | None:
        # 0 is plain cross-entropy: None lets the engine reuse the data loss it computes anyway.
        return F.cross_entropy(logits, y, label_smoothing=self.amount) if self.amount else None


class StackedLabelSmoothing(Stacked):
    """Every run's smoothing in one vector (0 for runs without), for the hand-derived gradient."""

    def __init__(self, per_run: Sequence[Sequence[LabelSmoothing]], device: Any):
        super().__init__(per_run, device)
        amounts = [sum(h.amount for h in own) for own in per_run]
        self.smoothing = (torch.tensor(amounts, dtype=torch.float32, device=device) if any(amounts) else None)

    def loss_gradient(self, logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return loss_gradient(logits, y, self.smoothing)
