"""Learning-rate schedules. Each `build(params, base_lr)` returns a schedule: a callable t -> learning
rate, where t counts epochs (applied at the start of each epoch, like Keras's LearningRateScheduler)
or optimizer steps (like Keras's LearningRateSchedule objects), as the `unit` parameter says.

Most schedules are pure functions of t. `reduce_on_plateau` is stateful (Keras's ReduceLROnPlateau
callback): its schedule object is also a technique's runtime object (techniques/hooks.py), whose
`epoch_end` the engines call at the end of every epoch, with `state_dict()` / `load_state_dict()`
for resuming.

The formulas were checked against Keras 3 (keras/src/optimizers/schedules/learning_rate_schedule.py
and keras/src/callbacks/reduce_lr_on_plateau.py); each function says where it departs, if at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from reglab.techniques.hooks import Context, Hooks
from reglab.techniques.params import Param
from reglab.techniques.registry import Technique, Words, describe_family, register

UNIT = Param("unit", "str", "epoch", "what t counts: epochs or optimizer steps", choices=("epoch", "step"))
Schedule = Callable[[int], float]


def _constant(p: dict[str, Any], base_lr: float) -> Schedule:
    return lambda t: base_lr


def _step(p: dict[str, Any], base_lr: float) -> Schedule:
    """Piecewise constant: values[i] applies while t < boundaries[i]; values[-1] from t = boundaries[-1] on.

    This is the tutorial's LearningRateScheduler function (boundaries [5, 10], values
    [1e-3, 5e-4, 1e-4]: epochs 0-4 -> 1e-3, 5-9 -> 5e-4, 10 and later -> 1e-4), so a boundary is
    the first t that gets the next value.

    Keras's PiecewiseConstantDecay differs by one at each boundary: it uses values[0] while
    `step <= boundaries[0]`, values[i] while `boundaries[i-1] < step <= boundaries[i]`, and
    values[-1] while `step > boundaries[-1]` (its __call__ casts `step <= boundaries[0]`,
    `(step > low) & (step <= high)` and `step > boundaries[-1]`). Since t is an integer,
    `t <= b` is `t < b + 1`: PiecewiseConstantDecay(boundaries=B, values=V) is this schedule with
    boundaries [b + 1 for b in B] and the same values.
    """
    boundaries, values = p["boundaries"], p["values"]

    def lr(t: int) -> float:
        for boundary, value in zip(boundaries, values):
            if t < boundary:
                return value
        return values[-1]

    return lr


def _check_step(p: dict[str, Any]) -> list[str]:
    problems = []
    if not p["values"]:
        problems.append("values: give at least one learning rate")
    elif len(p["values"]) != len(p["boundaries"]) + 1:
        problems.append(f"values: needs one more entry than boundaries ({len(p['boundaries'])} boundaries, "
                        f"{len(p['values'])} values)")
    if any(b <= a for a, b in zip(p["boundaries"], p["boundaries"][1:])):
        problems.append(f"boundaries: must increase, got {list(p['boundaries'])}")
    return problems


def _exponential(p: dict[str, Any], base_lr: float) -> Schedule:
    # Keras ExponentialDecay: p = step / decay_steps, floored if staircase; lr0 * decay_rate ** p.
    # Checked: same formula.
    def lr(t: int) -> float:
        exponent = t / p["decay_steps"]
        return base_lr * p["decay_rate"] ** (math.floor(exponent) if p["staircase"] else exponent)

    return lr


def _inverse_time(p: dict[str, Any], base_lr: float) -> Schedule:
    # Keras InverseTimeDecay: p = step / decay_steps, floored if staircase; lr0 / (1 + decay_rate * p),
    # the "1/t" schedule. Checked: same formula.
    def lr(t: int) -> float:
        ratio = t / p["decay_steps"]
        return base_lr / (1 + p["decay_rate"] * (math.floor(ratio) if p["staircase"] else ratio))

    return lr


def _cosine_tail(p: dict[str, Any], peak: float, t: float) -> float:
    # Keras CosineDecay._decay_function on min(step, decay_steps):
    # peak * ((1 - alpha) * 0.5 * (1 + cos(pi * step / decay_steps)) + alpha). Checked: same formula.
    progress = min(t, p["decay_steps"]) / p["decay_steps"]
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return peak * ((1 - p["alpha"]) * cosine + p["alpha"])


def _cosine(p: dict[str, Any], base_lr: float) -> Schedule:
    return lambda t: _cosine_tail(p, base_lr, t)


def _warmup_cosine(p: dict[str, Any], base_lr: float) -> Schedule:
    """Keras CosineDecay(initial_learning_rate=warmup_start, decay_steps, alpha,
    warmup_target=base_lr, warmup_steps=warmup).

    Keras clamps step to decay_steps + warmup_steps; while step < warmup_steps it returns
    `(warmup_target - initial_learning_rate) * (step / warmup_steps) + initial_learning_rate`
    (_warmup_function; the class docstring leaves out the `+ initial_learning_rate`, the code has
    it), and from warmup_steps on the cosine decay of `step - warmup_steps` from warmup_target to
    alpha * warmup_target. So t = warmup gives exactly base_lr, and t >= warmup + decay_steps gives
    alpha * base_lr. The phases were already the same as Keras; only the warm-up's order of
    operations changed (see below).
    """
    start, warmup = p["warmup_start"], p["warmup"]

    def lr(t: int) -> float:
        if t < warmup:
            # Fixed to Keras's order, fraction first: the old `(base_lr - start) * t / warmup`
            # multiplied by t before dividing, which can overflow to inf for a large rate and t.
            return (base_lr - start) * (t / warmup) + start
        return _cosine_tail(p, base_lr, t - warmup)

    return lr


class ReduceOnPlateau(Hooks):
    """Keras ReduceLROnPlateau(monitor="val_loss", mode="min"), as a schedule object.

    `schedule(t)` returns the current rate (t, the epoch, is not needed: the rate depends only on
    the validation losses observed so far). `observe(epoch, val_loss)` is called at the end of each
    epoch and follows Keras's on_epoch_end:

    - if in cooldown, count the cooldown down by one and reset `wait`;
    - an improvement is `val_loss < best - min_delta` (NaN never is): then best = val_loss, wait = 0;
    - otherwise, if not (still) in cooldown, wait += 1, and once wait >= patience, if lr > min_lr:
      lr = max(lr * factor, min_lr), cooldown_counter = cooldown, wait = 0.

    So with patience p the rate drops after p epochs in a row without improvement, and the next
    epoch trains with the reduced rate. Because the cooldown is counted down before it is tested
    (as in Keras), cooldown c skips c - 1 epochs: cooldown 1 behaves like cooldown 0. Keras compares `lr > float32(min_lr)` because it reads the
    rate back from a float32 variable; here the rate is kept as a Python float, so `lr > min_lr`.
    """

    def __init__(self, base_lr: float, *, factor: float = 0.1, patience: int = 10, min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0):
        self.factor, self.patience, self.min_delta = factor, patience, abs(min_delta)
        self.cooldown, self.min_lr = cooldown, min_lr
        self.lr = float(base_lr)
        self.best = math.inf
        self.wait = 0
        self.cooldown_counter = 0
        self.last_epoch = -1

    def __call__(self, t: int) -> float:
        return self.lr

    def epoch_end(self, record: Any, ctx: Context) -> None:
        self.observe(record.epoch, record.val_loss)

    def observe(self, epoch: int, val_loss: float) -> None:
        self.last_epoch = epoch
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if val_loss < self.best - self.min_delta:
            self.best = val_loss
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience and self.lr > self.min_lr:
                self.lr = max(self.lr * self.factor, self.min_lr)
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def state_dict(self) -> dict[str, float | int]:
        """Plain floats and ints, safe for strict JSON: `best` is left out until a finite one is seen."""
        state: dict[str, float | int] = {"lr": self.lr, "wait": self.wait, "cooldown_counter": self.cooldown_counter,
                                         "last_epoch": self.last_epoch}
        if math.isfinite(self.best):
            state["best"] = self.best
        return state

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        self.lr = float(state["lr"])
        self.wait = int(state["wait"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self.last_epoch = int(state.get("last_epoch", -1))
        self.best = float(state.get("best", math.inf))


def _reduce_on_plateau(p: dict[str, Any], base_lr: float) -> ReduceOnPlateau:
    return ReduceOnPlateau(base_lr, factor=p["factor"], patience=p["patience"], min_delta=p["min_delta"],
                           cooldown=p["cooldown"], min_lr=p["min_lr"])


def _check_reduce_on_plateau(p: dict[str, Any]) -> list[str]:
    if p["unit"] != "epoch":
        return [f"unit: reduce_on_plateau changes the rate once per epoch, from the validation loss: "
                f"must be 'epoch', got {p['unit']!r}"]
    return []


DECAY_STEPS = Param("decay_steps", "int", 1, "t-units per decay period", low=1)
STAIRCASE = Param("staircase", "bool", False, "decay in discrete jumps at whole periods")
ALPHA = Param("alpha", "float", 0.0, "final rate as a fraction of the starting rate", low=0.0, high=1.0)

register(Technique(
    "constant", "schedule", "The optimizer's learning rate throughout", "一定の学習率", (UNIT,), _constant,
))
register(Technique(
    "step", "schedule",
    "Piecewise constant: values[i] while t < boundaries[i] (Keras PiecewiseConstantDecay with boundaries + 1)",
    "ステップ減衰: 区間ごとに一定の学習率",
    (UNIT,
     # The defaults are the tutorial's schedule: 1e-3 for epochs 0-4, 5e-4 for 5-9, 1e-4 after.
     Param("boundaries", "ints", (5, 10), "first t of the next value, increasing (Keras boundary b is b + 1 here)",
           low=1),
     Param("values", "floats", (0.001, 0.0005, 0.0001), "learning rates, one more than boundaries", low=0.0, low_open=True)),
    _step, check=lambda p: _check_step(p),
))
register(Technique(
    "exponential", "schedule", "lr0 * decay_rate ** (t / decay_steps) (Keras ExponentialDecay)",
    "指数減衰: η_t = η_0 · r^(t/T)",
    (UNIT, DECAY_STEPS, Param("decay_rate", "float", 0.9, "factor per decay period", low=0.0, high=1.0, low_open=True),
     STAIRCASE),
    _exponential,
))
register(Technique(
    "inverse_time", "schedule", "lr0 / (1 + decay_rate * t / decay_steps) (Keras InverseTimeDecay)",
    "逆時間減衰 (1/t): η_t = η_0 / (1 + r·t/T)",
    (UNIT, DECAY_STEPS, Param("decay_rate", "float", 0.5, "how fast the rate falls", low=0.0), STAIRCASE),
    _inverse_time,
))
register(Technique(
    "cosine", "schedule", "Cosine decay from lr0 to alpha*lr0 over decay_steps (Keras CosineDecay)",
    "コサイン減衰", (UNIT, DECAY_STEPS, ALPHA), _cosine,
))
register(Technique(
    "warmup_cosine", "schedule", "Linear warm-up to lr0, then cosine decay (Keras CosineDecay with warmup)",
    "ウォームアップ付きコサイン減衰",
    (UNIT, DECAY_STEPS, ALPHA,
     Param("warmup", "int", 1, "t-units of linear warm-up", low=1),
     Param("warmup_start", "float", 0.0, "learning rate at t = 0", low=0.0)),
    _warmup_cosine,
))
register(Technique(
    "reduce_on_plateau", "schedule",
    "Multiply the rate by factor after patience epochs without val_loss improvement (Keras ReduceLROnPlateau)",
    "停滞時に学習率を下げる (val_loss 監視)",
    (Param("unit", "str", "epoch", "what t counts: epochs only (the rate changes at epoch ends)",
           choices=("epoch", "step")),
     Param("factor", "float", 0.1, "new rate = rate * factor", low=0.0, high=1.0, low_open=True, high_open=True),
     Param("patience", "int", 10, "epochs without improvement before the rate is reduced", low=0),
     Param("min_delta", "float", 1e-4, "val_loss must fall by more than this to count as an improvement",
           low=0.0),
     Param("cooldown", "int", 0, "epochs after a reduction before counting resumes", low=0),
     Param("min_lr", "float", 0.0, "the rate is never reduced below this", low=0.0)),
    _reduce_on_plateau, check=_check_reduce_on_plateau,
))


describe_family('schedule', Words(name=('learning-rate schedule', '学習率スケジューリング'), note=(
    '<b>Learning-rate scheduling</b>: the learning rate changes during training. Step decay lowers '
    "it after set epochs (the tutorial's 1e-3 → 5e-4 → 1e-4); exponential decay lr = "
    'lr<sub>0</sub>·e<sup>−kt</sup>; 1/t decay lr = lr<sub>0</sub>/(1 + kt); cosine decay; warm-up '
    'starts small.',
    '<b>学習率スケジューリング</b>: 訓練中に学習率を変えます。ステップ減衰は特定のエポック数の後に学習率を段階的に下げます（チュートリアルの 1e-3 → 5e-4 → 1e-4）。'
    '指数減衰 lr = lr<sub>0</sub> · e<sup>−kt</sup>、1/t 減衰 lr = lr<sub>0</sub> / (1 + kt)、コサイン減衰、'
    'ウォームアップ（小さな学習率から始める）などがあります。')))
