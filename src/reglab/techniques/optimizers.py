"""Optimizers: thin factories over torch.optim, with Keras's defaults in Keras-compatible mode.

Keras and PyTorch differ in defaults, not algorithms, for what the tutorial uses: Adam and
RMSprop epsilon (1e-7 vs 1e-8), RMSprop's decay (rho 0.9 vs alpha 0.99), Adagrad's initial
accumulator (0.1 vs 0) and epsilon, Nadam's momentum schedule (0.96**t vs 0.96**(0.004 t)),
Adadelta's learning rate (0.001 vs 1.0). Where the formula itself differs (RMSprop's and Adamax's
epsilon) or torch.optim has none (Lion), keras_optimizers.py has the update. The base learning rate `lr` is what a schedule starts from.

Names, parameters and descriptions are declared without torch in catalog.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from reglab.techniques.keras_optimizers import KerasAdamax, KerasRMSprop, Lion

Tensors = Iterable[torch.Tensor]

# Fused kernels update every tensor of a model in one pass: measured on two CPU cores for the
# tutorial's 575k-parameter model, Adam takes 0.29 ms a step fused against 2.6 ms as torch.optim
# runs it by default (one small kernel per tensor and operation). Same formulas, same results up
# to float32 rounding. torch has fused kernels for every optimizer here on the CPU, but on CUDA
# only Adam's and AdamW's are in every recent release (torch 2.11 refused fused=True on CUDA at
# the first step of SGD or Adagrad); elsewhere foreach, the next best, as for RMSprop anywhere.
def _fast(optimizer: type[torch.optim.Optimizer], params: Tensors, *, fused_on_cuda: bool = False,
          **settings: Any) -> torch.optim.Optimizer:
    params = list(params)
    devices = {p.device.type for p in params}
    fused = devices == {"cpu"} or (fused_on_cuda and devices == {"cuda"})
    return optimizer(params, **({"fused": True} if fused else {"foreach": True}), **settings)


def _sgd(p: dict[str, Any], params: Tensors) -> torch.optim.Optimizer:
    return _fast(torch.optim.SGD, params, lr=p["lr"])


def _momentum(p: dict[str, Any], params: Tensors) -> torch.optim.Optimizer:
    return _fast(torch.optim.SGD, params, lr=p["lr"], momentum=p["momentum"])


def _nesterov(p: dict[str, Any], params: Tensors) -> torch.optim.Optimizer:
    return _fast(torch.optim.SGD, params, lr=p["lr"], momentum=p["momentum"], nesterov=True)


def _rmsprop(p: dict[str, Any], params: Tensors) -> torch.optim.Optimizer:
    if p["eps_inside_sqrt"]:
        return KerasRMSprop(params, lr=p["lr"], rho=p["rho"], eps=p["eps"])
    return torch.optim.RMSprop(params, lr=p["lr"], alpha=p["rho"], eps=p["eps"], foreach=True)


def _adagrad(p: dict[str, Any], params: Tensors) -> torch.optim.Optimizer:
    return _fast(torch.optim.Adagrad, params, lr=p["lr"], eps=p["eps"],
                 initial_accumulator_value=p["initial_accumulator_value"])


def _adam(p: dict[str, Any], params: Tensors) -> torch.optim.Optimizer:
    return _fast(torch.optim.Adam, params, fused_on_cuda=True, lr=p["lr"], betas=(p["beta1"], p["beta2"]),
                 eps=p["eps"])


def _adamw(p: dict[str, Any], params: Tensors) -> torch.optim.Optimizer:
    return _fast(torch.optim.AdamW, params, fused_on_cuda=True, lr=p["lr"], betas=(p["beta1"], p["beta2"]),
                 eps=p["eps"], weight_decay=p["weight_decay"])


def _nadam(p: dict[str, Any], params: Tensors) -> torch.optim.Optimizer:
    # torch's mu_t = beta1*(1 - 0.5*0.96**(t*momentum_decay)); Keras's is momentum_decay = 1.
    return torch.optim.NAdam(params, lr=p["lr"], betas=(p["beta1"], p["beta2"]), eps=p["eps"],
                             momentum_decay=p["momentum_decay"], foreach=True)


def _adamax(p: dict[str, Any], params: Tensors) -> torch.optim.Optimizer:
    if p["eps_outside_max"]:
        return KerasAdamax(params, lr=p["lr"], beta1=p["beta1"], beta2=p["beta2"], eps=p["eps"])
    return torch.optim.Adamax(params, lr=p["lr"], betas=(p["beta1"], p["beta2"]), eps=p["eps"], foreach=True)


def _adadelta(p: dict[str, Any], params: Tensors) -> torch.optim.Optimizer:
    return torch.optim.Adadelta(params, lr=p["lr"], rho=p["rho"], eps=p["eps"], foreach=True)


def _lion(p: dict[str, Any], params: Tensors) -> torch.optim.Optimizer:
    return Lion(params, lr=p["lr"], beta1=p["beta1"], beta2=p["beta2"], weight_decay=p["weight_decay"])
