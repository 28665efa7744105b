"""Learning-rate schedules: each is a pure function t -> learning rate, where t counts epochs
(applied at the start of each epoch, like Keras's LearningRateScheduler) or optimizer steps
(like Keras's LearningRateSchedule objects), as the `unit` parameter says."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from reglab.techniques.params import Param
from reglab.techniques.registry import Technique, register

UNIT = Param("unit", "str", "epoch", "what t counts: epochs or optimizer steps", choices=("epoch", "step"))
Schedule = Callable[[int], float]


def _constant(p: dict[str, Any], base_lr: float) -> Schedule:
    return lambda t: base_lr


def _step(p: dict[str, Any], base_lr: float) -> Schedule:
    # Keras PiecewiseConstantDecay: values[i] while t < boundaries[i]; values[-1] after the last.
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
    # Keras ExponentialDecay: lr0 * rate ** (t / decay_steps), floor of the exponent if staircase.
    def lr(t: int) -> float:
        exponent = t / p["decay_steps"]
        return base_lr * p["decay_rate"] ** (math.floor(exponent) if p["staircase"] else exponent)

    return lr


def _inverse_time(p: dict[str, Any], base_lr: float) -> Schedule:
    # Keras InverseTimeDecay: lr0 / (1 + rate * t / decay_steps), the "1/t" schedule.
    def lr(t: int) -> float:
        ratio = t / p["decay_steps"]
        return base_lr / (1 + p["decay_rate"] * (math.floor(ratio) if p["staircase"] else ratio))

    return lr


def _cosine_tail(p: dict[str, Any], peak: float, t: float) -> float:
    # Keras CosineDecay after warm-up: decays from `peak` to alpha * peak over decay_steps.
    progress = min(t, p["decay_steps"]) / p["decay_steps"]
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return peak * ((1 - p["alpha"]) * cosine + p["alpha"])


def _cosine(p: dict[str, Any], base_lr: float) -> Schedule:
    return lambda t: _cosine_tail(p, base_lr, t)


def _warmup_cosine(p: dict[str, Any], base_lr: float) -> Schedule:
    # Keras CosineDecay(initial_learning_rate=start, warmup_target=base_lr, warmup_steps=w):
    # linear from `warmup_start` to the base rate over w, then the cosine decay.
    def lr(t: int) -> float:
        warmup = p["warmup"]
        if t < warmup:
            return p["warmup_start"] + (base_lr - p["warmup_start"]) * t / warmup
        return _cosine_tail(p, base_lr, t - warmup)

    return lr


DECAY_STEPS = Param("decay_steps", "int", 1, "t-units per decay period", low=1)
STAIRCASE = Param("staircase", "bool", False, "decay in discrete jumps at whole periods")
ALPHA = Param("alpha", "float", 0.0, "final rate as a fraction of the starting rate", low=0.0, high=1.0)

register(Technique(
    "constant", "schedule", "The optimizer's learning rate throughout", "一定の学習率", (UNIT,), _constant,
))
register(Technique(
    "step", "schedule", "Piecewise constant: values[i] until boundaries[i] (Keras PiecewiseConstantDecay)",
    "ステップ減衰: 区間ごとに一定の学習率",
    (UNIT,
     Param("boundaries", "ints", (), "t at which the next value starts, increasing", low=1),
     Param("values", "floats", (), "learning rates, one more than boundaries", low=0.0, low_open=True)),
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
