"""Mixup (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization"): each step trains on
convex combinations of pairs of examples, x = lam*x_i + (1-lam)*x_j, towards the same combination
of their labels, with lam ~ Beta(alpha, alpha) once per batch and j a random permutation of the
batch, as the paper's own code does. The objective is lam*CE(logits, y_i) + (1-lam)*CE(logits,
y_j), which equals cross-entropy with the soft targets lam*onehot(y_i) + (1-lam)*onehot(y_j).
What the run records stays plain cross-entropy and accuracy against y_i, the labels of the batch's
own examples (the engines compute those themselves). Declared without torch in catalog.py.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from scipy.special import betaincinv

from reglab.techniques.hooks import Context, Hooks


def beta(alpha: float, generator: torch.Generator | None, device: torch.device) -> float:
    """One draw of Beta(alpha, alpha) from the run's generator: the inverse of Beta's CDF at one
    uniform draw (torch's Beta sampler takes no generator, and a run's draws must follow its seed)."""
    u = torch.rand((), generator=generator, device=device).item()  # one host sync per step
    return float(betaincinv(alpha, alpha, u))


class Mixup(Hooks):
    def __init__(self, p: dict[str, Any]):
        self.alpha = p["alpha"]
        self.mixed: tuple[float, torch.Tensor] | None = None  # this step's lam and partners' labels

    def pair(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, torch.Tensor]:
        """This step's lam and permutation (one draw each per batch)."""
        lam = beta(self.alpha, self.generator, x.device)
        return lam, torch.randperm(x.shape[0], generator=self.generator, device=x.device)

    def transform_batch(self, x: torch.Tensor, y: torch.Tensor, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        lam, order = self.pair(x, y)
        self.mixed = (lam, y[order])
        return torch.lerp(x[order], x, lam), y

    def objective(self, logits: torch.Tensor, y: torch.Tensor, ctx: Context) -> torch.Tensor:
        lam, partners = self.mixed
        return lam * F.cross_entropy(logits, y) + (1 - lam) * F.cross_entropy(logits, partners)
