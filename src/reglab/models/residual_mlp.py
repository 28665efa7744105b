"""A residual multilayer perceptron with pre-norm blocks (the "ResNet" of Gorishniy et al. 2021,
"Revisiting Deep Learning Models for Tabular Data", with layer normalization):

    x = Linear(inputs -> width)                                   the stem
    per block l:  x = x + Linear(act(Linear(LayerNorm(x))))      [dropout after act, stochastic depth on the branch]
    logits = Linear(act(LayerNorm(x)) -> classes)                 the head

`width` is the residual stream's width; `hidden` lists each block's inner width (one block per
entry). The variant's techniques are asked at each block's slots (techniques/hooks.py): the inner
layer's as a dense block's (Slot("dense", ..., block, inner width): dropout at its block_end,
after the activation), and the branch's end (Slot("residual", "branch_end", block, width, count):
stochastic depth). Normalization is part of the architecture (pre-norm: each branch sees a normalized input,
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
from reglab.models.mlp import KERAS_NAMES, keras_name, layers_at
from reglab.models.registry import SummaryRow
from reglab.techniques import registry
from reglab.techniques.dropout import SeededDropout
from reglab.techniques.hooks import Slot


class ResidualBlock(nn.Module):
    def __init__(self, width: int, inner: int, branch: list[nn.Module]):
        super().__init__()
        # The branch in order: LayerNorm, the inner Linear, what the techniques put around the
        # activation, the outer Linear, then what they put at the branch's end.
        self.branch = nn.Sequential(*branch)

    @property
    def inner(self) -> nn.Linear:
        return next(m for m in self.branch if isinstance(m, nn.Linear))

    @property
    def outer(self) -> nn.Linear:
        # Properties, not attributes: an attribute would register the layer twice in the state_dict.
        return [m for m in self.branch if isinstance(m, nn.Linear)][-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)


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
            if isinstance(module, SeededDropout):  # SeededBranchDrop too
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
        layers = [self.stem, *(layer for block in self.blocks for layer in (*block.branch, _Add())), *self.head]
        width = stream
        for layer in layers:
            # A dense layer sets the width; the rest keep it, and an Add joins the stream again.
            width = layer.out_features if isinstance(layer, nn.Linear) else stream if isinstance(layer, _Add) else width
            row(layer, width)
        return rows


class _Add(nn.Module):
    """Only a summary row: where Keras's functional model has an Add layer."""


RESIDUAL_KERAS_NAMES = {**KERAS_NAMES, _Add: ("add", "Add")}


def build(variant: VariantSpec, image_shape: tuple[int, int], classes: int,
          init_generator: torch.Generator | None) -> ResidualMLP:
    """The registry's builder. Dense kernels are drawn from `init_generator` in layer order (stem,
    each block's inner and outer, output) with the variant's init; None leaves them uninitialised."""
    activation = registry.lookup("activation", variant.activation.name)
    initialise = registry.lookup("init", variant.init.name).build(dict(variant.init.params))
    techniques = [runtime for _, runtime in registry.built(variant)]
    width, inputs, count = variant.model_param("width"), image_shape[0] * image_shape[1], len(variant.hidden)
    blocks = []
    for index, inner in enumerate(variant.hidden):
        # skip_init: nn.Linear's own initialisation would be drawn only to be overwritten below.
        branch = [nn.LayerNorm(width), skip_init(nn.Linear, width, inner),
                  *layers_at(techniques, Slot("dense", "pre_activation", index, inner)),
                  activation.build(dict(variant.activation.params)),
                  *layers_at(techniques, Slot("dense", "post_activation", index, inner)),
                  *layers_at(techniques, Slot("dense", "block_end", index, inner)),
                  skip_init(nn.Linear, inner, width),
                  *layers_at(techniques, Slot("residual", "branch_end", index, width, count))]
        blocks.append(ResidualBlock(width, inner, branch))
    head = [nn.LayerNorm(width), activation.build(dict(variant.activation.params)), skip_init(nn.Linear, width, classes)]
    model = ResidualMLP(skip_init(nn.Linear, inputs, width), blocks, head, inputs)
    if init_generator is not None:
        for linear in model.linears():
            initialise(linear, init_generator)
    return model
