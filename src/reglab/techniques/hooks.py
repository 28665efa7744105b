"""The contract of a technique at run time: one object with explicit state and fixed hooks.

A registration (techniques/registry.py) names a factory; the engines build one runtime object per
run from the resolved parameters, `factory(params)`, and call its hooks at fixed points. The shape
is Keras's `Callback` (every hook a no-op unless overridden, the engine calls them all at the same
places) with optax's explicit state (`state_dict` / `load_state_dict`, in every checkpoint).

One training step, in both engines (engine/reference.py, engine/fast.py), in this order:

    x, y = transform_batch(x, y, ctx)          augmentation, mixup (y may become soft targets)
    logits = model(x)
    loss = objective(logits, y, ctx)           None: plain cross-entropy (label smoothing, soft targets)
    loss.backward()
    value = gradients(weights, ctx)            add a penalty's gradient, clip; returns what it adds
    before_step(weights, ctx)                  decoupled weight decay
    optimizer.step()
    after_step(weights, ctx)                   max-norm, weight averaging

`step_gradients(compute, weights, ctx)` may wrap the gradient pass itself (`compute` runs the
transform, forward, objective, backward and gradients hooks once and returns the logits and data
loss): a technique that needs two gradient evaluations (sharpness-aware minimization) overrides it.
At most one technique of a variant may.

At the end of an epoch: `epoch_end(record, ctx)` returns a `Verdict` (stop, keep these weights) or
None; `penalty(weights)` is the value the technique adds to the objective at the epoch's weights
(EpochRecord.penalty); `epoch_fields()` adds fields to the epoch's record (max-norm's peak);
`run_fields()` to the run's (early stopping's best epoch).

Model-side techniques (dropout, normalization) answer `layer(slot)`: the architecture asks every
technique of the variant at each `Slot` of its network and inserts what comes back, so model
builders name no technique.

The fast engine trains R runs at once and asks each technique for its stacked form
(`Technique.stacked`, a class path): `Stacked(per_run, device)`, with per_run[r] the list of run
r's runtime objects of the techniques that share that form. `PerRun` below is the form that calls
each run's own hooks on its slice of the stack; a technique without a stacked form makes the fast
engine decline its variants (they train in the reference loop).

This module imports no torch: the registration modules that declare techniques subclass `Hooks`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from reglab.store.records import EpochRecord

# The hooks a step or an epoch calls, in the order above (what `overrides` looks for).
STEP_HOOKS = ("transform_batch", "objective", "gradients", "before_step", "after_step", "step_gradients")
EPOCH_HOOKS = ("evaluation_weights", "epoch_end", "penalty", "epoch_fields", "run_fields")
HOOKS = ("layer", *STEP_HOOKS, *EPOCH_HOOKS, "state_dict")


@dataclass
class Context:
    """Where training is, for the hooks of one run: set by the engine before each step."""

    image_shape: tuple[int, int]
    classes: int
    lr: float = 0.0
    base_lr: float = 0.0  # the optimizer's lr, the schedule's starting value (what it multiplies)
    epoch: int = 0
    step: int = 0  # optimizer steps taken before this one


@dataclass(frozen=True)
class Weights:
    """The tensors a hook may read or change: `kernels`, those that penalties and constraints act
    on (models' regularized_kernels(): no biases, norm scales or output layer), and `parameters`,
    every trainable tensor. Their gradients are in `.grad` inside `gradients`. In a stack both are
    the stacked tensors [R, ...] and `run(r)` gives run r's own views."""

    kernels: Sequence[torch.Tensor]
    parameters: Sequence[torch.Tensor] = ()
    # The kernels' gradients now (a stack's live beside its detached kernels); None: each kernel's .grad.
    grads: Callable[[], Sequence[torch.Tensor]] | None = None
    run: Callable[[int], Weights] | None = None

    def kernel_grads(self) -> Sequence[torch.Tensor]:
        return self.grads() if self.grads is not None else [k.grad for k in self.kernels]


@dataclass(frozen=True)
class Verdict:
    stop: bool = False  # end the run after this epoch (status stays completed, stopped_epoch is set)
    keep_weights: bool = False  # these are the weights to end with (early stopping's best epoch)


@dataclass(frozen=True)
class Slot:
    """A place in a network where a technique may insert a layer.

    block: "dense" (a hidden dense layer, or a CNN's flattened features), "conv" (a conv block) or
    "residual" (a residual block's branch, where: "branch_end", before it joins the stream);
    where: "pre_activation", "post_activation" or "block_end" (after the activation, and a conv
    block's pooling); index: the block's place among the architecture's dropout slots for "dense"
    (an MLP's hidden layer i is i; a CNN's flattened features 0 and its hidden layer i is i + 1;
    a residual MLP's block i is i, its inner layer's width), the conv or residual block's index
    otherwise; width: features or channels there; count: how many blocks of this kind the network
    has (stochastic depth's rates depend on the depth). The flattened features have a block_end
    slot only."""

    block: str
    where: str
    index: int
    width: int
    count: int = 0


class Hooks:
    """A technique's runtime object: override the hooks it acts at; the rest do nothing."""

    # The technique's own random stream (Technique.stream), set by the engine when it names one.
    generator: torch.Generator | None = None

    def layer(self, slot: Slot) -> torch.nn.Module | None:
        return None

    def transform_batch(self, x: torch.Tensor, y: torch.Tensor, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        return x, y

    def objective(self, logits: torch.Tensor, y: torch.Tensor, ctx: Context) -> torch.Tensor | None:
        return None

    def gradients(self, weights: Weights, ctx: Context) -> torch.Tensor | None:
        return None

    def before_step(self, weights: Weights, ctx: Context) -> None:
        pass

    def after_step(self, weights: Weights, ctx: Context) -> None:
        pass

    def step_gradients(self, compute: Callable[[], Any], weights: Weights, ctx: Context) -> Any:
        return compute()

    def evaluation_weights(self, model: torch.nn.Module, x_train: torch.Tensor, ctx: Context) -> bool:
        """Put the weights to evaluate with into `model`, in place; False: evaluate the trained ones."""
        return False

    def epoch_end(self, record: EpochRecord, ctx: Context) -> Verdict | None:
        return None

    def penalty(self, weights: Weights) -> torch.Tensor | None:
        return None

    def epoch_fields(self) -> dict[str, Any]:
        return {}

    def run_fields(self) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any] | None:
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def overrides(runtime: object, hook: str) -> bool:
    """Whether `runtime` acts at `hook` (a Hooks subclass that overrides it)."""
    return isinstance(runtime, Hooks) and getattr(type(runtime), hook) is not getattr(Hooks, hook)


@dataclass
class RunSlot:
    """One run of a stack as its stacked forms see it: its index, context and whether it still trains."""

    index: int
    ctx: Context
    active: bool = True


class Stacked:
    """A technique's stacked form for the fast engine: the hooks of every run of a stack at once.
    `per_run[r]`: run r's runtime objects of the techniques that share this form (empty when run
    r has none). Every hook a no-op unless overridden; `runs[r]` is run r's `RunSlot`.

    - transform_batch(x [R, B, ...], y [R, B], runs): change each run's batch in place;
    - loss_gradient(logits [R, B, K], y [R, B]) -> (data losses [R], d objective / d logits): the
      objective of a hand-derived network (engine/stacked_mlp.py); autograd's networks call each
      run's own `objective` hook instead;
    - gradients(weights, runs) -> values [R] or None; penalty(weights) -> values [R] or None;
    - before_step(weights, runs), after_step(weights, runs);
    - stack_order(own) (a classmethod): where a run with these runtime objects sits in its
      optimizer group, for forms that work on contiguous slices of the stack (penalties)."""

    def __init__(self, per_run: Sequence[Sequence[Hooks]], device: Any = None):
        self.per_run = per_run
        self.device = device

    @classmethod
    def stack_order(cls, own: Sequence[Hooks]) -> Any:
        return 0

    def acts_at(self, hook: str) -> bool:
        """Whether this form does anything at `hook` (the fast engine calls only those, every step)."""
        return stacked_overrides(self, hook)

    def transform_batch(self, x: torch.Tensor, y: torch.Tensor, runs: Sequence[RunSlot]) -> None:
        pass

    def loss_gradient(self, logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        return None

    def gradients(self, weights: Weights, runs: Sequence[RunSlot]) -> torch.Tensor | None:
        return None

    def penalty(self, weights: Weights) -> torch.Tensor | None:
        return None

    def before_step(self, weights: Weights, runs: Sequence[RunSlot]) -> None:
        pass

    def after_step(self, weights: Weights, runs: Sequence[RunSlot]) -> None:
        pass


def stacked_overrides(form: object, hook: str) -> bool:
    return getattr(type(form), hook) is not getattr(Stacked, hook)


class PerRun(Stacked):
    """The stacked form that calls each run's own hooks on its own slice: right for a technique
    whose hooks act on one run's tensors alone (constraints, augmentation), at the cost of a Python
    loop over the runs per step."""

    def __init__(self, per_run: Sequence[Sequence[Hooks]], device: Any = None):
        super().__init__(per_run, device)
        self._hooked = {hook: [r for r, own in enumerate(per_run) if any(overrides(h, hook) for h in own)]
                        for hook in ("transform_batch", "before_step", "after_step")}

    def acts_at(self, hook: str) -> bool:
        return bool(self._hooked.get(hook))

    def transform_batch(self, x: torch.Tensor, y: torch.Tensor, runs: Sequence[RunSlot]) -> None:
        """Every run's batch (a finished run's stream may advance: nothing reads its batch)."""
        for r in self._hooked["transform_batch"]:
            xr, yr = x_view, y_view = x[r], y[r]
            for hooks in self.per_run[r]:
                xr, yr = hooks.transform_batch(xr, yr, runs[r].ctx)
            if xr is not x_view:
                x[r] = xr
            if yr is not y_view:
                y[r] = yr

    def before_step(self, weights: Weights, runs: Sequence[RunSlot]) -> None:
        self._each("before_step", weights, runs)

    def after_step(self, weights: Weights, runs: Sequence[RunSlot]) -> None:
        self._each("after_step", weights, runs)

    def _each(self, hook: str, weights: Weights, runs: Sequence[RunSlot]) -> None:
        for r in self._hooked[hook]:
            if runs[r].active:
                own = weights.run(r)
                for hooks in self.per_run[r]:
                    getattr(hooks, hook)(own, runs[r].ctx)
