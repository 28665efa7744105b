"""Update rules torch.optim lacks or writes differently from Keras: Keras's RMSprop and Adamax
(where epsilon sits), and Lion, which torch.optim does not have.

RMSprop: its epsilon sits inside the square root.

Keras:   v = rho*v + (1-rho)*g²;  w -= lr * g / sqrt(v + eps)
PyTorch: v = alpha*v + (1-alpha)*g²;  w -= lr * g / (sqrt(v) + eps)
With eps = 1e-7 the two differ wherever sqrt(v) is small: sqrt(1e-7) = 3.2e-4 bounds Keras's
denominator from below, while PyTorch's can fall to 1e-7. (Adam's epsilon placement also differs,
but there it is eps*sqrt(1 - beta2**t) against eps, both far below sqrt(v): torch.optim.Adam is kept.)

Adamax: epsilon is added after the maximum.
Keras:   u = max(beta2*u, |g|);        w -= lr/(1-beta1**t) * m / (u + eps)
PyTorch: u = max(beta2*u, |g| + eps);  w -= lr/(1-beta1**t) * m / u
PyTorch's u carries every past eps, decayed; where a weight's gradient is small the two
denominators differ by a fraction of eps that 1e-6 parity of the weights notices.

Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2):
  c = beta1*m + (1-beta1)*g;  w -= lr * (sign(c) + wd*w);  m = beta2*m + (1-beta2)*g
Every coordinate moves by exactly lr (plus decay): the step's size does not follow the gradient's.
"""

from __future__ import annotations

import torch


def _state(optimizer: torch.optim.Optimizer, params: list[torch.Tensor], *names: str) -> list[list[torch.Tensor]]:
    """Each named state tensor of every parameter (zeros at the first step), one list per name."""
    for p in params:
        state = optimizer.state[p]
        if not state:
            for name in names:
                state[name] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step"] = 0
        state["step"] += 1
    return [[optimizer.state[p][name] for p in params] for name in names]


def _with_grads(group: dict) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    params = [p for p in group["params"] if p.grad is not None]
    return params, [p.grad for p in params]


class _ForeachOptimizer(torch.optim.Optimizer):
    """torch.optim's step protocol (the closure, parameters without a gradient skipped) around one
    foreach update of a group's tensors: the subclasses write only `_update`, their formula."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads = _with_grads(group)
            if params:
                self._update(group, params, grads)
        return loss

    def _update(self, group: dict, params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        raise NotImplementedError


class KerasRMSprop(_ForeachOptimizer):
    def __init__(self, params, lr: float = 1e-3, rho: float = 0.9, eps: float = 1e-7):
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps})

    def _update(self, group: dict, params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        squares = []
        for p in params:
            state = self.state[p]
            if not state:
                state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            squares.append(state["square_avg"])
        # foreach ops: one kernel per operation over all tensors, not one per tensor.
        torch._foreach_mul_(squares, group["rho"])
        torch._foreach_addcmul_(squares, grads, grads, value=1 - group["rho"])
        denominators = torch._foreach_add(squares, group["eps"])
        torch._foreach_sqrt_(denominators)
        torch._foreach_addcdiv_(params, grads, denominators, value=-group["lr"])


class KerasAdamax(_ForeachOptimizer):
    def __init__(self, params, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7):
        super().__init__(params, {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps})

    def _update(self, group: dict, params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        means, norms = _state(self, params, "exp_avg", "exp_inf")
        step = self.state[params[0]]["step"]  # every tensor of a group steps together
        torch._foreach_lerp_(means, grads, 1 - group["beta1"])
        torch._foreach_mul_(norms, group["beta2"])
        torch._foreach_maximum_(norms, torch._foreach_abs(grads))
        denominators = torch._foreach_add(norms, group["eps"])
        torch._foreach_addcdiv_(params, means, denominators, value=-group["lr"] / (1 - group["beta1"] ** step))


class Lion(_ForeachOptimizer):
    def __init__(self, params, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.99, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "beta1": beta1, "beta2": beta2, "weight_decay": weight_decay})

    def _update(self, group: dict, params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        (means,) = _state(self, params, "exp_avg")
        if group["weight_decay"]:
            torch._foreach_mul_(params, 1 - group["lr"] * group["weight_decay"])
        directions = torch._foreach_lerp(means, grads, 1 - group["beta1"])
        torch._foreach_sign_(directions)
        torch._foreach_add_(params, directions, alpha=-group["lr"])
        torch._foreach_lerp_(means, grads, 1 - group["beta2"])
