"""Optimizers: thin factories over torch.optim, with Keras's defaults in Keras-compatible mode.

Keras and PyTorch differ in defaults, not algorithms, for what the tutorial uses: Adam and
RMSprop epsilon (1e-7 vs 1e-8), RMSprop's decay (rho 0.9 vs alpha 0.99), Adagrad's initial
accumulator (0.1 vs 0) and epsilon. The base learning rate `lr` is what a schedule starts from.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from reglab.techniques.keras_optimizers import KerasRMSprop
from reglab.techniques.params import Param
from reglab.techniques.registry import Technique, register

LR = Param("lr", "float", 0.01, "learning rate (the schedule's starting value)", low=0.0, low_open=True)
LR_ADAPTIVE = Param("lr", "float", 0.001, "learning rate (the schedule's starting value)", low=0.0, low_open=True)
EPS = Param("eps", "float", 1e-8, "added to the denominator for numerical stability", low=0.0, low_open=True)
BETA1 = Param("beta1", "float", 0.9, "decay of the first-moment (mean) estimate", low=0.0, high=1.0, high_open=True)
BETA2 = Param("beta2", "float", 0.999, "decay of the second-moment estimate", low=0.0, high=1.0, high_open=True)
MOMENTUM = Param("momentum", "float", 0.9, "momentum coefficient (Keras and PyTorch mean the same)", low=0.0, high=1.0, high_open=True)

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


register(Technique(
    "sgd", "optimizer", "Plain stochastic gradient descent: w -= lr * g",
    "確率的勾配降下法 (SGD): w ← w − η∇L", (LR,), _sgd,
))
register(Technique(
    "momentum", "optimizer", "SGD with momentum: v = m*v + g; w -= lr * v",
    "モーメンタム付き SGD: 過去の勾配の移動平均で振動を抑える", (LR, MOMENTUM), _momentum,
))
register(Technique(
    "nesterov", "optimizer", "SGD with Nesterov momentum (looks ahead before the gradient step)",
    "ネステロフのモーメンタム付き SGD", (LR, MOMENTUM), _nesterov,
))
register(Technique(
    "rmsprop", "optimizer", "RMSprop: divides the step by a running RMS of recent gradients",
    "RMSprop: 勾配の二乗の移動平均で学習率を適応的に調整",
    (LR_ADAPTIVE, Param("rho", "float", 0.99, "decay of the squared-gradient average (PyTorch alpha)",
                        low=0.0, high=1.0, high_open=True), EPS,
     Param("eps_inside_sqrt", "bool", False, "Keras form g/sqrt(v+eps) instead of PyTorch's g/(sqrt(v)+eps)")),
    _rmsprop, keras_defaults={"rho": 0.9, "eps": 1e-7, "eps_inside_sqrt": True},
))
register(Technique(
    "adagrad", "optimizer", "Adagrad: per-weight steps shrink with the sum of squared gradients",
    "Adagrad: 勾配の二乗和でパラメータごとに学習率を調整",
    (Param("lr", "float", 0.01, "learning rate", low=0.0, low_open=True),
     Param("initial_accumulator_value", "float", 0.0, "starting value of the squared-gradient sum", low=0.0),
     Param("eps", "float", 1e-10, "added to the denominator for numerical stability", low=0.0, low_open=True)),
    _adagrad, keras_defaults={"lr": 0.001, "initial_accumulator_value": 0.1, "eps": 1e-7},
))
register(Technique(
    "adam", "optimizer", "Adam: momentum plus RMSprop-style scaling, with bias correction",
    "Adam: モーメンタムと RMSprop を組み合わせた適応的最適化", (LR_ADAPTIVE, BETA1, BETA2, EPS), _adam,
    keras_defaults={"eps": 1e-7},
))
register(Technique(
    "adamw", "optimizer", "AdamW: Adam with decoupled weight decay (Loshchilov & Hutter)",
    "AdamW: 重み減衰を勾配から切り離した Adam",
    (LR_ADAPTIVE, BETA1, BETA2, EPS,
     Param("weight_decay", "float", 0.01, "decoupled decay: w -= lr * weight_decay * w each step", low=0.0)),
    _adamw, keras_defaults={"eps": 1e-7, "weight_decay": 0.004},
))
