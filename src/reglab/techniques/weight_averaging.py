"""Weight averaging: the network is evaluated, tested and stored with an average of the weights
it went through, not with the last ones (the engines call `evaluation_weights` before each
epoch's evaluation, and keep the average at the run's end: techniques/hooks.py).

- SWA (Izmailov et al. 2018, "Averaging Weights Leads to Wider Optima and Better Generalization"),
  as torch.optim.swa_utils: from epoch `start` on, the weights at each epoch's end join an equal
  average (AveragedModel's default, avg += (w - avg) / (n + 1)); batch normalization's running
  statistics are then recomputed for the averaged weights with one pass over the training data
  (update_bn: cumulative averages over batches of batch_size; dropout stays off during that pass,
  where update_bn leaves the network in training mode). Before `start`, the trained weights are
  evaluated. The learning rate is the variant's schedule (swa_utils.SWALR is a schedule of its own).
- EMA, as Keras's optimizers with use_ema: after every step avg = momentum*avg + (1-momentum)*w,
  the first step's weights taken as they are (torch's get_ema_multi_avg_fn). Batch normalization's
  running statistics are the trained network's, as in Keras. Keras evaluates its per-epoch
  validation with the trained weights and moves to the average only at the end of fit; here every
  epoch's validation sees the average, so that the curves show what the average does.

Declared without torch in catalog.py. Both average every trainable tensor (biases, norm scales).
With early stopping's restore_best, the run ends with the best epoch's trained weights, as without
averaging (its records were evaluated with the average).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from reglab.techniques.hooks import Context, Hooks, Weights


def _trainable(model: nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


class EMA(Hooks):
    def __init__(self, p: dict[str, Any]):
        self.momentum = p["momentum"]
        self.average: list[torch.Tensor] | None = None

    def after_step(self, weights: Weights, ctx: Context) -> None:
        if self.average is None:
            self.average = [w.detach().clone() for w in weights.parameters]
        else:
            torch._foreach_lerp_(self.average, [w.detach() for w in weights.parameters], 1 - self.momentum)

    @torch.no_grad()
    def evaluation_weights(self, model: nn.Module, x_train: torch.Tensor, ctx: Context) -> bool:
        if self.average is None:
            return False
        torch._foreach_copy_(_trainable(model), self.average)
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"average": self.average}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.average = state["average"]


class SWA(Hooks):
    def __init__(self, p: dict[str, Any]):
        self.start, self.batch_size = p["start"], p["batch_size"]
        self.average: list[torch.Tensor] | None = None
        self.averaged = 0  # how many epochs' weights are in the average
        self.last_epoch = -1  # the last epoch folded in: the run's end asks again for the same one

    @torch.no_grad()
    def evaluation_weights(self, model: nn.Module, x_train: torch.Tensor, ctx: Context) -> bool:
        if ctx.epoch >= self.start and ctx.epoch > self.last_epoch:
            current = [w.detach() for w in _trainable(model)]
            if self.average is None:
                self.average = [w.clone() for w in current]
            else:
                torch._foreach_lerp_(self.average, current, 1.0 / (self.averaged + 1))
            self.averaged, self.last_epoch = self.averaged + 1, ctx.epoch
        if self.average is None:
            return False
        torch._foreach_copy_(_trainable(model), self.average)
        update_batch_norm(model, x_train, self.batch_size)
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"average": self.average, "averaged": self.averaged, "last_epoch": self.last_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.average, self.averaged, self.last_epoch = state["average"], state["averaged"], state["last_epoch"]


@torch.no_grad()
def update_batch_norm(model: nn.Module, x: torch.Tensor, batch_size: int) -> None:
    """torch.optim.swa_utils.update_bn over `x` in batches of `batch_size`: each batch norm's
    running statistics reset and recomputed as the plain average over the batches (momentum None),
    with only the batch norms in training mode. Nothing happens without batch norm."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    was_training = model.training
    model.eval()
    momenta = {}
    for norm in norms:
        norm.reset_running_stats()
        momenta[norm] = norm.momentum
        norm.momentum = None
        norm.train()
    for start in range(0, x.shape[0], batch_size):
        model(x[start:start + batch_size])
    for norm in norms:
        norm.momentum = momenta[norm]
    model.train(was_training)
