"""Each architecture counts its own parameters and layer outputs (models/registry.py), which the
memory model (cost/memory_model.py) asks instead of assuming an MLP: the count must be the built
network's, for every registered architecture, with and without normalization."""

from __future__ import annotations

import pytest
import torch

from reglab import lab, models
from reglab.cost import memory_model


def variants():
    study, _ = lab.load_study("cnn", dataset="digits")
    yield from study.variants  # cnn (with and without batch norm), mlp
    text = """
name = "counts"
seeds = [0]
[data]
dataset = "digits"
[[variants]]
name = "res"
model = "resmlp"
width = 24
hidden = [16, 8]
[[variants]]
name = "mlp_ln"
hidden = [20, 10]
layer_norm = true
[[variants]]
name = "cnn_same"
model = "cnn"
conv = [{ filters = 4, kernel_size = 3, padding = "same", pool = 2 }, { filters = 6, kernel_size = 2 }]
hidden = [12]
batch_norm = true
[[variants]]
name = "lstm2"
model = "lstm"
hidden = [12, 6]
[[variants]]
name = "bigru"
model = "gru"
hidden = [10]
bidirectional = true
"""
    from reglab.config import parse_study

    yield from parse_study(text).variants


@pytest.mark.parametrize("variant", list(variants()), ids=lambda v: v.name)
def test_parameters_are_the_built_networks_trainable_numbers(variant):
    built = models.build(variant, (8, 8), 10, torch.Generator().manual_seed(0))
    trainable = sum(p.numel() for p in built.parameters() if p.requires_grad)
    assert variant.architecture.parameters(variant, (8, 8), 10) == trainable
    assert memory_model.parameters(variant, (8, 8)) == trainable


def test_every_registered_architecture_is_counted_here():
    assert {v.model for v in variants()} == set(models.architectures())


def test_only_architectures_that_read_images_need_a_square_number_of_inputs():
    """models.summaries asks the architecture (needs_images), not `model != "mlp"`: a residual MLP
    takes 50 flat inputs as an MLP does; a CNN is refused with the fix."""
    from reglab.errors import ConfigError

    flat = [v for v in variants() if not v.architecture.needs_images]
    assert {v.model for v in flat} == {"mlp", "resmlp"}
    study, _ = lab.load_study("cnn", dataset="digits")
    from dataclasses import replace

    rows = models.summaries(replace(study, variants=tuple(flat)), input_dim=50)
    assert [name for name, inputs, _ in rows] == [v.name for v in flat] and {i for _, i, _ in rows} == {50}
    with pytest.raises(ConfigError, match="not a square image, and cnn needs one"):
        models.summaries(study, input_dim=50)
