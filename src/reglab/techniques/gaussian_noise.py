"""Gaussian noise (Keras's GaussianNoise layer): x + N(0, stddev²) while training, nothing at
evaluation; on the inputs (each training batch's pixels) or on every hidden layer's output after
its activation. Drawn from the run's "noise" stream (inputs) or its dropout stream (the layers,
which the network's set_dropout_generator reaches as it reaches dropout's).
Declared without torch in catalog.py.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from reglab.techniques.dropout import SeededDropout
from reglab.techniques.hooks import Context, Hooks, Slot


class SeededGaussianNoise(SeededDropout):
    """Additive noise with the seeded layers' generator (a SeededDropout that adds instead of masks)."""

    keras_name = ("gaussian_noise", "GaussianNoise")

    def __init__(self, stddev: float):
        super().__init__(0.0)
        self.stddev = stddev

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return x + self.stddev * torch.randn(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)

    def extra_repr(self) -> str:
        return f"stddev={self.stddev}"


class GaussianNoise(Hooks):
    def __init__(self, p: dict[str, Any]):
        self.stddev, self.where = p["stddev"], p["where"]

    def transform_batch(self, x: torch.Tensor, y: torch.Tensor, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        if self.where != "inputs":
            return x, y
        return x + self.stddev * torch.randn(x.shape, generator=self.generator, device=x.device, dtype=x.dtype), y

    def layer(self, slot: Slot) -> nn.Module | None:
        if self.where == "hidden" and slot.block == "dense" and slot.where == "post_activation":
            return SeededGaussianNoise(self.stddev)
        return None
