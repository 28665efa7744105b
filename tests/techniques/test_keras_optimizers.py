"""Nadam, Adamax, Adadelta and Lion against independent references: Keras 3's own updates
(recorded by benchmarks/keras_optimizer_reference.py on its torch backend, so this test needs no
Keras), torch.optim's defaults outside Keras-compatible mode, and Lion's published rule computed
by hand. Six steps on a fixed tensor with fixed gradients, some tiny or zero (where epsilon sits),
in float64 on both sides, so that 1e-8 separates a formula from rounding (the recording's
docstring says why not float32)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from reglab.techniques import registry

KERAS = json.loads((Path(__file__).with_name("keras_optimizer_steps.json")).read_text())


def run(optimizer_name: str, params: dict, start, grads) -> list[np.ndarray]:
    w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = registry.lookup("optimizer", optimizer_name).build(params, [w])
    trajectory = []
    for g in grads:
        w.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
        trajectory.append(w.detach().numpy().copy())
    return trajectory


@pytest.mark.parametrize("key", sorted(KERAS["after"]))
def test_keras_compatible_mode_takes_keras_steps(key):
    name, label = key.split("/")
    params = registry.lookup("optimizer", name).defaults(keras_compat=True)
    if label == "lr0.1":
        params["lr"] = 0.1
    ours = run(name, params, KERAS["start"], KERAS["grads"])
    for step, (mine, theirs) in enumerate(zip(ours, KERAS["after"][key], strict=True)):
        np.testing.assert_allclose(mine, np.asarray(theirs), rtol=0, atol=1e-8, err_msg=f"{key} step {step + 1}")


def test_keras_adamax_differs_from_torchs_where_gradients_are_tiny():
    # The planted difference that makes the Keras form worth its own update: with PyTorch's
    # epsilon placement the recorded Keras trajectory is missed (this test fails if both agree).
    params = registry.lookup("optimizer", "adamax").defaults(keras_compat=True) | {"lr": 0.1, "eps_outside_max": False}
    ours = run("adamax", params, KERAS["start"], KERAS["grads"])
    assert np.abs(ours[-1] - np.asarray(KERAS["after"]["adamax/lr0.1"][-1])).max() > 1e-6


@pytest.mark.parametrize("name, torch_class, renames", [
    ("nadam", torch.optim.NAdam, {"lr": "lr", "eps": "eps", "momentum_decay": "momentum_decay"}),
    ("adamax", torch.optim.Adamax, {"lr": "lr", "eps": "eps"}),
    ("adadelta", torch.optim.Adadelta, {"lr": "lr", "rho": "rho", "eps": "eps"}),
])
def test_pytorch_mode_has_torch_optims_defaults(name, torch_class, renames):
    ours = registry.lookup("optimizer", name).defaults(keras_compat=False)
    theirs = inspect.signature(torch_class).parameters
    for mine, torch_name in renames.items():
        assert ours[mine] == theirs[torch_name].default, (name, mine)
    if "betas" in theirs:
        assert (ours["beta1"], ours["beta2"]) == theirs["betas"].default
    # And reglab's factory steps exactly as torch.optim with those defaults does.
    start, grads = KERAS["start"], KERAS["grads"]
    w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    reference = torch_class([w])
    for g, mine in zip(grads, run(name, ours, start, grads)):
        w.grad = torch.tensor(g, dtype=torch.float64)
        reference.step()
        np.testing.assert_allclose(mine, w.detach().numpy(), rtol=0, atol=1e-12)


def test_lion_follows_its_published_update_with_decoupled_decay():
    # Chen et al. 2023, Algorithm 2: c = b1*m + (1-b1)*g; w -= lr*(sign(c) + wd*w); m = b2*m + (1-b2)*g.
    lr, b1, b2, wd = 0.01, 0.8, 0.95, 0.5
    w = np.asarray(KERAS["start"], dtype=np.float64)
    m = np.zeros_like(w)
    ours = run("lion", {"lr": lr, "beta1": b1, "beta2": b2, "weight_decay": wd}, KERAS["start"], KERAS["grads"])
    for step, g in enumerate(KERAS["grads"]):
        g = np.asarray(g, dtype=np.float64)
        c = b1 * m + (1 - b1) * g
        w = w - lr * (np.sign(c) + wd * w)
        m = b2 * m + (1 - b2) * g
        np.testing.assert_allclose(ours[step], w, rtol=0, atol=1e-12, err_msg=f"step {step + 1}")
    # A zero direction leaves the weight where decay puts it: sign(0) = 0, as in the paper.
    assert any((np.asarray(g) == 0).any() for g in KERAS["grads"])
