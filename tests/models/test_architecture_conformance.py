"""One conformance suite over every registered architecture, generated from the registry (each
trains every technique in tests/techniques/test_conformance.py; here, what the rest of reglab
asks of its network): it builds from its example, its output has one logit per class, its
summary counts what the network holds, its regularized kernels are the kernels of every layer
but the output, dropout has as many places as it declares, and the memory model counts its
parameters."""

from __future__ import annotations

import pytest
import tomli_w
import torch
from torch import nn

from reglab import models
from reglab.config import parse_study
from reglab.cost import memory_model
from reglab.engine.seeding import generator
from reglab.techniques.dropout import SeededDropout

IMAGE_SHAPE, CLASSES = (8, 8), 10
ARCHITECTURES = [pytest.param(name, id=name) for name in models.architectures()]


def example(name: str, **keys):
    variant = {"name": "probe", "model": name, **models.lookup(name).example, **keys}
    return parse_study(tomli_w.dumps({"keras_compat": False, "variants": [variant]})).variants[0]


def build(variant):
    return models.build(variant, IMAGE_SHAPE, CLASSES, generator(0, "init"))


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_it_builds_and_gives_one_logit_per_class(name):
    model = build(example(name))
    model.eval()
    assert model(torch.rand(3, IMAGE_SHAPE[0] * IMAGE_SHAPE[1])).shape == (3, CLASSES)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_its_summary_counts_what_the_network_holds(name):
    model = build(example(name))
    rows = model.summary()
    trainable = sum(p.numel() for p in model.parameters())
    statistics = sum(b.numel() for b in model.buffers() if b.is_floating_point())
    assert sum(row.trainable for row in rows) == trainable
    assert sum(row.params for row in rows) == trainable + statistics
    assert rows[-1].output_shape.endswith(f"{CLASSES})")


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_its_regularized_kernels_are_kernels_and_never_the_output_layers(name):
    model = build(example(name))
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    kernels = model.regularized_kernels()
    parameters = {id(p) for p in model.parameters()}
    assert all(id(k) in parameters and k.dim() >= 2 for k in kernels)  # the model's own weights, no bias
    output = next(m for m in reversed(list(model.modules())) if isinstance(m, nn.Linear))
    chosen = {id(k) for k in kernels}
    assert id(output.weight) not in chosen
    # Every dense and conv kernel but the output's (a recurrent network adds its input kernels).
    assert chosen >= {id(m.weight) for m in layers if m is not output}


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_dropout_has_the_places_it_declares(name):
    architecture = models.lookup(name)
    if "dropout" in architecture.refuses:
        pytest.skip(f"{name} refuses dropout")
    variant = example(name, dropout=0.3)
    dropouts = [m for m in build(variant).modules() if type(m) is SeededDropout]
    assert len(dropouts) == architecture.dropout_slots(variant) == len(variant.dropout_rates())
    assert all(m.rate == 0.3 for m in dropouts)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_the_memory_model_counts_its_parameters(name):
    variant = example(name)
    built = sum(p.numel() for p in build(variant).parameters())
    assert memory_model.parameters(variant, IMAGE_SHAPE, CLASSES) == built
