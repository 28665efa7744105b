"""A trained network in a form plain PyTorch rebuilds without reglab: a list of torch.nn layers
(class name and constructor arguments, JSON) and a state_dict whose keys are an nn.Sequential's.

    layers, sequential, state = portable(model, features)
    # anyone, with torch alone (docs/models.md):
    nn.Sequential(*build(layers)).load_state_dict(state)

One layer is not torch.nn's: "Residual", x + its layers(x) (a residual MLP's block), which the
documented loader defines in three lines. reglab's own layers map to their plain equivalents in
evaluation mode (its seeded dropouts are nn.Dropout and nn.Dropout2d of the same rate, stochastic
depth nn.Identity); a layer with no plain form is refused by name. The plain model is checked
against the original on random inputs before it is handed out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from reglab.errors import ReglabError
from reglab.models.cnn import SeededSpatialDropout
from reglab.models.mlp import SeededDropout
from reglab.models.residual_mlp import ResidualBlock
from reglab.techniques.dropout import SeededBranchDrop


def _pair(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# Constructor arguments of each plain layer, read back from a built one.
ARGS: dict[type, Callable[[Any], dict[str, Any]]] = {
    nn.Linear: lambda m: {"in_features": m.in_features, "out_features": m.out_features, "bias": m.bias is not None},
    nn.Conv2d: lambda m: {"in_channels": m.in_channels, "out_channels": m.out_channels,
                          "kernel_size": _pair(m.kernel_size), "stride": _pair(m.stride), "padding": _pair(m.padding),
                          "dilation": _pair(m.dilation), "groups": m.groups, "bias": m.bias is not None},
    nn.BatchNorm1d: lambda m: {"num_features": m.num_features, "eps": m.eps, "momentum": m.momentum},
    nn.BatchNorm2d: lambda m: {"num_features": m.num_features, "eps": m.eps, "momentum": m.momentum},
    nn.LayerNorm: lambda m: {"normalized_shape": list(m.normalized_shape), "eps": m.eps},
    nn.MaxPool2d: lambda m: {"kernel_size": _pair(m.kernel_size), "stride": _pair(m.stride)},
    nn.ReLU: lambda m: {}, nn.Tanh: lambda m: {}, nn.Sigmoid: lambda m: {},
    nn.GELU: lambda m: {"approximate": m.approximate}, nn.ELU: lambda m: {"alpha": m.alpha},
    nn.Flatten: lambda m: {"start_dim": m.start_dim, "end_dim": m.end_dim},
    nn.Unflatten: lambda m: {"dim": m.dim, "unflattened_size": list(m.unflattened_size)},
}


class Residual(nn.Sequential):
    """x + its layers(x): the one layer of the plain form that torch.nn has not (docs/models.md)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


def describe_layer(module: nn.Module) -> dict[str, Any]:
    if isinstance(module, ResidualBlock):
        return {"class": "Residual", "layers": [describe_layer(m) for m in module.branch]}
    if isinstance(module, SeededBranchDrop):  # before SeededDropout: it is one; in evaluation it passes x on
        return {"class": "Identity", "args": {}}
    if isinstance(module, SeededSpatialDropout):  # before SeededDropout: it is one
        return {"class": "Dropout2d", "args": {"p": module.rate}}
    if isinstance(module, SeededDropout):
        return {"class": "Dropout", "args": {"p": module.rate}}
    args = ARGS.get(type(module))
    if args is None:
        raise ReglabError(f"the layer {type(module).__name__} has no plain PyTorch form yet, so this model cannot "
                          "be exported. Fix: export a variant without it, or use result.model() in Python.")
    return {"class": type(module).__name__, "args": args(module)}


def build_plain(layers: list[dict[str, Any]]) -> nn.Sequential:
    """What the documented torch-only loader does (docs/models.md)."""
    def build(described: list[dict[str, Any]]) -> list[nn.Module]:
        return [Residual(*build(layer["layers"])) if layer["class"] == "Residual"
                else getattr(nn, layer["class"])(**layer["args"]) for layer in described]

    return nn.Sequential(*build(layers))


def _state(module: nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    """The module's state_dict under the plain form's keys (a residual block's layers numbered in it)."""
    if isinstance(module, ResidualBlock):
        return {key: value for j, layer in enumerate(module.branch)
                for key, value in _state(layer, f"{prefix}.{j}").items()}
    return {f"{prefix}.{key}": value.detach().cpu().clone().contiguous() for key, value in module.state_dict().items()}


def portable(model: nn.Module, features: int) -> tuple[list[dict[str, Any]], nn.Sequential, dict[str, torch.Tensor]]:
    """(layer descriptions, the plain nn.Sequential in eval mode, its state_dict) of a model with
    `layer_sequence()` (MLP, CNN, ResidualMLP) that takes `features` inputs per row."""
    if not hasattr(model, "layer_sequence"):
        raise ReglabError(f"a {type(model).__name__} has no plain PyTorch form yet, so it cannot be exported. Fix: use "
                          "result.model() in Python (torch.save(model.state_dict(), ...) saves its weights).")
    sequence = model.layer_sequence()
    layers = [describe_layer(module) for _, module in sequence]
    state = {key: value for index, (_, module) in enumerate(sequence) for key, value in _state(module, str(index)).items()}
    plain = build_plain(layers)
    plain.load_state_dict(state)
    plain.eval()
    model.eval()
    probe = torch.rand(16, features, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        if not torch.allclose(plain(probe), model(probe), rtol=1e-5, atol=1e-6):
            raise ReglabError("the plain PyTorch form of this model computes other outputs than the model: a bug in "
                              "reglab's export. Fix: use result.model() in Python, and report it.")
    return layers, plain, state
