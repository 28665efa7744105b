"""Penalties added to the loss. Keras semantics, as in the tutorial: `l1(λ)` adds λ·Σ|w| and
`l2(λ)` adds λ·Σw² (no 1/2) for the kernels of the hidden layers; biases and the output layer
are not penalised. PyTorch's `weight_decay` argument is a different constant (λ/2 in this form)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from reglab.techniques.params import Param
from reglab.techniques.registry import Technique, register

Penalty = Callable[[Sequence[torch.Tensor]], torch.Tensor]


def _l1(p: dict[str, Any]) -> Penalty:
    strength = p["strength"]
    return lambda kernels: strength * sum(w.abs().sum() for w in kernels)


def _l2(p: dict[str, Any]) -> Penalty:
    strength = p["strength"]
    return lambda kernels: strength * sum(w.square().sum() for w in kernels)


def strength(doc: str) -> Param:
    return Param("strength", "float", 0.001, doc, low=0.0)


register(Technique(
    "l1", "penalty", "L1 penalty λ·Σ|w| on hidden kernels: pushes weights to exactly zero (sparsity)",
    "L1 正則化: 損失に λΣ|w| を加え、重みを 0 に近づけスパースにする",
    (strength("λ in λ·Σ|w|"),), _l1, shorthand="strength",
))
register(Technique(
    "l2", "penalty", "L2 penalty λ·Σw² on hidden kernels (Keras l2: no 1/2): shrinks large weights",
    "L2 正則化: 損失に λΣw² を加え、大きな重みを抑える（重み減衰）",
    (strength("λ in λ·Σw²"),), _l2, shorthand="strength",
))


def _l1_l2(p: dict[str, Any]) -> Penalty:
    l1, l2 = _l1({"strength": p["l1"]}), _l2({"strength": p["l2"]})
    return lambda kernels: l1(kernels) + l2(kernels)


register(Technique(
    "l1_l2", "penalty", "Both penalties at once (Keras L1L2): λ1·Σ|w| + λ2·Σw² (elastic net)",
    "L1 と L2 の併用（Elastic Net）: λ1Σ|w| + λ2Σw²",
    (Param("l1", "float", 0.001, "λ1 in λ1·Σ|w|", low=0.0), Param("l2", "float", 0.001, "λ2 in λ2·Σw²", low=0.0)),
    _l1_l2,
))
