"""A small convolutional network for single-channel images (28x28 MNIST-like, 8x8 digits).

    conv = [{ filters = 32, kernel_size = 3, padding = "same", pool = 2 }, { filters = 64 }]
    hidden = [128]          # dense widths after the flattened features (may be empty)

Per conv block: Conv2d -> [pre_activation] -> activation -> [post_activation] -> max-pool (if
pool > 1) -> [block_end]; then flatten -> [block_end] -> per hidden width: Linear ->
[pre_activation] -> activation -> [post_activation] -> [block_end]; then the output Linear. The
bracketed places are the slots where the variant's techniques insert their layers
(techniques/hooks.py): batch norm before or after the activation, spatial dropout at a conv
block's end, dropout at a dense one's. With `hidden = []` and dropout 0.5 this
is Keras's MNIST convnet example (conv 32, pool, conv 64, pool, flatten, dropout, dense).

Keras-compatible mode covers it: Glorot-uniform kernels with Keras's fans for a convolution
(fan_in = kh·kw·in_channels, fan_out = kh·kw·out_channels; techniques/inits.py), zero bias, and
the batch_norm technique's Keras momentum and epsilon for BatchNorm2d as for BatchNorm1d.

Penalties and constraints act on every conv kernel and every hidden dense kernel (not the output
layer, as for the MLP); max-norm clips each filter's weights (a conv kernel's dim 0, as Keras's
MaxNorm over the other axes). Layer normalization is refused: over a feature map it is another
technique than the MLP's, and the tutorial does not use it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils import skip_init

from reglab.config import VariantSpec
from reglab.models.mlp import KERAS_NAMES, keras_name, layers_at
from reglab.models.catalog import blocks, feature_sizes
from reglab.models.registry import SummaryRow
from reglab.techniques import registry
from reglab.techniques.dropout import SeededDropout, SeededSpatialDropout
from reglab.techniques.hooks import Slot


class CNN(nn.Module):
    def __init__(self, features: list[nn.Module], head: list[nn.Module], image_shape: tuple[int, int]):
        super().__init__()
        self.features = nn.Sequential(*features)
        self.head = nn.Sequential(*head)
        self.image_shape = tuple(image_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The data stays flat on the device (B, H*W) as for the MLP; a view makes it an image batch.
        h = self.features(x.view(-1, 1, *self.image_shape))
        return self.head(h.flatten(1))

    def layer_sequence(self) -> list[tuple[str | None, nn.Module]]:
        """Every layer in the order forward() applies them, with its state_dict prefix (None for
        the reshapes, which hold no state): the plain nn.Sequential form (models/portable.py)."""
        return [(None, nn.Unflatten(1, (1, *self.image_shape))),
                *((f"features.{i}", module) for i, module in enumerate(self.features)),
                (None, nn.Flatten()), *((f"head.{i}", module) for i, module in enumerate(self.head))]

    def convolutions(self) -> list[nn.Conv2d]:
        return [m for m in self.features if isinstance(m, nn.Conv2d)]

    def linears(self) -> list[nn.Linear]:
        return [m for m in self.head if isinstance(m, nn.Linear)]

    def regularized_kernels(self) -> list[torch.Tensor]:
        """Every conv kernel and hidden dense kernel; not the output layer's, biases or norm scales."""
        return [c.weight for c in self.convolutions()] + [l.weight for l in self.linears()[:-1]]

    def set_dropout_generator(self, generator: torch.Generator) -> None:
        for module in self.modules():
            if isinstance(module, SeededDropout):  # SeededSpatialDropout too
                module.generator = generator

    def summary(self) -> list[SummaryRow]:
        """Keras's model.summary(): one row per layer, output shapes channels-last as Keras prints them."""
        rows, counts = [], {}
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        with torch.no_grad():
            h = torch.zeros((1, 1, *self.image_shape), device=device)
            for module in [*self.features, nn.Flatten(), *self.head]:
                h = module(h)
                kind, class_name = keras_name(module, CNN_KERAS_NAMES)
                counts[kind] = counts.get(kind, 0) + 1
                shape = (None, *h.shape[2:], h.shape[1]) if h.dim() == 4 else (None, *h.shape[1:])
                trainable = sum(p.numel() for p in module.parameters())
                statistics = sum(b.numel() for b in module.buffers() if b.is_floating_point())
                rows.append(SummaryRow(f"{kind}_{counts[kind]} ({class_name})",
                                       "(" + ", ".join(str(d) for d in shape) + ")", trainable + statistics, trainable))
        self.train(was_training)
        return rows


CNN_KERAS_NAMES = {**KERAS_NAMES, nn.Conv2d: ("conv2d", "Conv2D"), nn.MaxPool2d: ("max_pooling2d", "MaxPooling2D"),
                   nn.BatchNorm2d: ("batch_normalization", "BatchNormalization"),
                   SeededSpatialDropout: ("spatial_dropout2d", "SpatialDropout2D"), nn.Flatten: ("flatten", "Flatten")}


def build_cnn(variant: VariantSpec, image_shape: tuple[int, int], classes: int,
              init_generator: torch.Generator | None) -> CNN:
    """Weights drawn on the CPU from `init_generator` in layer order (conv kernels, then dense), as
    for the MLP; None leaves them uninitialised for a caller that fills them itself."""
    activation = registry.lookup("activation", variant.activation.name)
    make_activation = lambda: activation.build(dict(variant.activation.params))  # noqa: E731
    initialise = registry.lookup("init", variant.init.name).build(dict(variant.init.params))
    techniques = [runtime for _, runtime in registry.built(variant)]

    def block(layers: list[nn.Module], kind: str, index: int, width: int) -> None:
        """A block's layers after its Conv2d or Linear, up to its pooling."""
        layers += layers_at(techniques, Slot(kind, "pre_activation", index, width))
        layers.append(make_activation())
        layers += layers_at(techniques, Slot(kind, "post_activation", index, width))

    features: list[nn.Module] = []
    channels = 1
    for index, conv in enumerate(blocks(variant)):
        filters, size = conv["filters"], conv["kernel_size"]
        features.append(skip_init(nn.Conv2d, channels, filters, size, padding=conv["padding"]))
        block(features, "conv", index, filters)
        if conv["pool"] > 1:
            features.append(nn.MaxPool2d(conv["pool"]))
        features += layers_at(techniques, Slot("conv", "block_end", index, filters))
        channels = filters
    h, w = feature_sizes(variant, image_shape)[-1]
    width_in = channels * h * w
    # Dropout slots of the head: the flattened features (0), then each hidden layer (1, 2, ...).
    head: list[nn.Module] = layers_at(techniques, Slot("dense", "block_end", 0, width_in))
    for index, width in enumerate(variant.hidden, start=1):
        head.append(skip_init(nn.Linear, width_in, width))
        block(head, "dense", index, width)
        head += layers_at(techniques, Slot("dense", "block_end", index, width))
        width_in = width
    head.append(skip_init(nn.Linear, width_in, classes))
    model = CNN(features, head, image_shape)
    if init_generator is not None:
        for layer in model.convolutions() + model.linears():
            initialise(layer, init_generator)
    return model
