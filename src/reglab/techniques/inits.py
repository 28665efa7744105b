"""Weight initialisation of Linear and Conv2d layers. Keras's Dense uses Glorot uniform with zero bias;
PyTorch's Linear uses Kaiming uniform with a=sqrt(5) and a uniform bias. With L1 the PyTorch
default collapses the tutorial's model to chance (DESIGN.md section 3), so Keras-compatible mode
uses Glorot. Every draw takes an explicit generator, so a seed fixes the initial weights.

Fans as Keras computes them: a Dense kernel's fan_in and fan_out are its input and output widths;
a convolution's are multiplied by its receptive field (fan_in = kh·kw·in_channels, fan_out =
kh·kw·out_channels), which is also what PyTorch's own init functions compute.

Names, parameters and descriptions are declared without torch in catalog.py.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


def fans(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a kernel [out, in] or [out, in, kh, kw]."""
    receptive = math.prod(weight.shape[2:])
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def _glorot_uniform(p: dict[str, Any]) -> Any:
    def init(layer: nn.Module, generator: torch.Generator) -> None:
        fan_in, fan_out = fans(layer.weight)
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        with torch.no_grad():
            layer.weight.uniform_(-limit, limit, generator=generator)
            layer.bias.zero_()

    return init


def _he_normal(p: dict[str, Any]) -> Any:
    def init(layer: nn.Module, generator: torch.Generator) -> None:
        # Keras HeNormal draws from a normal truncated at 2 standard deviations.
        fan_in = fans(layer.weight)[0]
        std = math.sqrt(2.0 / fan_in) / 0.87962566103423978  # std of N(0,1) truncated to [-2, 2]
        with torch.no_grad():
            nn.init.trunc_normal_(layer.weight, 0.0, std, -2 * std, 2 * std, generator=generator)
            layer.bias.zero_()

    return init


def _torch_default(p: dict[str, Any]) -> Any:
    def init(layer: nn.Module, generator: torch.Generator) -> None:
        # What nn.Linear's and nn.Conv2d's reset_parameters do, with our generator:
        # U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the kernel and the bias.
        bound = 1.0 / math.sqrt(fans(layer.weight)[0])
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)

    return init
