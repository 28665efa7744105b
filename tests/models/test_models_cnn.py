"""The CNN behind the architecture seam: its study keys, Keras-compatible init, summary, the
kernels penalties act on, and the reference loop against a plain PyTorch loop written here."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reglab import models
from reglab.errors import ConfigError
from reglab.config import parse_study
from reglab.engine.core import check_fits
from reglab.engine.reference import train_run
from reglab.engine.seeding import generator

CNN = """
[defaults]
model = "cnn"
conv = [{ filters = 4, kernel_size = 3, padding = "same", pool = 2 }, { filters = 6, kernel_size = 2 }]
hidden = [12]
epochs = 3
batch_size = 32

[[variants]]
name = "cnn"
{variant}
"""


def cnn_variant(extra: str = ""):
    return parse_study(CNN.replace("{variant}", extra)).variants[0]


@pytest.fixture(scope="module")
def data(blobs):
    return blobs(seed=3, n_train=160, n_val=64, n_test=64, spread=0.1, shape=(8, 8), images=True)


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_study(text, "s.toml")
    return str(caught.value)


def test_cnn_keys_are_validated_with_the_study():
    assert "model 'cnn' needs `conv`" in problems('[[variants]]\nname = "a"\nmodel = "cnn"\n')
    assert "unknown model 'cn' (did you mean 'cnn'?)" in problems('[[variants]]\nname = "a"\nmodel = "cn"\n')
    message = problems('[[variants]]\nname = "a"\nmodel = "cnn"\nconv = [{ filters = 0 }]\n')
    assert "block 1: filters must be an integer from 1 to 4096, got 0" in message
    message = problems('[[variants]]\nname = "a"\nmodel = "cnn"\nconv = [{ filters = 8, padding = "full" }]\n')
    assert 'padding must be "valid"' in message
    message = problems('[[variants]]\nname = "a"\nmodel = "cnn"\nconv = [{ filter = 8 }]\n')
    assert "unknown key 'filter'" in message
    # A key of another architecture in the variant itself is an error; in [defaults] it is for the CNNs.
    message = problems('[[variants]]\nname = "a"\nconv = [{ filters = 8 }]\n')
    assert "belongs to model 'cnn', and this variant's model is 'mlp'" in message
    study = parse_study(CNN.replace("{variant}", "") + '[[variants]]\nname = "m"\nmodel = "mlp"\nhidden = [8]\n')
    assert [v.model for v in study.variants] == ["cnn", "mlp"] and study.variants[1].model_params == ()


def test_techniques_that_do_not_apply_are_refused():
    message = problems('[[variants]]\nname = "a"\nspatial_dropout = 0.2\n')
    assert "spatial_dropout" in message and "does not apply to model 'mlp'" in message
    assert "does not apply to model 'cnn'" in problems(CNN.replace("{variant}", "layer_norm = true"))
    assert "spatial_dropout gives 3 rates for 2 conv blocks" in problems(
        CNN.replace("{variant}", "spatial_dropout = [0.1, 0.2, 0.3]"))
    # The CNN's dropout places: after the flattened features, then after each hidden layer.
    assert "gives 1 rates for 2 places" in problems(CNN.replace("{variant}", "dropout = [0.5]"))
    assert cnn_variant("dropout = [0.5, 0.25]").dropout_rates() == (0.5, 0.25)


def test_a_network_too_deep_for_the_images_is_refused_before_training():
    study = parse_study(CNN.replace("{variant}", "").replace('{ filters = 6, kernel_size = 2 }',
                                                       '{ filters = 6, kernel_size = 5 }'), "deep.toml")
    check_fits(study, (28, 28))  # 28 -> 14 -> 10 -> 5: fits
    with pytest.raises(ConfigError, match=r"conv block 2 \(kernel_size 5, padding 'valid', pool 2\) leaves no "
                                          r"pixels of the 8x8 images. Fix: padding = \"same\""):
        check_fits(study, (8, 8))


def test_glorot_uniform_uses_keras_fans_for_conv_kernels():
    variant = cnn_variant()
    model = models.build(variant, (8, 8), 10, generator(0, "init"))
    first, second = model.convolutions()
    # Keras: fan_in = kh*kw*in_channels, fan_out = kh*kw*out_channels; limit = sqrt(6 / (fan_in + fan_out)).
    for conv, (fan_in, fan_out) in ((first, (3 * 3 * 1, 3 * 3 * 4)), (second, (2 * 2 * 4, 2 * 2 * 6))):
        limit = math.sqrt(6 / (fan_in + fan_out))
        assert conv.weight.abs().max() <= limit
        assert conv.weight.abs().max() > 0.8 * limit  # spread over the range, not a narrower one
        assert torch.count_nonzero(conv.bias) == 0
    # The same draws as torch's xavier_uniform_ (whose fans are Keras's) from the same generator.
    expected = torch.empty_like(first.weight)
    nn.init.xavier_uniform_(expected, generator=generator(0, "init"))
    torch.testing.assert_close(first.weight, expected, rtol=0, atol=1e-7)
    # A seed fixes the weights, and equal init keys mean equal weights.
    again = models.build(cnn_variant("l2 = 0.01"), (8, 8), 10, generator(0, "init"))
    assert variant.init_key() == cnn_variant("l2 = 0.01").init_key()
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_keras_batch_norm_settings_reach_batchnorm2d():
    model = models.build(cnn_variant("batch_norm = true"), (8, 8), 10, generator(0, "init"))
    norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d))]
    assert [type(m) for m in norms] == [nn.BatchNorm2d, nn.BatchNorm2d, nn.BatchNorm1d]
    # Keras momentum 0.99 (weight of the old value) is PyTorch's 0.01; Keras epsilon 1e-3.
    assert all(m.momentum == pytest.approx(0.01) and m.eps == pytest.approx(1e-3) for m in norms)


def test_summary_has_keras_output_shapes_and_counts_every_parameter():
    variant = cnn_variant("batch_norm = true\ndropout = 0.5\nspatial_dropout = 0.1")
    model = models.build(variant, (8, 8), 10, generator(0, "init"))
    rows = model.summary()
    shapes = {row.layer: row.output_shape for row in rows}
    assert shapes["conv2d_1 (Conv2D)"] == "(None, 8, 8, 4)"  # same padding keeps 8x8
    assert shapes["max_pooling2d_1 (MaxPooling2D)"] == "(None, 4, 4, 4)"
    assert shapes["conv2d_2 (Conv2D)"] == "(None, 3, 3, 6)"  # valid, kernel 2: 4 -> 3
    assert shapes["max_pooling2d_2 (MaxPooling2D)"] == "(None, 1, 1, 6)"  # pooling floors
    assert shapes["flatten_1 (Flatten)"] == "(None, 6)"
    assert rows[-1].output_shape == "(None, 10)" and rows[-1].layer.endswith(" (Dense)")
    assert "dropout_1 (Dropout)" in shapes and "spatial_dropout2d_1 (SpatialDropout2D)" in shapes
    assert sum(r.trainable for r in rows) == sum(p.numel() for p in model.parameters())
    assert sum(r.params for r in rows) == sum(p.numel() for p in model.parameters()) + sum(
        b.numel() for b in model.buffers() if b.is_floating_point())
    assert rows == models.summary(variant, (8, 8), 10)


def test_penalties_act_on_conv_and_hidden_kernels_only():
    model = models.build(cnn_variant("batch_norm = true"), (8, 8), 10, generator(0, "init"))
    kernels = model.regularized_kernels()
    convs, linears = model.convolutions(), model.linears()
    assert [k.shape for k in kernels] == [convs[0].weight.shape, convs[1].weight.shape, linears[0].weight.shape]
    assert all(k.dim() in (2, 4) for k in kernels)  # no bias, no norm scale, not the output layer


def plain_cnn_loop(data, variant, seed, l2):
    """The textbook loop, written independently: nn.Sequential of torch layers, torch.optim.Adam
    (Keras's epsilon), Keras's l2 as λ·Σw² on the conv and hidden kernels, through autograd."""
    reference = models.build(variant, data.image_shape, data.classes, generator(seed, "init"))
    conv1, conv2 = (nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size, padding=c.padding)
                    for c in reference.convolutions())
    dense, output = (nn.Linear(l.in_features, l.out_features) for l in reference.linears())
    for mine, theirs in zip((conv1, conv2, dense, output), reference.convolutions() + reference.linears()):
        mine.load_state_dict(theirs.state_dict())
    model = nn.Sequential(nn.Unflatten(1, (1, *data.image_shape)), conv1, nn.ReLU(), nn.MaxPool2d(2),
                          conv2, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), dense, nn.ReLU(), output)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    order = generator(seed, "data_order")
    history = []
    for _ in range(variant.epochs):
        permutation = torch.randperm(len(data.y_train), generator=order)
        total = 0.0
        for start in range(0, len(permutation), variant.batch_size):
            idx = permutation[start:start + variant.batch_size]
            logits = model(data.x_train[idx])
            loss = F.cross_entropy(logits, data.y_train[idx])
            penalty = l2 * sum((w * w).sum() for w in (conv1.weight, conv2.weight, dense.weight))
            optimizer.zero_grad()
            (loss + penalty).backward()
            optimizer.step()
            total += loss.item() * len(idx)
        with torch.no_grad():
            val_loss = F.cross_entropy(model(data.x_val), data.y_val).item()
        history.append((total / len(data.y_train), val_loss))
    return history


def test_reference_loop_trains_a_cnn_like_a_plain_pytorch_loop(data):
    variant = cnn_variant("l2 = 0.01")
    outcome = train_run(data, variant, seed=1)
    expected = plain_cnn_loop(data, variant, seed=1, l2=0.01)
    for record, (train_loss, val_loss) in zip(outcome.record.history, expected, strict=True):
        assert record.train_loss == pytest.approx(train_loss, rel=1e-4)
        assert record.val_loss == pytest.approx(val_loss, rel=1e-4)
    assert outcome.record.history[-1].val_loss < outcome.record.history[0].val_loss
    assert {k for k in outcome.arrays.weights} >= {"features.0.weight", "head.0.weight"}
