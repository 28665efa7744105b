"""scheduled_decay is Loshchilov & Hutter's Algorithm 2 (decay η_t·λ, independent of the learning
rate α): against a hand computation of Adam's steps, against torch.optim.AdamW with weight_decay =
λ/α, and through the engine against weight_decay with rate λ/α."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reglab.config import parse_study
from reglab.engine.reference import train_run
from reglab.techniques.hooks import Context, Weights
from reglab.techniques.registry import lookup

ALPHA, LAMBDA = 0.1, 0.05
GRADS = [[0.5, -1.0, 2.0], [0.1, 0.3, -0.2], [-1.5, 0.0, 0.4]]
START = [1.0, -2.0, 0.5]


def adam_with(decay, multipliers):
    """Three steps of torch's Adam with the schedule's multipliers, the decay applied before each."""
    w = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([w], lr=ALPHA, betas=(0.9, 0.999), eps=1e-8)
    ctx = Context((0, 0), 0, base_lr=ALPHA)  # the run's starting learning rate, as the engines give it
    for g, eta in zip(GRADS, multipliers):
        w.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.param_groups[0]["lr"] = ctx.lr = ALPHA * eta
        with torch.no_grad():
            decay.before_step(Weights([w]), ctx)
        optimizer.step()
    return w.detach().numpy()


def test_three_steps_are_algorithm_2_by_hand():
    # θ_t = θ_{t−1} − η_t(α·m̂_t/(√v̂_t + ε) + λ·θ_{t−1}), with a schedule that halves at step 3.
    multipliers = [1.0, 1.0, 0.5]
    theta, m, v = np.array(START), np.zeros(3), np.zeros(3)
    for t, (g, eta) in enumerate(zip(GRADS, multipliers), start=1):
        g = np.array(g)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        m_hat, v_hat = m / (1 - 0.9 ** t), v / (1 - 0.999 ** t)
        theta = theta - eta * (ALPHA * m_hat / (np.sqrt(v_hat) + 1e-8) + LAMBDA * theta)
    ours = adam_with(lookup("constraint", "scheduled_decay").build({"rate": LAMBDA}), multipliers)
    assert ours == pytest.approx(theta, rel=1e-12, abs=1e-12)
    # weight_decay (PyTorch's form) with the same number decays by α·λ per step instead: not the same.
    torch_form = adam_with(lookup("constraint", "weight_decay").build({"rate": LAMBDA}), multipliers)
    assert not np.allclose(torch_form, theta, rtol=1e-4)


def test_with_a_constant_schedule_it_is_adamw_with_weight_decay_lambda_over_alpha():
    ours = adam_with(lookup("constraint", "scheduled_decay").build({"rate": LAMBDA}), [1.0, 1.0, 1.0])
    w = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    adamw = torch.optim.AdamW([w], lr=ALPHA, betas=(0.9, 0.999), eps=1e-8, weight_decay=LAMBDA / ALPHA)
    for g in GRADS:
        w.grad = torch.tensor(g, dtype=torch.float64)
        adamw.step()
    assert ours == pytest.approx(w.detach().numpy(), rel=1e-12, abs=1e-12)


def test_through_the_engine_it_is_weight_decay_of_rate_lambda_over_alpha_at_any_schedule(blobs):
    # The engine gives the constraint the run's starting lr; with a step schedule the decay follows
    # η_t in both forms, and the two differ only in the coordinates a sweep holds fixed.
    data = blobs(seed=5, n_train=60, n_val=100, n_test=100, spread=1.5)
    schedule = 'schedule = { name = "step", boundaries = [1], values = [0.01, 0.005] }'

    def run(decay: str):
        body = f'epochs = 2\noptimizer = {{ name = "adam", lr = 0.01 }}\n{schedule}\n{decay}'
        study = parse_study(f'[[variants]]\nname = "v"\nhidden = [32, 32]\nbatch_size = 16\n{body}\n')
        weights = train_run(data, study.variants[0], 0).arrays.weights
        return [weights[k] for k in sorted(weights) if k.endswith("weight")]

    paper, torch_form = run("scheduled_decay = 0.002"), run("weight_decay = 0.2")
    for a, b in zip(paper, torch_form, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    plain = run("")
    assert max(np.abs(a - b).max() for a, b in zip(paper, plain)) > 1e-4  # the decay acted
