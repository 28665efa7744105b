"""Sharpness-aware minimization against a hand-written step of Foret et al.'s Algorithm 1 (and
ASAM's scaling, as github.com/davda54/sam writes it), with torch.autograd.grad on a functional
copy of the network: the same weights after two steps of plain SGD."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from reglab.techniques.hooks import Context, Weights
from reglab.techniques.sharpness import SAM


def network():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))


def by_hand(model, x, y, rho, adaptive, lr, steps):
    names = [n for n, _ in model.named_parameters()]
    w = [p.detach().clone() for p in model.parameters()]

    def loss(ws):
        return F.cross_entropy(functional_call(model, dict(zip(names, ws)), (x,)), y)

    for _ in range(steps):
        ws = [t.requires_grad_() for t in w]
        g = torch.autograd.grad(loss(ws), ws)
        scaled = [t.abs() * gi for t, gi in zip(w, g)] if adaptive else g
        norm = torch.sqrt(sum((s ** 2).sum() for s in scaled))
        e = [(t ** 2 if adaptive else 1.0) * gi * rho / (norm + 1e-12) for t, gi in zip(w, g)]
        moved = [(t + ei).detach().requires_grad_() for t, ei in zip(w, e)]
        g_sharp = torch.autograd.grad(loss(moved), moved)
        w = [(t - lr * gi).detach() for t, gi in zip(w, g_sharp)]
    return w


@pytest.mark.parametrize("adaptive", [False, True])
def test_sam_steps_with_the_gradient_at_the_worst_nearby_point(adaptive):
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 6, generator=g), torch.randint(0, 3, (16,), generator=g)
    model, reference = network(), network()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3)
    sam = SAM({"rho": 0.5, "adaptive": adaptive})
    weights = Weights([], list(model.parameters()))

    def compute():
        optimizer.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        return logits, loss

    for _ in range(2):
        _, first_loss = sam.step_gradients(compute, weights, Context((2, 3), 3))
        optimizer.step()
    expected = by_hand(reference, x, y, 0.5, adaptive, 0.3, 2)
    for mine, theirs in zip(model.parameters(), expected):
        torch.testing.assert_close(mine.detach(), theirs, rtol=1e-5, atol=1e-6)
    # The step is not plain SGD's: rho = 0.5 moves it measurably.
    plain = network()
    for _ in range(2):
        loss = F.cross_entropy(plain(x), y)
        grads = torch.autograd.grad(loss, list(plain.parameters()))
        with torch.no_grad():
            for p, gi in zip(plain.parameters(), grads):
                p -= 0.3 * gi
    assert max((a - b).abs().max() for a, b in zip(model.parameters(), plain.parameters())) > 1e-3
