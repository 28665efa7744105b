"""Hidden-layer activations for the MLP."""

from __future__ import annotations

from typing import Any

from torch import nn

from reglab.techniques.registry import Technique, register


def _simple(module: type[nn.Module]) -> Any:
    return lambda p: module()


for _name, _module, _en, _ja in (
    ("relu", nn.ReLU, "max(0, x)", "ReLU: max(0, x)"),
    ("tanh", nn.Tanh, "hyperbolic tangent", "双曲線正接 tanh"),
    ("sigmoid", nn.Sigmoid, "1 / (1 + exp(-x))", "シグモイド 1/(1+e^(−x))"),
    ("gelu", nn.GELU, "Gaussian error linear unit (exact erf form)", "GELU"),
    ("elu", nn.ELU, "x if x > 0 else exp(x) - 1", "ELU"),
):
    register(Technique(_name, "activation", _en, _ja, (), _simple(_module)))
