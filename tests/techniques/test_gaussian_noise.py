"""Gaussian noise as Keras's GaussianNoise: x + N(0, stddev²) while training, the identity at
evaluation; on the inputs or after every hidden activation (where Keras's summary shows it)."""

from __future__ import annotations

import torch

from reglab import models
from reglab.config import parse_study
from reglab.engine.seeding import generator
from reglab.techniques.gaussian_noise import GaussianNoise
from reglab.techniques.hooks import Context, Slot


def test_noise_on_the_inputs_has_the_asked_spread_and_only_while_training():
    hook = GaussianNoise({"stddev": 0.3, "where": "inputs"})
    hook.generator = torch.Generator().manual_seed(0)
    x, y = torch.rand(200, 50), torch.zeros(200, dtype=torch.long)
    noisy, same = hook.transform_batch(x, y, Context((5, 10), 2))
    noise = noisy - x
    assert same is y and abs(noise.mean().item()) < 0.01 and abs(noise.std().item() - 0.3) < 0.01
    assert hook.layer(Slot("dense", "post_activation", 0, 8)) is None  # on the inputs: no layer


def test_noise_on_hidden_layers_sits_after_each_activation():
    variant = parse_study('[[variants]]\nname = "a"\nhidden = [8, 6]\ngaussian_noise = { stddev = 0.5, '
                          'where = "hidden" }\ndropout = 0.2\n').variants[0]
    model = models.build(variant, (2, 3), 4, generator(0, "init"))
    kinds = [row.layer.split(" ")[0] for row in model.summary()]
    assert kinds == ["dense_1", "relu_1", "gaussian_noise_1", "dropout_1", "dense_2", "relu_2",
                     "gaussian_noise_2", "dropout_2", "dense_3"]
    model.set_dropout_generator(torch.Generator().manual_seed(1))
    x = torch.rand(4, 6)
    assert not torch.equal(model.train()(x), model.train()(x))
    plain = models.build(parse_study('[[variants]]\nname = "a"\nhidden = [8, 6]\n').variants[0], (2, 3), 4,
                         generator(0, "init"))
    torch.testing.assert_close(model.eval()(x), plain.eval()(x))  # evaluation: no noise, no dropout
