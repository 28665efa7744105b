"""Dropout's layers and runtime objects (declared without torch in techniques/layers.py).

The layers draw their masks from an explicit generator (the run's "dropout" stream), so that a
run's masks are a function of its seed alone and the fast engine's stacked networks can draw the
very same masks (engine/stacked_mlp.py, engine/stacked_cnn.py draw these layers themselves).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from reglab.techniques.hooks import Hooks, Slot


class SeededDropout(nn.Module):
    """Inverted dropout whose masks come from an explicit generator.
    Keeps unit i with probability 1 - rate and scales kept units by 1 / (1 - rate)."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        noise = torch.rand(self.noise_shape(x), generator=self.generator, device=x.device, dtype=x.dtype)
        # The mask, already scaled, is built in place in the noise's memory: one product with x
        # is the only step autograd sees (a bool mask times x would convert it twice a step).
        return x * noise.ge_(self.rate).mul_(1.0 / (1.0 - self.rate))

    def noise_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        """One draw per unit (Keras's noise_shape: which units share a draw)."""
        return tuple(x.shape)

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


class SeededSpatialDropout(SeededDropout):
    """Spatial dropout (Keras SpatialDropout2D, PyTorch Dropout2d): drops whole feature maps, one
    draw per (image, channel), from an explicit generator as SeededDropout does."""

    def noise_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (x.shape[0], x.shape[1], 1, 1)


class SeededBranchDrop(SeededDropout):
    """Stochastic depth's layer (techniques/stochastic_depth.py): drops a residual branch whole,
    one draw per mini-batch (`batch`) or per example (`row`), kept branches scaled by 1/(1 - rate)."""

    keras_name = ("stochastic_depth", "StochasticDepth")  # keras_cv's layer (models.mlp.keras_name)

    def __init__(self, rate: float, mode: str):
        super().__init__(rate)
        self.mode = mode

    def noise_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (1 if self.mode == "batch" else x.shape[0],) + (1,) * (x.dim() - 1)

    def extra_repr(self) -> str:
        return f"rate={self.rate}, mode={self.mode}"


def _rate(rate: float | tuple[float, ...], index: int) -> float:
    # One rate for every slot, or one per slot (the study loader checked the count).
    return rate[index] if isinstance(rate, tuple) else rate


class Dropout(Hooks):
    """Dropout at the end of every dense block (and a CNN's flattened features): a layer where the
    slot's rate is above 0."""

    def __init__(self, p: dict[str, Any]):
        self.rate = p["rate"]

    def layer(self, slot: Slot) -> nn.Module | None:
        if slot.block != "dense" or slot.where != "block_end":
            return None
        rate = _rate(self.rate, slot.index)
        return SeededDropout(rate) if rate > 0 else None


class SpatialDropout(Dropout):
    """Spatial dropout at the end of every conv block (after its pooling)."""

    def layer(self, slot: Slot) -> nn.Module | None:
        if slot.block != "conv" or slot.where != "block_end":
            return None
        rate = _rate(self.rate, slot.index)
        return SeededSpatialDropout(rate) if rate > 0 else None


class RecurrentDropout(SeededDropout):
    """Masks for the recurrent state h(t-1) of one recurrent layer's direction (models/recurrent.py
    asks for them once per forward pass): `per_sequence` draws one (batch, units) mask and uses it
    at every step (variational, Gal & Ghahramani 2016); otherwise one per step (naive). Kept units
    are scaled by 1/(1 - rate), as inverted dropout."""

    def __init__(self, rate: float, per_sequence: bool):
        super().__init__(rate)
        self.per_sequence = per_sequence

    def masks(self, steps: int, like: torch.Tensor) -> torch.Tensor | None:
        """(steps or 1, batch, units) masks for a state shaped like `like`; None when it does not act."""
        if not self.training or self.rate == 0.0:
            return None
        shape = (1 if self.per_sequence else steps, *like.shape)
        noise = torch.rand(shape, generator=self.generator, device=like.device, dtype=like.dtype)
        return noise.ge_(self.rate).mul_(1.0 / (1.0 - self.rate))

    def extra_repr(self) -> str:
        return f"rate={self.rate}, per_sequence={self.per_sequence}"


class VariationalRecurrentDropout(Hooks):
    """`recurrent_dropout` (techniques/recurrent_dropout.py): one mask per sequence at every
    recurrent layer's state slot."""

    per_sequence = True

    def __init__(self, p: dict[str, Any]):
        self.rate = p["rate"]

    def layer(self, slot: Slot) -> nn.Module | None:
        if slot.block != "recurrent" or slot.where != "state" or self.rate == 0:
            return None
        return RecurrentDropout(self.rate, self.per_sequence)


class NaiveRecurrentDropout(VariationalRecurrentDropout):
    """`naive_recurrent_dropout`: a fresh mask at every step, at the same slot."""

    per_sequence = False
