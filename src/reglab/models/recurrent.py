"""Recurrent networks (`model = "lstm"` or `"gru"`) that read an image row by row: an H x W image
is a sequence of H steps of W pixels (28 of 28 for MNIST, 8 of 8 for digits). The data stay flat
(B, H*W) on the device, as for the MLP; the model views them as (B, H, W).

    per recurrent layer l (`hidden[l]` units; both directions with bidirectional = true):
        the whole sequence, as Keras's LSTM/GRU with return_sequences, [dropout after it]
    logits = Dense(the last layer's output at the last step)       (Keras: return_sequences=False)

The cells are Keras's, written out so that a dropout mask can act on the recurrent state:
- LSTM (gates i, f, c, o): one bias per gate, as Keras (PyTorch's nn.LSTM has two, b_ih and b_hh,
  whose sum is this one). Parameters per direction: 4*(units*(units + inputs) + units).
- GRU (gates z, r, h), Keras 3's default reset_after=True: an input bias and a recurrent bias,
  the reset gate applied after the recurrent product. Parameters: 3*(units*(units + inputs) + 2*units).
The variant's `activation` is the cell's (Keras's `activation`, tanh there by default); the gates
use the sigmoid. Kernels are stored as PyTorch's (gates*units, inputs): Keras's kernel transposed.

Initialization, drawn from the run's init generator in layer order: Keras's (Glorot-uniform input
kernels over (inputs, gates*units), orthogonal recurrent kernels, zero biases, and the LSTM's
forget-gate bias 1: `unit_forget_bias`), unless init = "torch_default": then PyTorch's nn.LSTM/GRU
scheme (every weight and bias uniform in +-1/sqrt(units)). The dense head takes the variant's init.

Dropout (the `dropout` technique) acts on each layer's output sequence, a fresh mask per step:
the non-recurrent connections of Zaremba et al. (2014). The recurrent state is dropped only by the
recurrence techniques (techniques/recurrent_dropout.py): `recurrent_dropout`, one mask per sequence
on h(t-1) before the recurrent kernel (Gal & Ghahramani 2016; Keras's recurrent_dropout), and
`naive_recurrent_dropout`, the same place with a fresh mask at every step. The builder names no
technique: it asks the variant's techniques at each layer's Slot("recurrent", "state") and, for its
outputs, Slot("dense", "block_end") (techniques/hooks.py).

Registered as `lstm` and `gru` (models/catalog.py). No stacked form: the fast engine leaves these
variants to the reference loop. No plain PyTorch export (models/portable.py declines it by name).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import skip_init

from reglab.config import VariantSpec
from reglab.models.mlp import KERAS_NAMES, keras_name, layers_at
from reglab.models.registry import SummaryRow
from reglab.techniques import registry
from reglab.techniques.dropout import RecurrentDropout, SeededDropout
from reglab.techniques.hooks import Slot

GATES = {"lstm": 4, "gru": 3}


class RecurrentLayer(nn.Module):
    """One direction of one LSTM or GRU layer, unrolled over the steps (Keras's cell equations)."""

    def __init__(self, kind: str, inputs: int, units: int, activation: nn.Module, reverse: bool,
                 dropout: RecurrentDropout | None):
        super().__init__()
        gates = GATES[kind]
        self.kind, self.units, self.reverse = kind, units, reverse
        self.weight_ih = nn.Parameter(torch.empty(gates * units, inputs))
        self.weight_hh = nn.Parameter(torch.empty(gates * units, units))
        self.bias = nn.Parameter(torch.empty(gates * units))
        # Keras's GRU (reset_after=True) has a second bias inside the reset gate's product.
        self.bias_hh = nn.Parameter(torch.empty(gates * units)) if kind == "gru" else None
        self.activation = activation
        self.recurrent_dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, inputs) -> (B, T, units): the state after each step, in the input's step order."""
        if self.reverse:
            x = x.flip(1)
        steps = x.shape[1]
        projected = torch.nn.functional.linear(x, self.weight_ih, self.bias)  # all steps in one product
        h = x.new_zeros(x.shape[0], self.units)
        c = h
        masks = self.recurrent_dropout.masks(steps, h) if self.recurrent_dropout is not None else None
        outputs = []
        for t in range(steps):
            h_in = h if masks is None else h * masks[0 if masks.shape[0] == 1 else t]
            if self.kind == "lstm":
                i, f, g, o = (projected[:, t] + h_in @ self.weight_hh.T).chunk(4, dim=1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * self.activation(g)
                h = torch.sigmoid(o) * self.activation(c)
            else:
                xz, xr, xh = projected[:, t].chunk(3, dim=1)
                hz, hr, hh = torch.nn.functional.linear(h_in, self.weight_hh, self.bias_hh).chunk(3, dim=1)
                z, r = torch.sigmoid(xz + hz), torch.sigmoid(xr + hr)
                h = z * h + (1 - z) * self.activation(xh + r * hh)
            outputs.append(h)
        out = torch.stack(outputs, dim=1)
        return out.flip(1) if self.reverse else out

    def initialise(self, keras: bool, generator: torch.Generator) -> None:
        with torch.no_grad():
            if not keras:  # PyTorch's nn.LSTM / nn.GRU: everything uniform in +-1/sqrt(units)
                bound = 1.0 / math.sqrt(self.units)
                for p in self.parameters():
                    p.copy_(torch.rand(p.shape, generator=generator) * 2 * bound - bound)
                return
            fan_out, fan_in = self.weight_ih.shape  # Keras's kernel is (inputs, gates*units)
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            self.weight_ih.copy_(torch.rand(self.weight_ih.shape, generator=generator) * 2 * limit - limit)
            self.weight_hh.copy_(orthogonal(self.weight_hh.shape, generator))
            self.bias.zero_()
            if self.bias_hh is not None:
                self.bias_hh.zero_()
            if self.kind == "lstm":
                self.bias[self.units:2 * self.units] = 1.0  # Keras's unit_forget_bias


def orthogonal(shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    """Keras's Orthogonal initializer for its recurrent kernel (units, gates*units), returned
    transposed, (gates*units, units): the Q of a normal matrix's QR with the signs of R's diagonal
    folded in, so that it is uniform over matrices with orthonormal columns (Saxe et al. 2014)."""
    a = torch.randn(shape, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    return (q * torch.sign(torch.diagonal(r))).to(torch.float32)


class Recurrent(nn.Module):
    def __init__(self, kind: str, image_shape: tuple[int, int], layers: list[list[RecurrentLayer]],
                 dropouts: list[nn.Module | None], head: nn.Linear):
        super().__init__()
        self.kind, self.image_shape = kind, tuple(image_shape)
        self.layers = nn.ModuleList(nn.ModuleList(directions) for directions in layers)
        self.dropouts = nn.ModuleList(d if d is not None else nn.Identity() for d in dropouts)
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sequence = x.view(x.shape[0], *self.image_shape)  # (B, H*W) -> (B, steps, features)
        last = len(self.layers) - 1
        for index, (directions, dropout) in enumerate(zip(self.layers, self.dropouts)):
            outputs = [layer(sequence) for layer in directions]
            if index == last:  # Keras's return_sequences=False: forward's last step, backward's first
                final = torch.cat([out[:, 0] if layer.reverse else out[:, -1]
                                   for layer, out in zip(directions, outputs)], dim=1)
                return self.head(dropout(final))
            sequence = dropout(torch.cat(outputs, dim=2))
        raise AssertionError("a recurrent network has at least one layer")

    def regularized_kernels(self) -> list[torch.Tensor]:
        """The input kernels (Keras's `kernel_regularizer` acts on these; recurrent kernels have their
        own `recurrent_regularizer`, not offered), not biases or the output layer's, as the MLP."""
        return [layer.weight_ih for directions in self.layers for layer in directions]

    def set_dropout_generator(self, generator: torch.Generator) -> None:
        for module in self.modules():
            if isinstance(module, SeededDropout):  # RecurrentDropout too
                module.generator = generator

    def summary(self) -> list[SummaryRow]:
        """Keras's model.summary() of Reshape -> [Bidirectional(]LSTM/GRU[)] ... -> Dense."""
        rows, counts = [], {}

        def row(kind: str, class_name: str, shape: str, params: int) -> None:
            counts[kind] = counts.get(kind, 0) + 1
            rows.append(SummaryRow(f"{kind}_{counts[kind]} ({class_name})", shape, params, params))

        steps, features = self.image_shape
        row("reshape", "Reshape", f"(None, {steps}, {features})", 0)
        last = len(self.layers) - 1
        for index, (directions, dropout) in enumerate(zip(self.layers, self.dropouts)):
            width = sum(layer.units for layer in directions)
            shape = f"(None, {width})" if index == last else f"(None, {steps}, {width})"
            params = sum(p.numel() for layer in directions for p in layer.parameters())
            kind, class_name = ("bidirectional", "Bidirectional") if len(directions) == 2 else \
                (self.kind, self.kind.upper())
            row(kind, class_name, shape, params)
            if not isinstance(dropout, nn.Identity):
                row(*keras_name(dropout, KERAS_NAMES), shape, 0)
        row("dense", "Dense", f"(None, {self.head.out_features})", sum(p.numel() for p in self.head.parameters()))
        return rows


def build(variant: VariantSpec, image_shape: tuple[int, int], classes: int,
          init_generator: torch.Generator | None) -> Recurrent:
    """The registry's builder for `lstm` and `gru`. Weights are drawn on the CPU from
    `init_generator` in layer order (each layer's forward then backward direction, then the head);
    None leaves them uninitialised, for a caller that fills them (models/restore.py)."""
    kind = variant.model
    activation = registry.lookup("activation", variant.activation.name)
    directions = 2 if variant.model_param("bidirectional") else 1
    techniques = [runtime for _, runtime in registry.built(variant)]
    layers, dropouts, inputs = [], [], image_shape[1]  # each step reads one row of W pixels
    for index, units in enumerate(variant.hidden):
        # Each direction asks for its own state dropout (at most one technique answers: the check).
        layers.append([RecurrentLayer(kind, inputs, units, activation.build(dict(variant.activation.params)),
                                      reverse=bool(d),
                                      dropout=next(iter(layers_at(techniques, Slot("recurrent", "state", index, units))),
                                                   None))
                       for d in range(directions)])
        inputs = units * directions
        # The layer's outputs are a dense block's end for the techniques: dropout there (Zaremba et al.).
        dropouts.append(next(iter(layers_at(techniques, Slot("dense", "block_end", index, inputs))), None))
    head = skip_init(nn.Linear, inputs, classes)  # not drawn from torch's global generator
    model = Recurrent(kind, image_shape, layers, dropouts, head)
    if init_generator is not None:
        keras = variant.init.name != "torch_default"
        for directions_ in model.layers:
            for layer in directions_:
                layer.initialise(keras, init_generator)
        registry.lookup("init", variant.init.name).build(dict(variant.init.params))(head, init_generator)
    return model
