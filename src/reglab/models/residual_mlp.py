"""A residual multilayer perceptron with pre-norm blocks (the "ResNet" of Gorishniy et al. 2021,
"Revisiting Deep Learning Models for Tabular Data", with layer normalization):

    x = Linear(inputs -> width)                                   the stem
    per block l:  x = x + Linear(act(Linear(LayerNorm(x))))      [dropout after act, stochastic depth on the branch]
    logits = Linear(act(LayerNorm(x)) -> classes)                 the head

`width` is the residual stream's width; `hidden` lists each block's inner width (one block per
entry). Normalization is part of the architecture (pre-norm: each branch sees a normalized input,
while the stream itself is never normalized, so a block can pass its input through unchanged),
which is why the batch_norm and layer_norm switches do not apply to it. Penalties and constraints
act on every kernel but the output layer's, as for the MLP.

Registered as the architecture `resmlp` (models/catalog.py). The fast engine has no stacked form
of it: its variants train in the reference loop.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import skip_init

from reglab.config import VariantSpec
from reglab.models.mlp import KERAS_NAMES, SeededDropout, keras_name
from reglab.models.registry import SummaryRow
from reglab.techniques import registry
from reglab.techniques.stochastic_depth import block_rates


class StochasticDepth(SeededDropout):
    """Drops a residual branch whole (techniques/stochastic_depth.py): one draw per mini-batch
    (`batch`) or per example (`row`), from the run's dropout generator, kept branches scaled by 1/(1 - rate)."""

    def __init__(self, rate: float, mode: str):
        super().__init__(rate)
        self.mode = mode

    def noise_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (1 if self.mode == "batch" else x.shape[0],) + (1,) * (x.dim() - 1)

    def extra_repr(self) -> str:
        return f"rate={self.rate}, mode={self.mode}"


class ResidualBlock(nn.Module):
    def __init__(self, width: int, inner: int, activation: nn.Module, dropout: float, depth: StochasticDepth | None):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.inner = skip_init(nn.Linear, width, inner)
        self.activation = activation
        self.dropout = SeededDropout(dropout) if dropout > 0 else None
        self.outer = skip_init(nn.Linear, inner, width)
        self.depth = depth

    def branch_layers(self) -> list[nn.Module]:
        return [m for m in (self.norm, self.inner, self.activation, self.dropout, self.outer, self.depth) if m is not None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for layer in self.branch_layers():
            h = layer(h)
        return x + h


class ResidualMLP(nn.Module):
    def __init__(self, stem: nn.Linear, blocks: list[ResidualBlock], head: list[nn.Module], input_dim: int):
        super().__init__()
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(*head)
        self.input_dim = input_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def layer_sequence(self) -> list[tuple[str, nn.Module]]:
        """The stem, each residual block (x + its branch), the head, in forward order with their
        state_dict prefixes: the plain form an exported model takes (models/portable.py)."""
        return [("stem", self.stem), *((f"blocks.{i}", block) for i, block in enumerate(self.blocks)),
                *((f"head.{i}", module) for i, module in enumerate(self.head))]

    def linears(self) -> list[nn.Linear]:
        """Every dense layer in layer order: the stem, each block's two, the output."""
        inner = [layer for block in self.blocks for layer in (block.inner, block.outer)]
        return [self.stem, *inner, self.head[-1]]

    def regularized_kernels(self) -> list[torch.Tensor]:
        """Every dense kernel but the output layer's (as the MLP); not biases or norm scales."""
        return [layer.weight for layer in self.linears()[:-1]]

    def set_dropout_generator(self, generator: torch.Generator) -> None:
        for module in self.modules():
            if isinstance(module, SeededDropout):  # StochasticDepth too
                module.generator = generator

    def summary(self) -> list[SummaryRow]:
        """Keras's model.summary() of the same functional model: each layer in order, and an Add row
        where a block's branch joins the stream."""
        rows, counts = [], {}

        def row(module: nn.Module, width: int) -> None:
            kind, class_name = keras_name(module, RESIDUAL_KERAS_NAMES)
            counts[kind] = counts.get(kind, 0) + 1
            trainable = sum(p.numel() for p in module.parameters())
            rows.append(SummaryRow(f"{kind}_{counts[kind]} ({class_name})", f"(None, {width})", trainable, trainable))

        stream = self.stem.out_features
        layers = [self.stem, *(layer for block in self.blocks for layer in (*block.branch_layers(), _Add())), *self.head]
        width = stream
        for layer in layers:
            # A dense layer sets the width; the rest keep it, and an Add joins the stream again.
            width = layer.out_features if isinstance(layer, nn.Linear) else stream if isinstance(layer, _Add) else width
            row(layer, width)
        return rows


class _Add(nn.Module):
    """Only a summary row: where Keras's functional model has an Add layer."""


RESIDUAL_KERAS_NAMES = {**KERAS_NAMES, StochasticDepth: ("stochastic_depth", "StochasticDepth"), _Add: ("add", "Add")}


def build(variant: VariantSpec, image_shape: tuple[int, int], classes: int,
          init_generator: torch.Generator | None) -> ResidualMLP:
    """The registry's builder. Dense kernels are drawn from `init_generator` in layer order (stem,
    each block's inner and outer, output) with the variant's init; None leaves them uninitialised."""
    activation = registry.lookup("activation", variant.activation.name)
    make_activation = lambda: activation.build(dict(variant.activation.params))  # noqa: E731
    initialise = registry.lookup("init", variant.init.name).build(dict(variant.init.params))
    width, inputs = variant.model_param("width"), image_shape[0] * image_shape[1]
    depth = variant.switch("stochastic_depth")
    depth_rates = block_rates(dict(depth.params), len(variant.hidden)) if depth else (0.0,) * len(variant.hidden)
    blocks = [ResidualBlock(width, inner, make_activation(), dropout,
                            StochasticDepth(rate, depth["mode"]) if depth and rate > 0 else None)
              for inner, dropout, rate in zip(variant.hidden, variant.dropout_rates(), depth_rates)]
    head = [nn.LayerNorm(width), make_activation(), skip_init(nn.Linear, width, classes)]
    model = ResidualMLP(skip_init(nn.Linear, inputs, width), blocks, head, inputs)
    if init_generator is not None:
        for linear in model.linears():
            initialise(linear, init_generator)
    return model
