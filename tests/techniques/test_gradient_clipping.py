"""Gradient clipping against torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (and Keras 3's
optimizer itself where keras is installed), and its place in a step: after the penalties' gradients."""

from __future__ import annotations

import pytest
import torch

from reglab.config import parse_study
from reglab.engine.core import Techniques
from reglab.techniques.gradient_clipping import clip_
from reglab.techniques.hooks import Weights


def gradients() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    # One tensor far above the limit, one below it, one of zeros (its norm 0 must stay 0, not NaN).
    return [torch.randn(5, 4, generator=g) * 3, torch.randn(7, generator=g) * 0.01, torch.zeros(3)]


def test_global_clipnorm_is_clip_grad_norm():
    ours, theirs = gradients(), [torch.nn.Parameter(torch.zeros_like(g)) for g in gradients()]
    for p, g in zip(theirs, gradients()):
        p.grad = g
    clip_(ours, "global_clipnorm", 1.5)
    torch.nn.utils.clip_grad_norm_(theirs, 1.5)
    for mine, p in zip(ours, theirs):
        # torch divides by norm + 1e-6, Keras (and reglab) by the norm: 1e-6 relative at most.
        torch.testing.assert_close(mine, p.grad, rtol=2e-6, atol=0)
    assert torch.linalg.vector_norm(torch.cat([g.flatten() for g in ours])).item() == pytest.approx(1.5, rel=1e-6)


def test_clipnorm_clips_each_tensor_alone_and_clipvalue_each_element():
    ours = gradients()
    clip_(ours, "clipnorm", 1.5)
    for mine, g in zip(ours, gradients()):
        p = torch.nn.Parameter(torch.zeros_like(g))
        p.grad = g
        torch.nn.utils.clip_grad_norm_([p], 1.5)
        torch.testing.assert_close(mine, p.grad, rtol=2e-6, atol=0)
    torch.testing.assert_close(ours[1], gradients()[1])  # below the limit: untouched
    ours, theirs = gradients(), [torch.nn.Parameter(torch.zeros_like(g)) for g in gradients()]
    for p, g in zip(theirs, gradients()):
        p.grad = g
    clip_(ours, "clipvalue", 0.5)
    torch.nn.utils.clip_grad_value_(theirs, 0.5)
    assert all(torch.equal(mine, p.grad) for mine, p in zip(ours, theirs))


@pytest.mark.parametrize("mode", ["clipnorm", "global_clipnorm", "clipvalue"])
def test_keras_sgd_with_the_same_clipping_takes_the_same_step(mode, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")  # in the shared venv for these checks; not a dependency
    variables = [keras.Variable(torch.zeros_like(g).numpy()) for g in gradients()]
    keras.optimizers.SGD(learning_rate=1.0, **{mode: 1.5}).apply_gradients(
        [(keras.ops.convert_to_tensor(g.numpy()), v) for g, v in zip(gradients(), variables)])
    ours = gradients()
    clip_(ours, mode, 1.5)
    for mine, v in zip(ours, variables):
        torch.testing.assert_close(-mine, torch.as_tensor(keras.ops.convert_to_numpy(v.value)), rtol=1e-6, atol=1e-7)


def test_clipping_acts_on_the_penalised_gradient():
    variant = parse_study('[[variants]]\nname = "a"\nl2 = 0.5\ngradient_clipping = { mode = "clipvalue", limit = 0.1 }\n'
                          ).variants[0]
    tech = Techniques(variant, 0.01)
    kernel = torch.nn.Parameter(torch.full((2, 2), 3.0))
    kernel.grad = torch.zeros(2, 2)
    tech.gradients(Weights([kernel], [kernel]))
    # The L2 gradient 2 * 0.5 * 3 = 3 is added first, then clipped to 0.1.
    assert torch.equal(kernel.grad, torch.full((2, 2), 0.1))
