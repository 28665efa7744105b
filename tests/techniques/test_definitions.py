"""Each technique against its published definition, through the real engine where it acts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reglab.config import parse_study
from reglab.engine.reference import train_run
from reglab.techniques.hooks import Context, Slot, Weights
from reglab.techniques.registry import lookup


@pytest.fixture(scope="module")
def data(blobs):
    return blobs(seed=5, n_train=60, n_val=300, n_test=300, spread=1.5)


def variant(body: str):
    return parse_study(f'[[variants]]\nname = "v"\nhidden = [64, 64]\nbatch_size = 16\n{body}\n').variants[0]


def final_kernels(outcome):
    weights = outcome.arrays.weights
    return [torch.from_numpy(weights[k]) for k in sorted(weights) if k.endswith("weight") and weights[k].ndim == 2]


def dense(width: int) -> Slot:
    """The slot before the activation of a dense block of `width` units."""
    return Slot("dense", "pre_activation", 0, width)


def test_batch_norm_normalises_over_the_batch_and_uses_running_statistics_in_evaluation():
    norm = lookup("layer", "batch_norm").build({"momentum": 0.1, "eps": 1e-5, "position": "before"}).layer(dense(6))
    x = torch.randn(256, 6) * torch.tensor([1.0, 2, 3, 4, 5, 6]) + 7
    norm.train()
    y = norm(x)
    assert torch.allclose(y.mean(0), torch.zeros(6), atol=1e-5)
    assert torch.allclose(y.var(0, unbiased=False), torch.ones(6), atol=1e-3)
    # Running statistics after one batch: 0.9 * initial (0 and 1) + 0.1 * the batch's (unbiased variance).
    assert torch.allclose(norm.running_mean, 0.1 * x.mean(0), atol=1e-5)
    assert torch.allclose(norm.running_var, 0.9 + 0.1 * x.var(0, unbiased=True), atol=1e-4)
    norm.eval()
    expected = (x - norm.running_mean) / torch.sqrt(norm.running_var + 1e-5)
    assert torch.allclose(norm(x), expected, atol=1e-5)


def test_keras_batch_norm_constants_in_keras_mode():
    batch_norm = variant("batch_norm = true").switch("batch_norm")
    # Keras's momentum 0.99 (weight of the old value) is PyTorch's 0.01 (weight of the new batch).
    assert batch_norm["momentum"] == 0.99 and batch_norm["convention"] == "keras" and batch_norm["eps"] == 1e-3
    module = lookup("layer", "batch_norm").build(dict(batch_norm.params)).layer(dense(4))
    assert module.momentum == pytest.approx(0.01) and module.eps == 1e-3


def test_layer_norm_normalises_each_sample_independently_of_the_batch():
    norm = lookup("layer", "layer_norm").build({"eps": 1e-5, "position": "before"}).layer(dense(8))
    x = torch.randn(32, 8) * 3 + 1
    y = norm(x)
    assert torch.allclose(y.mean(1), torch.zeros(32), atol=1e-5)
    assert torch.allclose(y.var(1, unbiased=False), torch.ones(32), atol=1e-3)
    assert torch.allclose(norm(x[:1]), y[:1], atol=1e-6)  # the same with or without the rest of the batch


def test_norm_position_puts_the_layer_before_or_after_the_activation():
    from reglab.models import build_mlp
    from reglab.engine.seeding import generator

    def kinds(body):
        model = build_mlp(variant(body), 20, 10, generator(0, "init"))
        return [type(m).__name__ for m in model.layers][:3]

    assert kinds("batch_norm = true") == ["Linear", "BatchNorm1d", "ReLU"]
    assert kinds('batch_norm = { position = "after" }') == ["Linear", "ReLU", "BatchNorm1d"]
    assert kinds("layer_norm = true") == ["Linear", "LayerNorm", "ReLU"]


def test_max_norm_bounds_every_units_incoming_weights(data):
    outcome = train_run(data, variant("epochs = 3\nmax_norm = 0.5\noptimizer = { name = \"adam\", lr = 0.05 }"), 0)
    hidden = final_kernels(outcome)[:-1]  # the output layer is not constrained
    for kernel in hidden:
        assert kernel.norm(dim=1).max().item() <= 0.5 * (1 + 1e-5)
    unconstrained = train_run(data, variant("epochs = 3\noptimizer = { name = \"adam\", lr = 0.05 }"), 0)
    assert max(k.norm(dim=1).max().item() for k in final_kernels(unconstrained)[:-1]) > 0.5  # it did bite


def test_early_stopping_restores_exactly_the_best_epochs_weights(data):
    fast = 'optimizer = { name = "adam", lr = 0.01 }\n'  # overfits this small set within a few epochs
    with_stopping = train_run(data, variant(fast + "epochs = 40\nearly_stopping = { patience = 2 }"), seed=1)
    record = with_stopping.record
    assert record.stopped_epoch is not None and record.stopped_epoch < 39
    assert record.stopped_epoch == record.best_epoch + 2
    losses = [e.val_loss for e in record.history]
    assert record.best_epoch == int(np.argmin(losses))
    # Training without early stopping for best_epoch + 1 epochs follows the same trajectory:
    # its final weights are the best epoch's weights, bit for bit.
    plain = train_run(data, variant(fast + f"epochs = {record.best_epoch + 1}"), seed=1)
    for name, value in plain.arrays.weights.items():
        assert np.array_equal(value, with_stopping.arrays.weights[name]), name
    assert record.test_loss == plain.record.test_loss


def test_early_stopping_on_accuracy_waits_for_improvement():
    from reglab.techniques.training import EarlyStopping

    stopper = EarlyStopping({"monitor": "val_accuracy", "patience": 2, "min_delta": 0.01, "restore_best": True})
    decisions = [stopper.observe(e, v) for e, v in enumerate([0.5, 0.6, 0.605, 0.62, 0.61, 0.615])]
    assert decisions == [(True, False), (True, False), (False, False), (True, False), (False, False), (False, True)]
    assert stopper.best_epoch == 3


def test_sgd_with_l2_equals_sgd_with_decoupled_decay_of_twice_lambda(data):
    lam, lr = 0.01, 0.05
    l2 = train_run(data, variant(f'epochs = 3\noptimizer = {{ name = "sgd", lr = {lr} }}\nl2 = {lam}'), 0)
    decay = train_run(data, variant(f'epochs = 3\noptimizer = {{ name = "sgd", lr = {lr} }}\nweight_decay = {2 * lam}'), 0)
    for a, b in zip(final_kernels(l2), final_kernels(decay), strict=True):
        # The same update w(1 - 2·lr·λ) - lr·g, rounded in a different order: float32 noise only.
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
    assert l2.record.history[-1].val_loss == pytest.approx(decay.record.history[-1].val_loss, rel=1e-4)


def test_adam_with_l2_is_not_adam_with_decoupled_decay(data):
    lam = 0.01
    l2 = train_run(data, variant(f"epochs = 3\nl2 = {lam}"), 0)
    decay = train_run(data, variant(f"epochs = 3\nweight_decay = {2 * lam}"), 0)
    differences = [(a - b).abs().max().item() for a, b in zip(final_kernels(l2), final_kernels(decay))]
    assert max(differences) > 1e-2  # Adam rescales the L2 gradient per weight; decoupled decay is not rescaled


def test_weight_decay_shrinks_by_one_minus_lr_times_rate_per_step():
    decay = lookup("constraint", "weight_decay").build({"rate": 0.1})
    w = torch.ones(3, 3)
    decay.before_step(Weights([w]), Context((0, 0), 0, lr=0.5))
    assert torch.allclose(w, torch.full((3, 3), 1 - 0.5 * 0.1))


def test_label_smoothing_matches_the_hand_computed_loss():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    smoothing = lookup("loss", "label_smoothing").build({"amount": 0.3})
    target = torch.tensor([0.3 / 3 + 0.7, 0.3 / 3, 0.3 / 3])  # (1 - ε)·one_hot + ε/K
    log_p = logits - math.log(sum(math.exp(v) for v in logits[0].tolist()))
    expected = -(target * log_p).sum().item()
    objective = smoothing.objective(logits, torch.tensor([0]), Context((0, 0), 3))
    assert objective.item() == pytest.approx(expected, rel=1e-6)


def test_l1_l2_is_the_sum_of_both_penalties():
    w = torch.randn(4, 3)
    both = lookup("penalty", "l1_l2").build({"l1": 0.01, "l2": 0.02})([w])
    assert both.item() == pytest.approx((0.01 * w.abs().sum() + 0.02 * (w * w).sum()).item(), rel=1e-6)


@pytest.mark.parametrize("params", [{"l1": 0.01, "l2": 0.0}, {"l1": 0.0, "l2": 0.02}, {"l1": 0.003, "l2": 0.05}])
def test_penalty_gradient_in_closed_form_equals_autograd(params):
    # The engines add the penalty's gradient by formula; autograd of the published penalty is the reference.
    kernels = [torch.randn(5, 4), torch.randn(3, 5)]
    kernels[0][0, 0] = 0.0  # |w| at 0: autograd's subgradient is 0
    penalty = lookup("penalty", "l1_l2").build(params)
    leaves = [k.clone().requires_grad_() for k in kernels]
    penalty(leaves).backward()
    grads = [torch.full_like(k, 0.5) for k in kernels]
    value = penalty.add_gradient(kernels, grads)
    expected = sum(params["l1"] * k.abs().sum() + params["l2"] * (k * k).sum() for k in kernels)
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    for grad, leaf in zip(grads, leaves, strict=True):
        torch.testing.assert_close(grad, leaf.grad + 0.5, rtol=1e-6, atol=0)


def test_l1_drives_weights_to_zero(data):
    # What the tutorial says L1 does: more weights near zero than without it.
    def near_zero(outcome):
        kernels = final_kernels(outcome)[:-1]
        return sum((k.abs() < 1e-3).sum().item() for k in kernels) / sum(k.numel() for k in kernels)
    plain = train_run(data, variant("epochs = 20"), 0)
    sparse = train_run(data, variant("epochs = 20\nl1 = 0.01"), 0)
    assert near_zero(sparse) > 5 * near_zero(plain)  # measured: 10% against 0.6%


def test_augmentation_is_reproducible_and_only_on_training_data(data):
    body = "epochs = 2\naugmentation = { shift = 0.2, noise = 0.05 }"
    first, second = train_run(data, variant(body), 3), train_run(data, variant(body), 3)
    assert [e.train_loss for e in first.record.history] == [e.train_loss for e in second.record.history]
    plain = train_run(data, variant("epochs = 2"), 3)
    assert first.record.history[0].train_loss != plain.record.history[0].train_loss
