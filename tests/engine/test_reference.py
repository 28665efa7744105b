"""The reference loop against an independent plain PyTorch loop, and its seeding guarantees."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reglab.config import parse_study
from reglab.engine.reference import train_run
from reglab.engine.seeding import generator
from reglab.models import build_mlp
from reglab.models.mlp import SeededDropout

STUDY = """
[defaults]
hidden = [24, 12]
epochs = 3
batch_size = 32
{extra_defaults}

[[variants]]
name = "basic"
{variant}
"""


def variant_from(variant: str = "", extra_defaults: str = ""):
    return parse_study(STUDY.format(variant=variant, extra_defaults=extra_defaults)).variants[0]


@pytest.fixture(scope="module")
def data(blobs):
    return blobs(seed=0, n_train=300, n_val=100, n_test=100, spread=0.8)


def plain_loop(data, variant, seed, l1=0.0, l2=0.0, make_optimizer=None, lr_at=None):
    """The textbook loop, written independently: nn.Sequential, torch.optim, Keras-style penalties."""
    reference = build_mlp(variant, data.input_dim, data.classes, generator(seed, "init"))
    linears = [nn.Linear(a.in_features, a.out_features) for a in reference.linears()]
    for mine, theirs in zip(linears, reference.linears()):
        mine.load_state_dict(theirs.state_dict())
    blocks = []
    for linear in linears[:-1]:
        blocks += [linear, nn.ReLU()]
    model = nn.Sequential(*blocks, linears[-1]).to(data.x_train.device)
    optimizer = make_optimizer(model.parameters())
    order = generator(seed, "data_order")
    history = []
    for epoch in range(variant.epochs):
        if lr_at is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(epoch)
        permutation = torch.randperm(len(data.y_train), generator=order)
        total = 0.0
        for start in range(0, len(permutation), variant.batch_size):
            idx = permutation[start:start + variant.batch_size].to(data.x_train.device)
            logits = model(data.x_train[idx])
            loss = F.cross_entropy(logits, data.y_train[idx])
            kernels = [layer.weight for layer in linears[:-1]]
            penalty = l1 * sum(w.abs().sum() for w in kernels) + l2 * sum((w * w).sum() for w in kernels)
            optimizer.zero_grad()
            (loss + penalty).backward()
            optimizer.step()
            total += loss.item() * len(idx)
        with torch.no_grad():
            val_loss = F.cross_entropy(model(data.x_val), data.y_val).item()
        history.append((total / len(data.y_train), val_loss))
    return history


class HandKerasRMSprop:
    """Keras's RMSprop written out per tensor, as its docs state it: w -= lr * g / sqrt(v + eps)."""

    def __init__(self, params, lr, rho, eps):
        self.params, self.lr, self.rho, self.eps = list(params), lr, rho, eps
        self.squares = [torch.zeros_like(p) for p in self.params]
        self.param_groups = [{"lr": lr}]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for p, v in zip(self.params, self.squares):
            v.copy_(self.rho * v + (1 - self.rho) * p.grad * p.grad)
            p -= self.lr * p.grad / torch.sqrt(v + self.eps)


CASES = {
    "adam": ('optimizer = { name = "adam", lr = 0.001 }', {},
             lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7), None),
    "sgd+l2": ('optimizer = { name = "sgd", lr = 0.05 }\nl2 = 0.001', {"l2": 0.001},
               lambda p: torch.optim.SGD(p, lr=0.05), None),
    "rmsprop+l1": ('optimizer = { name = "rmsprop", lr = 0.001 }\nl1 = 0.0005', {"l1": 0.0005},
                   lambda p: HandKerasRMSprop(p, lr=1e-3, rho=0.9, eps=1e-7), None),
    "pytorch-rmsprop": ('optimizer = { name = "rmsprop", lr = 0.001, eps_inside_sqrt = false }', {},
                        lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-7), None),
    "momentum+step": ('optimizer = { name = "momentum", lr = 0.05 }\n'
                      'schedule = { name = "step", boundaries = [1, 2], values = [0.05, 0.02, 0.01] }', {},
                      lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
                      lambda epoch: [0.05, 0.02, 0.01][epoch]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_reference_loop_matches_a_plain_pytorch_loop(data, case):
    toml, penalties, make_optimizer, lr_at = CASES[case]
    variant = variant_from(toml)
    ours = train_run(data, variant, seed=3).record.history
    theirs = plain_loop(data, variant, 3, make_optimizer=make_optimizer, lr_at=lr_at, **penalties)
    for mine, (train_loss, val_loss) in zip(ours, theirs, strict=True):
        # Same arithmetic in the same order up to summation order of the penalty: float32 noise only.
        assert mine.train_loss == pytest.approx(train_loss, rel=1e-5)
        assert mine.val_loss == pytest.approx(val_loss, rel=1e-5)


def test_same_seed_gives_identical_metrics(data):
    variant = variant_from("dropout = 0.3\nl2 = 0.001")
    first, second = train_run(data, variant, seed=7), train_run(data, variant, seed=7)
    strip = lambda h: [(e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy, e.lr) for e in h]
    assert strip(first.record.history) == strip(second.record.history)
    assert first.record.test_loss == second.record.test_loss
    assert np.array_equal(first.arrays.test_predictions, second.arrays.test_predictions)
    third = train_run(data, variant, seed=8)
    assert strip(third.record.history) != strip(first.record.history)


def test_variants_of_one_architecture_share_initial_weights():
    study = parse_study("""
        [defaults]
        hidden = [16, 8]
        [[variants]]
        name = "basic"
        [[variants]]
        name = "regularised"
        l2 = 0.01
        dropout = 0.5
        optimizer = "sgd"
        [[variants]]
        name = "wider"
        hidden = [32, 8]
    """)
    basic, regularised, wider = study.variants
    assert basic.init_key() == regularised.init_key() != wider.init_key()
    weights = lambda v, seed: [p.detach().clone() for p in build_mlp(v, 20, 10, generator(seed, "init")).parameters()]
    for a, b in zip(weights(basic, 0), weights(regularised, 0), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(weights(basic, 0)[0], weights(basic, 1)[0])


def test_glorot_uniform_with_zero_bias_like_keras_dense():
    variant = variant_from()
    model = build_mlp(variant, 784, 10, generator(0, "init"))
    for layer in model.linears():
        fan_out, fan_in = layer.weight.shape
        limit = math.sqrt(6 / (fan_in + fan_out))
        assert layer.weight.abs().max() <= limit
        # A uniform on [-limit, limit] has standard deviation limit / sqrt(3).
        assert layer.weight.std().item() == pytest.approx(limit / math.sqrt(3), rel=0.1)
        assert torch.count_nonzero(layer.bias) == 0


def test_pytorch_default_init_matches_nn_linear_bounds():
    variant = parse_study('keras_compat = false\n[[variants]]\nname = "a"\nhidden = [64]\n').variants[0]
    layer = build_mlp(variant, 784, 10, generator(0, "init")).linears()[0]
    bound = 1 / math.sqrt(784)
    assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
    assert torch.count_nonzero(layer.bias) > 0


def test_keras_penalty_gradients():
    from reglab.techniques.registry import lookup

    w = torch.randn(5, 4, requires_grad=True)
    lookup("penalty", "l2").build({"strength": 0.01})([w]).backward()
    assert torch.allclose(w.grad, 2 * 0.01 * w.detach())  # d/dw of λ·Σw² is 2λw (no 1/2, as Keras)
    w.grad = None
    lookup("penalty", "l1").build({"strength": 0.01})([w]).backward()
    assert torch.allclose(w.grad, 0.01 * torch.sign(w.detach()))


def test_dropout_is_inverted_and_identity_in_evaluation():
    layer = SeededDropout(0.3)
    layer.generator = torch.Generator().manual_seed(0)
    x = torch.ones(200_000)
    kept = layer(x)
    values = kept.unique().tolist()
    assert len(values) == 2 and values[0] == 0.0 and values[1] == pytest.approx(1 / 0.7)
    assert (kept == 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert kept.mean().item() == pytest.approx(1.0, abs=0.01)  # expectation kept
    layer.eval()
    assert torch.equal(layer(x), x)


def test_a_run_that_diverges_is_marked_and_stops(data):
    variant = variant_from('optimizer = { name = "sgd", lr = 1e12 }')
    outcome = train_run(data, variant, seed=0)
    assert outcome.record.status == "diverged"
    assert outcome.record.diverged_at == len(outcome.record.history) - 1
    assert outcome.record.test_accuracy is None
