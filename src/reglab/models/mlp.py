"""The multilayer perceptron of the tutorial, built from a variant's spec.

Layers per hidden block: Linear -> [pre_activation] -> activation -> [post_activation] ->
[block_end], where the variant's techniques insert their layers (techniques/hooks.py `Slot`):
normalization before the activation by default, as the tutorial describes it, dropout at the end. Logits come out; the softmax of
the Keras model is folded into the cross-entropy loss (the same function, computed stably).

Registered as the architecture `mlp` (models/registry.py), the default of every variant.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import skip_init

from reglab.config import VariantSpec
from reglab.models.registry import SummaryRow
from reglab.techniques import registry
from reglab.techniques.dropout import SeededDropout
from reglab.techniques.hooks import Slot


def layers_at(techniques: list, slot: Slot) -> list[nn.Module]:
    """What the variant's techniques insert at `slot` (techniques/hooks.py), in their order."""
    return [layer for layer in (runtime.layer(slot) for runtime in techniques) if layer is not None]


class MLP(nn.Module):
    def __init__(self, layers: list[nn.Module], input_dim: int = 0):
        super().__init__()
        self.layers = nn.Sequential(*layers)
        self.input_dim = input_dim  # for the summary's output shapes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def linears(self) -> list[nn.Linear]:
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def layer_sequence(self) -> list[tuple[str | None, nn.Module]]:
        """Every layer in the order forward() applies them, with its state_dict prefix: the
        plain nn.Sequential form an exported model takes (models/portable.py)."""
        return [(f"layers.{i}", module) for i, module in enumerate(self.layers)]

    def regularized_kernels(self) -> list[torch.Tensor]:
        """The weights that L1/L2 penalise: every Linear kernel but the output layer's (as the tutorial)."""
        return [layer.weight for layer in self.linears()[:-1]]

    hidden_kernels = regularized_kernels

    def summary(self) -> list[SummaryRow]:
        return summarize(self, self.input_dim)

    def set_dropout_generator(self, generator: torch.Generator) -> None:
        for module in self.layers:
            if isinstance(module, SeededDropout):
                module.generator = generator


def build_mlp(variant: VariantSpec, input_dim: int, classes: int, init_generator: torch.Generator | None) -> MLP:
    """Weights are drawn on the CPU from `init_generator` in layer order, so the same seed gives
    the same weights on any device and for every variant with the same `init_key()`. With None
    the Linear layers are left uninitialised, for a caller that fills them itself."""
    activation = registry.lookup("activation", variant.activation.name)
    initialise = registry.lookup("init", variant.init.name).build(dict(variant.init.params))
    techniques = [runtime for _, runtime in registry.built(variant)]
    layers: list[nn.Module] = []
    width_in = input_dim
    for index, width in enumerate(variant.hidden):
        # skip_init: nn.Linear's own initialisation would be drawn (from torch's global generator)
        # only to be overwritten below.
        layers.append(skip_init(nn.Linear, width_in, width))
        layers += layers_at(techniques, Slot("dense", "pre_activation", index, width))
        layers.append(activation.build(dict(variant.activation.params)))
        layers += layers_at(techniques, Slot("dense", "post_activation", index, width))
        layers += layers_at(techniques, Slot("dense", "block_end", index, width))
        width_in = width
    layers.append(skip_init(nn.Linear, width_in, classes))
    model = MLP(layers, input_dim)
    if init_generator is not None:
        for linear in model.linears():
            initialise(linear, init_generator)
    return model


# Keras's layer names and classes (dense_1 (Dense), not PyTorch's Linear or our SeededDropout);
# models/cnn.py extends the table with its own layers.
KERAS_NAMES: dict[type, tuple[str, str]] = {
    nn.Linear: ("dense", "Dense"), SeededDropout: ("dropout", "Dropout"),
    nn.BatchNorm1d: ("batch_normalization", "BatchNormalization"),
    nn.LayerNorm: ("layer_normalization", "LayerNormalization")}


def keras_name(module: nn.Module, names: dict[type, tuple[str, str]] = KERAS_NAMES) -> tuple[str, str]:
    """A layer's name stem and class as Keras's summary prints them: from the table, else the
    layer's own `keras_name` (a technique's layer says it: gaussian_noise, GaussianNoise), else
    its class name, which activations have in Keras too (relu_1 (ReLU))."""
    default = getattr(module, "keras_name", None) or (type(module).__name__.lower(), type(module).__name__)
    return names.get(type(module), default)


def summarize(model: MLP, input_dim: int | None = None) -> list[SummaryRow]:
    """Like Keras's model.summary(): one row per layer with its output shape and parameters."""
    rows = []
    width = input_dim if input_dim is not None else model.input_dim
    counts: dict[str, int] = {}
    for module in model.layers:
        kind, class_name = keras_name(module)
        counts[kind] = counts.get(kind, 0) + 1
        if isinstance(module, nn.Linear):
            width = module.out_features
        trainable = sum(p.numel() for p in module.parameters())
        statistics = sum(b.numel() for b in module.buffers() if b.is_floating_point())
        rows.append(SummaryRow(f"{kind}_{counts[kind]} ({class_name})", f"(None, {width})",
                               trainable + statistics, trainable))
    return rows


# The architecture's declaration (keys, cost, stack key, ...) is in models/catalog.py, torch-free.


def build(variant: VariantSpec, image_shape: tuple[int, int], classes: int,
          init_generator: torch.Generator | None) -> MLP:
    """The registry's builder: the MLP for flattened images of `image_shape`."""
    return build_mlp(variant, image_shape[0] * image_shape[1], classes, init_generator)
