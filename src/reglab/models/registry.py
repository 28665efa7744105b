"""The registry of architectures: what a variant's `model = "..."` names.

An architecture is a small declaration registered once (models/catalog.py, torch-free, as the
techniques' catalog), whose network lives in its own module (models/mlp.py, models/cnn.py). It
gives what the rest of reglab asks of a model, so that no other module assumes an MLP:

- its own study keys (`conv` for a CNN) with their checks, validated with the rest of the study;
- which switch techniques do not apply to it, and why (a clear error, not a silent no-op);
- how many places dropout has (one rate per hidden layer of an MLP; a CNN adds its flattened features);
- `build`: an nn.Module whose weights are drawn from a generator, in layer order (`builder`
  names the function by import path: the study loader never imports torch);
- `fits`: whether the network fits the data's images (convolutions and pooling shrink them);
- `cost`: multiply-adds and random draws per example and epoch, for the scheduler's order;
- `parameters` / `activations`: trainable numbers and per-example layer outputs (the memory model);
- `init_key`: variants with equal keys start from the same weights for a seed;
- `stack_key` / `stacked`: the fast engine's stacked form, or None where there is none.

The built model answers the rest itself (models.mlp.MLP, models.cnn.CNN): `regularized_kernels()`
(what penalties and constraints act on: kernels, never biases or norm scales), `summary()` (Keras's
model.summary() rows with output shapes) and `set_dropout_generator()`.

This module and the catalog import no torch: the study loader reads them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from reglab.config import VariantSpec

DEFAULT = "mlp"


@dataclass(frozen=True)
class ModelKey:
    """A study key that only one architecture reads (a CNN's `conv`). `check` returns (the value,
    normalised and hashable, None) or (None, a message saying what is wrong and how to fix it);
    `to_json` turns the normalised value back into what the study file writes."""

    name: str
    doc: str
    check: Callable[[Any], tuple[Any, str | None]]
    to_json: Callable[[Any], Any]
    default: Any = None  # None: the key is required


@dataclass(frozen=True)
class SummaryRow:
    layer: str
    output_shape: str
    params: int  # as Keras counts them: trainable weights plus running statistics
    trainable: int


@dataclass(frozen=True)
class Architecture:
    name: str
    summary_en: str
    summary_ja: str
    keys: tuple[ModelKey, ...]
    # Switch techniques that do not apply to this architecture -> why, shown to the user.
    refuses: Mapping[str, str]
    # The smallest number of dense hidden layers (an MLP needs one; a CNN's head may have none).
    min_hidden: int
    dropout_slots: Callable[[VariantSpec], int]
    builder: str  # "module:function"(variant, image_shape, classes, init_generator) -> nn.Module
    fits: Callable[[VariantSpec, tuple[int, int]], str | None]  # None, or why it does not fit
    cost: Callable[[VariantSpec, tuple[int, int], int], float]
    # Trainable numbers of the built network (weights, biases, norm scales and shifts), and the
    # numbers a forward pass keeps per example (each layer's outputs): the memory model's terms
    # (cost/memory_model.py), so that it assumes no MLP. (variant, image_shape, classes) -> int.
    parameters: Callable[[VariantSpec, tuple[int, int], int], int]
    activations: Callable[[VariantSpec, tuple[int, int], int], int]
    init_key: Callable[[VariantSpec], tuple]
    stack_key: Callable[[VariantSpec], tuple | None]
    stacker: str | None = None  # "module:Class"(models, variants, device): the fast engine's stacked form
    # Whether the network reads 2-D images (convolutions): a flat vector of inputs that is not a
    # square cannot be given to it (models.summaries, `reglab summary --input-dim`).
    needs_images: bool = False
    # Checks across a variant's keys once it is built (rates per conv block, ...); returns problems.
    check: Callable[[VariantSpec], list[str]] = lambda variant: []
    # A small network of this architecture as a variant's keys would give it: what the conformance
    # suite trains every technique on (tests/techniques/test_conformance.py) and the docs show.
    example: Mapping[str, Any] = field(default_factory=dict)

    def key(self, name: str) -> ModelKey | None:
        return next((k for k in self.keys if k.name == name), None)

    def build(self, variant: VariantSpec, image_shape: tuple[int, int], classes: int,
              init_generator: torch.Generator | None) -> Any:
        return _imported(self.builder)(variant, image_shape, classes, init_generator)

    def stacked(self, models: Sequence[Any], variants: Sequence[VariantSpec], device: torch.device) -> Any:
        assert self.stacker is not None, f"{self.name} has no stacked form"
        return _imported(self.stacker)(models, variants, device)


def _imported(path: str) -> Any:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


_REGISTRY: dict[str, Architecture] = {}


def register(architecture: Architecture) -> Architecture:
    if architecture.name in _REGISTRY:
        raise ValueError(f"architecture {architecture.name} registered twice")
    _REGISTRY[architecture.name] = architecture
    return architecture


def architectures() -> dict[str, Architecture]:
    # Complete: the package's __init__ imports models/catalog.py, which registers every entry,
    # before anything can import this module.
    return dict(_REGISTRY)


def lookup(name: str) -> Architecture:
    return architectures()[name]


def all_keys() -> tuple[str, ...]:
    """Every architecture's own keys: allowed in a variant or [defaults], checked against its model."""
    return tuple(sorted({k.name for a in architectures().values() for k in a.keys}))

