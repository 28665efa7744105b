"""Hidden-layer activations for the MLP (declared in techniques/catalog.py)."""

from __future__ import annotations

from typing import Any

from torch import nn


def _simple(module: type[nn.Module]) -> Any:
    return lambda p: module()


_relu, _tanh, _sigmoid, _gelu, _elu = map(_simple, (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.ELU))
