"""Keras's RMSprop, exactly: its epsilon sits inside the square root.

Keras:   v = rho*v + (1-rho)*g²;  w -= lr * g / sqrt(v + eps)
PyTorch: v = alpha*v + (1-alpha)*g²;  w -= lr * g / (sqrt(v) + eps)
With eps = 1e-7 the two differ wherever sqrt(v) is small: sqrt(1e-7) = 3.2e-4 bounds Keras's
denominator from below, while PyTorch's can fall to 1e-7. (Adam's epsilon placement also differs,
but there it is eps*sqrt(1 - beta2**t) against eps, both far below sqrt(v): torch.optim.Adam is kept.)
"""

from __future__ import annotations

import torch


class KerasRMSprop(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, rho: float = 0.9, eps: float = 1e-7):
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102 - the formula is in the module docstring
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
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
        return loss
