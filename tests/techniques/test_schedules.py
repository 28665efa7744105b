"""Learning-rate schedules: hand-computed values, independent transcriptions of the Keras 3
formulas (keras/src/optimizers/schedules/learning_rate_schedule.py and
keras/src/callbacks/reduce_lr_on_plateau.py), properties, and study validation."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reglab.config import parse_study
from reglab.errors import ConfigError
from reglab.techniques import registry


def build(name: str, base_lr: float = 0.1, **params):
    technique = registry.lookup("schedule", name)
    values = technique.defaults(keras_compat=False)
    for key, raw in params.items():
        param = technique.param(key)
        assert param is not None, key
        value, problem = param.check(raw)
        assert problem is None, problem
        values[key] = value
    if technique.check is not None:
        assert technique.check(values) == []
    return technique.build(values, base_lr)


# ------------------------------------------------------------------------------ hand-computed values

HAND = [
    # (name, base_lr, params, t, expected)
    ("constant", 0.1, {}, 0, 0.1),
    ("constant", 0.1, {}, 1000, 0.1),
    ("exponential", 0.1, {"decay_rate": 0.5, "decay_steps": 2}, 0, 0.1),
    ("exponential", 0.1, {"decay_rate": 0.5, "decay_steps": 2}, 1, 0.07071067811865475),
    ("exponential", 0.1, {"decay_rate": 0.5, "decay_steps": 2}, 2, 0.05),
    ("exponential", 0.1, {"decay_rate": 0.5, "decay_steps": 2}, 3, 0.035355339059327376),
    ("exponential", 0.1, {"decay_rate": 0.5, "decay_steps": 2, "staircase": True}, 1, 0.1),
    ("exponential", 0.1, {"decay_rate": 0.5, "decay_steps": 2, "staircase": True}, 3, 0.05),
    ("exponential", 0.1, {"decay_rate": 0.5, "decay_steps": 2, "staircase": True}, 4, 0.025),
    ("inverse_time", 0.1, {"decay_rate": 0.5, "decay_steps": 1}, 0, 0.1),
    ("inverse_time", 0.1, {"decay_rate": 0.5, "decay_steps": 1}, 1, 0.06666666666666667),
    ("inverse_time", 0.1, {"decay_rate": 0.5, "decay_steps": 1}, 2, 0.05),
    ("inverse_time", 0.1, {"decay_rate": 0.5, "decay_steps": 1}, 4, 0.03333333333333333),
    ("inverse_time", 0.1, {"decay_rate": 0.5, "decay_steps": 2, "staircase": True}, 1, 0.1),
    ("inverse_time", 0.1, {"decay_rate": 0.5, "decay_steps": 2, "staircase": True}, 3, 0.06666666666666667),
    ("inverse_time", 0.1, {"decay_rate": 0.5, "decay_steps": 2, "staircase": True}, 4, 0.05),
    ("cosine", 0.1, {"decay_steps": 10}, 0, 0.1),
    ("cosine", 0.1, {"decay_steps": 10}, 5, 0.05),
    ("cosine", 0.1, {"decay_steps": 10}, 10, 0.0),
    ("cosine", 0.1, {"decay_steps": 10}, 25, 0.0),
    ("cosine", 0.1, {"decay_steps": 4}, 1, 0.08535533905932737),  # 0.1 * (1 + cos(pi/4)) / 2
    ("cosine", 0.1, {"decay_steps": 10, "alpha": 0.1}, 5, 0.055),  # 0.1 * (0.9 * 0.5 + 0.1)
    ("cosine", 0.1, {"decay_steps": 10, "alpha": 0.1}, 10, 0.01),
    ("cosine", 0.1, {"decay_steps": 10, "alpha": 0.1}, 15, 0.01),
    # warm-up 4 from 0 to 0.1, then cosine over 10 to alpha * 0.1 = 0.01
    ("warmup_cosine", 0.1, {"warmup": 4, "decay_steps": 10, "alpha": 0.1}, 0, 0.0),
    ("warmup_cosine", 0.1, {"warmup": 4, "decay_steps": 10, "alpha": 0.1}, 1, 0.025),
    ("warmup_cosine", 0.1, {"warmup": 4, "decay_steps": 10, "alpha": 0.1}, 2, 0.05),  # mid-warm-up
    ("warmup_cosine", 0.1, {"warmup": 4, "decay_steps": 10, "alpha": 0.1}, 4, 0.1),  # end of warm-up
    ("warmup_cosine", 0.1, {"warmup": 4, "decay_steps": 10, "alpha": 0.1}, 9, 0.055),  # mid-decay
    ("warmup_cosine", 0.1, {"warmup": 4, "decay_steps": 10, "alpha": 0.1}, 14, 0.01),  # end
    ("warmup_cosine", 0.1, {"warmup": 4, "decay_steps": 10, "alpha": 0.1}, 100, 0.01),
    ("warmup_cosine", 0.1, {"warmup": 4, "decay_steps": 10, "warmup_start": 0.01}, 0, 0.01),
    ("warmup_cosine", 0.1, {"warmup": 4, "decay_steps": 10, "warmup_start": 0.01}, 2, 0.055),
    ("warmup_cosine", 0.1, {"warmup": 4, "decay_steps": 10, "warmup_start": 0.01}, 4, 0.1),
    ("warmup_cosine", 0.1, {"warmup": 4, "decay_steps": 10, "warmup_start": 0.01}, 14, 0.0),
    ("reduce_on_plateau", 0.1, {}, 0, 0.1),
    ("reduce_on_plateau", 0.1, {}, 7, 0.1),
]


@pytest.mark.parametrize("name, base_lr, params, t, expected", HAND,
                         ids=[f"{n}-{i}" for i, (n, *_) in enumerate(HAND)])
def test_hand_computed_values(name, base_lr, params, t, expected):
    assert build(name, base_lr, **params)(t) == pytest.approx(expected, rel=1e-12, abs=1e-15)


# ---------------------------------------------------------------------------------------- step

TUTORIAL = {"boundaries": [5, 10], "values": [1e-3, 5e-4, 1e-4]}


def tutorial_function(epoch: int) -> float:
    # The tutorial's own LearningRateScheduler function.
    if epoch < 5:
        return 1e-3
    if epoch < 10:
        return 5e-4
    return 1e-4


def test_step_is_the_tutorial_function_at_epochs_0_to_12():
    schedule = build("step", 1e-3, **TUTORIAL)
    expected = [1e-3] * 5 + [5e-4] * 5 + [1e-4] * 3
    assert [schedule(e) for e in range(13)] == expected
    assert [tutorial_function(e) for e in range(13)] == expected


def keras_piecewise(boundaries, values, step):
    # PiecewiseConstantDecay.__call__: values[0] if step <= b[0]; values[i] if b[i-1] < step <= b[i];
    # values[-1] if step > b[-1].
    result = 0.0
    result += (step <= boundaries[0]) * values[0]
    result += (step > boundaries[-1]) * values[-1]
    for low, high, value in zip(boundaries[:-1], boundaries[1:], values[1:-1]):
        result += ((step > low) and (step <= high)) * value
    return result


def test_step_differs_from_keras_piecewise_by_one_at_each_boundary():
    schedule = build("step", 1e-3, **TUTORIAL)
    # Keras with the same boundaries keeps the old value one step longer: t = 5 and t = 10.
    assert keras_piecewise([5, 10], TUTORIAL["values"], 5) == 1e-3 and schedule(5) == 5e-4
    assert keras_piecewise([5, 10], TUTORIAL["values"], 10) == 5e-4 and schedule(10) == 1e-4
    differ = [t for t in range(20) if schedule(t) != keras_piecewise([5, 10], TUTORIAL["values"], t)]
    assert differ == [5, 10]


@pytest.mark.parametrize("keras_boundaries, values", [
    ([5, 10], [1e-3, 5e-4, 1e-4]),
    ([0, 3, 4], [0.4, 0.3, 0.2, 0.1]),
    ([100], [1.0, 0.5]),
])
def test_keras_piecewise_is_step_with_boundaries_shifted_by_one(keras_boundaries, values):
    schedule = build("step", values[0], boundaries=[b + 1 for b in keras_boundaries], values=values)
    for t in range(0, 2 * keras_boundaries[-1] + 5):
        assert schedule(t) == keras_piecewise(keras_boundaries, values, t), t


def test_step_with_no_boundaries_is_constant():
    schedule = build("step", 0.1, boundaries=[], values=[0.3])
    assert {schedule(t) for t in range(50)} == {0.3}


# ------------------------------------------------------------------------ Keras formulas, written out


def keras_exponential(lr0, decay_steps, decay_rate, staircase, step):
    p = step / decay_steps
    if staircase:
        p = math.floor(p)
    return lr0 * math.pow(decay_rate, p)


def keras_inverse_time(lr0, decay_steps, decay_rate, staircase, step):
    p = step / decay_steps
    if staircase:
        p = math.floor(p)
    return lr0 / (1 + decay_rate * p)


def keras_cosine(lr0, decay_steps, alpha, step, warmup_target=None, warmup_steps=0):
    def decay(s, from_lr):
        cosine_decayed = 0.5 * (1.0 + math.cos(math.pi * (s / decay_steps)))
        return from_lr * ((1 - alpha) * cosine_decayed + alpha)

    if warmup_target is None:
        return decay(min(step, decay_steps), lr0)
    s = min(step, decay_steps + warmup_steps)
    if s < warmup_steps:
        return (warmup_target - lr0) * (s / warmup_steps) + lr0
    return decay(s - warmup_steps, warmup_target)


TS = list(range(0, 60)) + [99, 100, 101, 1000, 12345]


@pytest.mark.parametrize("base_lr, decay_steps, rate, staircase", [
    (0.1, 2, 0.5, False), (0.1, 2, 0.5, True), (1e-3, 7, 0.96, False), (1e-3, 7, 0.96, True), (3.0, 1, 1.0, False),
])
def test_exponential_is_keras_exponential_decay(base_lr, decay_steps, rate, staircase):
    schedule = build("exponential", base_lr, decay_steps=decay_steps, decay_rate=rate, staircase=staircase)
    for t in TS:
        assert schedule(t) == pytest.approx(keras_exponential(base_lr, decay_steps, rate, staircase, t), rel=1e-12)


@pytest.mark.parametrize("base_lr, decay_steps, rate, staircase", [
    (0.1, 1, 0.5, False), (0.1, 3, 0.5, True), (1e-2, 10, 2.0, False), (1e-2, 10, 0.0, True),
])
def test_inverse_time_is_keras_inverse_time_decay(base_lr, decay_steps, rate, staircase):
    schedule = build("inverse_time", base_lr, decay_steps=decay_steps, decay_rate=rate, staircase=staircase)
    for t in TS:
        assert schedule(t) == pytest.approx(keras_inverse_time(base_lr, decay_steps, rate, staircase, t), rel=1e-12)


@pytest.mark.parametrize("base_lr, decay_steps, alpha",
                         [(0.1, 10, 0.0), (0.1, 10, 0.1), (1e-3, 37, 0.5), (1.0, 1, 1.0)])
def test_cosine_is_keras_cosine_decay(base_lr, decay_steps, alpha):
    schedule = build("cosine", base_lr, decay_steps=decay_steps, alpha=alpha)
    for t in TS:
        assert schedule(t) == pytest.approx(keras_cosine(base_lr, decay_steps, alpha, t), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("base_lr, start, warmup, decay_steps, alpha", [
    (0.1, 0.0, 4, 10, 0.1), (0.1, 0.01, 4, 10, 0.0), (1e-3, 0.0, 1, 1, 0.0), (1e-3, 5e-3, 7, 30, 0.2),
])
def test_warmup_cosine_is_keras_cosine_decay_with_warmup(base_lr, start, warmup, decay_steps, alpha):
    # Keras: CosineDecay(initial_learning_rate=start, decay_steps, alpha, warmup_target=base_lr, warmup_steps=warmup)
    schedule = build("warmup_cosine", base_lr, warmup=warmup, warmup_start=start, decay_steps=decay_steps, alpha=alpha)
    for t in TS:
        expected = keras_cosine(start, decay_steps, alpha, t, warmup_target=base_lr, warmup_steps=warmup)
        assert schedule(t) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_warmup_does_not_overflow_for_a_large_rate():
    # Keras's order (fraction first); multiplying by t before dividing overflowed to inf here.
    schedule = build("warmup_cosine", 1e308, warmup=100, decay_steps=10)
    assert schedule(50) == pytest.approx(5e307)


# ------------------------------------------------------------------------------ reduce_on_plateau

#            epoch: 0     1     2      3     4     5     6     7     8     9     10    11    12    13
PLATEAU_LOSSES = [1.00, 0.90, 0.895, 0.90, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.50]
# lr used during epoch t (schedule(t) at its start, after observe(t - 1)), for factor 0.5, patience 2,
# min_delta 0.01, cooldown 2, min_lr 0.2, base 1.0:
#  0-1 improving; 2 (0.895 is not below 0.9 - 0.01) and 3 without improvement -> halve to 0.5 for epoch 4;
#  4 is in cooldown (Keras counts the cooldown down before testing it, so cooldown 2 skips one epoch);
#  5, 6 without improvement -> 0.25 for epoch 7; 7 cooldown; 8, 9 -> max(0.125, 0.2) = 0.2 for epoch 10;
#  10 cooldown; 11, 12 -> already at min_lr: stays 0.2; 13 improves.
PLATEAU_LRS = [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2, 0.2]
PLATEAU_PARAMS = {"factor": 0.5, "patience": 2, "min_delta": 0.01, "cooldown": 2, "min_lr": 0.2}


def run_plateau(schedule, losses, first_epoch=0):
    used = []
    for epoch, loss in enumerate(losses, start=first_epoch):
        used.append(schedule(epoch))
        schedule.observe(epoch, loss)
    return used + [schedule(first_epoch + len(losses))]


def test_reduce_on_plateau_scripted_sequence():
    schedule = build("reduce_on_plateau", 1.0, **PLATEAU_PARAMS)
    assert run_plateau(schedule, PLATEAU_LOSSES) == pytest.approx(PLATEAU_LRS, rel=1e-15)
    assert schedule.best == 0.5 and schedule.wait == 0


def test_reduce_on_plateau_patience_counts_epochs_in_a_row():
    schedule = build("reduce_on_plateau", 1.0, factor=0.1, patience=3)
    # 2 bad epochs, an improvement resets the count, then 3 bad epochs reduce.
    used = run_plateau(schedule, [1.0, 1.0, 1.0, 0.5, 0.6, 0.7, 0.8])
    assert used == pytest.approx([1.0] * 7 + [0.1])


def test_reduce_on_plateau_patience_zero_reduces_at_every_epoch_without_improvement():
    schedule = build("reduce_on_plateau", 1.0, factor=0.5, patience=0)
    assert run_plateau(schedule, [1.0, 2.0, 2.0, 0.1]) == pytest.approx([1.0, 1.0, 0.5, 0.25, 0.25])


def test_reduce_on_plateau_cooldown_one_skips_nothing_like_keras():
    with_cooldown = run_plateau(build("reduce_on_plateau", 1.0, factor=0.5, patience=1, cooldown=1), [1.0] * 6)
    without = run_plateau(build("reduce_on_plateau", 1.0, factor=0.5, patience=1, cooldown=0), [1.0] * 6)
    assert with_cooldown == without == pytest.approx([1.0, 1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125])


def test_reduce_on_plateau_nan_loss_is_no_improvement_and_min_lr_floors():
    schedule = build("reduce_on_plateau", 0.1, factor=0.1, patience=1, min_lr=0.005)
    assert run_plateau(schedule, [math.nan, math.nan, math.nan]) == pytest.approx([0.1, 0.01, 0.005, 0.005])
    assert schedule.best == math.inf


def test_reduce_on_plateau_state_round_trips_through_strict_json():
    fresh = build("reduce_on_plateau", 1.0, **PLATEAU_PARAMS)
    assert json.loads(json.dumps(fresh.state_dict(), allow_nan=False)) == {
        "lr": 1.0, "wait": 0, "cooldown_counter": 0, "last_epoch": -1}
    for split in range(len(PLATEAU_LOSSES) + 1):
        first = build("reduce_on_plateau", 1.0, **PLATEAU_PARAMS)
        head = run_plateau(first, PLATEAU_LOSSES[:split])
        state = json.loads(json.dumps(first.state_dict(), allow_nan=False))
        assert all(isinstance(v, (int, float)) for v in state.values())
        resumed = build("reduce_on_plateau", 1.0, **PLATEAU_PARAMS)
        resumed.load_state_dict(state)
        assert resumed.state_dict() == first.state_dict()
        tail = run_plateau(resumed, PLATEAU_LOSSES[split:], first_epoch=split)
        assert head[:-1] + tail == pytest.approx(PLATEAU_LRS)


class KerasReduceLROnPlateau:
    """keras/src/callbacks/reduce_lr_on_plateau.py on_epoch_end, mode "min", written out."""

    def __init__(self, lr, factor, patience, min_delta, cooldown, min_lr):
        self.lr, self.factor, self.patience = lr, factor, patience
        self.min_delta, self.cooldown, self.min_lr = min_delta, cooldown, min_lr
        self.best, self.wait, self.cooldown_counter = math.inf, 0, 0

    def on_epoch_end(self, current):
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if current - (-abs(self.min_delta)) < self.best:
            self.best = current
            self.wait = 0
        elif not self.cooldown_counter > 0:
            self.wait += 1
            if self.wait >= self.patience:
                if self.lr > self.min_lr:
                    self.lr = max(self.lr * self.factor, self.min_lr)
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


@settings(max_examples=200, deadline=None)
@given(
    base_lr=st.floats(1e-6, 10.0),
    factor=st.floats(0.01, 0.99),
    patience=st.integers(0, 5),
    min_delta=st.sampled_from([0.0, 1e-4, 0.05]),
    cooldown=st.integers(0, 4),
    min_lr=st.sampled_from([0.0, 1e-4, 0.01]),
    losses=st.lists(st.one_of(st.floats(0.0, 3.0), st.just(math.nan), st.just(math.inf)), max_size=40),
)
def test_reduce_on_plateau_matches_keras_and_stays_valid(
        base_lr, factor, patience, min_delta, cooldown, min_lr, losses):
    ours = build("reduce_on_plateau", base_lr, factor=factor, patience=patience, min_delta=min_delta,
                 cooldown=cooldown, min_lr=min_lr)
    keras = KerasReduceLROnPlateau(base_lr, factor, patience, min_delta, cooldown, min_lr)
    previous = ours(0)
    assert previous == base_lr
    for epoch, loss in enumerate(losses):
        ours.observe(epoch, loss)
        keras.on_epoch_end(loss)
        lr = ours(epoch + 1)
        assert lr == keras.lr
        assert math.isfinite(lr) and lr >= 0 and lr <= previous
        assert lr >= min(min_lr, base_lr)
        previous = lr
    json.dumps(ours.state_dict(), allow_nan=False)


# -------------------------------------------------------------------------------------- properties

START = {
    "constant": ({}, "base"),
    "exponential": ({"decay_rate": 0.3, "decay_steps": 3}, "base"),
    "inverse_time": ({"decay_rate": 4.0, "decay_steps": 3}, "base"),
    "cosine": ({"decay_steps": 5, "alpha": 0.2}, "base"),
    "reduce_on_plateau": ({}, "base"),
    "step": ({"boundaries": [2, 4], "values": [0.7, 0.5, 0.3]}, 0.7),
    "warmup_cosine": ({"warmup": 3, "warmup_start": 0.004, "decay_steps": 5}, 0.004),
}


def test_every_schedule_is_covered_and_has_a_unit():
    schedules = registry.family("schedule")
    assert set(schedules) == set(START)
    for technique in schedules.values():
        assert technique.param("unit") is not None and technique.param("unit").default == "epoch"


@pytest.mark.parametrize("name", sorted(START))
def test_rate_at_t0_is_the_base_rate_except_step_and_warmup(name):
    params, expected = START[name]
    assert build(name, 0.05, **params)(0) == (0.05 if expected == "base" else expected)


rates = st.floats(1e-8, 10.0)
steps = st.integers(1, 10_000)
SCHEDULE_PARAMS = st.one_of(
    st.tuples(st.just("constant"), st.just({})),
    st.tuples(st.just("exponential"), st.fixed_dictionaries(
        {"decay_steps": steps, "decay_rate": st.floats(1e-12, 1.0), "staircase": st.booleans()})),
    st.tuples(st.just("inverse_time"), st.fixed_dictionaries(
        {"decay_steps": steps, "decay_rate": st.floats(0.0, 1e6), "staircase": st.booleans()})),
    st.tuples(st.just("cosine"), st.fixed_dictionaries({"decay_steps": steps, "alpha": st.floats(0.0, 1.0)})),
    st.tuples(st.just("warmup_cosine"), st.fixed_dictionaries(
        {"decay_steps": steps, "alpha": st.floats(0.0, 1.0), "warmup": steps, "warmup_start": st.floats(0.0, 10.0)})),
    st.tuples(st.just("step"), st.integers(0, 5).flatmap(lambda n: st.fixed_dictionaries({
        "boundaries": st.lists(st.integers(1, 10_000), min_size=n, max_size=n, unique=True).map(sorted),
        "values": st.lists(rates, min_size=n + 1, max_size=n + 1)}))),
    st.tuples(st.just("reduce_on_plateau"), st.fixed_dictionaries(
        {"factor": st.floats(1e-6, 0.999999), "patience": st.integers(0, 20), "min_lr": st.floats(0.0, 1.0)})),
)


@settings(max_examples=300, deadline=None)
@given(choice=SCHEDULE_PARAMS, base_lr=rates, ts=st.lists(st.integers(0, 10**7), min_size=1, max_size=20))
def test_no_schedule_returns_a_negative_or_non_finite_rate(choice, base_lr, ts):
    name, params = choice
    schedule = build(name, base_lr, **params)
    for t in [0, *ts]:
        lr = schedule(t)
        assert math.isfinite(lr) and lr >= 0, (name, params, t, lr)


# -------------------------------------------------------------------------------------- validation

MINIMAL = '[[variants]]\nname = "a"\nschedule = {}\n'

BAD_SCHEDULES = [
    ('{ name = "exponential", decay_rate = -0.5 }', ["schedule.decay_rate", "-0.5 is out of range", "> 0 and <= 1"]),
    ('{ name = "exponential", decay_steps = 0 }', ["schedule.decay_steps", ">= 1"]),
    ('{ name = "inverse_time", decay_rate = -1 }', ["schedule.decay_rate", ">= 0"]),
    ('{ name = "cosine", alpha = 1.5 }', ["schedule.alpha", ">= 0 and <= 1"]),
    ('{ name = "warmup_cosine", warmup_start = -1 }', ["schedule.warmup_start", "-1.0 is out of range", ">= 0"]),
    ('{ name = "warmup_cosine", warmup = 0 }', ["schedule.warmup", ">= 1"]),
    ('{ name = "step", boundaries = [0, 5], values = [1.0, 0.5, 0.1] }', ["schedule.boundaries", ">= 1"]),
    ('{ name = "reduce_on_plateau", unit = "step" }', ["schedule", "unit", "must be 'epoch'", "got 'step'"]),
    ('{ name = "reduce_on_plateau", factor = 1.0 }', ["schedule.factor", "> 0 and < 1"]),
    ('{ name = "reduce_on_plateau", factor = 0 }', ["schedule.factor", "> 0 and < 1"]),
    ('{ name = "reduce_on_plateau", patience = -1 }', ["schedule.patience", ">= 0"]),
    ('{ name = "reduce_on_plateau", cooldown = 1.5 }', ["schedule.cooldown", "must be an integer"]),
    ('{ name = "reduce_on_plateau", min_lr = -0.1 }', ["schedule.min_lr", ">= 0"]),
    ('{ name = "reduce_on_plateau", min_delta = -1e-3 }', ["schedule.min_delta", ">= 0"]),
    ('{ name = "reduce_on_plateau", monitor = "val_accuracy" }', ["schedule.monitor", "has no parameter"]),
]


@pytest.mark.parametrize("table, fragments", BAD_SCHEDULES, ids=[f"bad{i}" for i in range(len(BAD_SCHEDULES))])
def test_bad_schedule_parameters_are_reported(table, fragments):
    with pytest.raises(ConfigError) as caught:
        parse_study(MINIMAL.format(table), "bad.toml")
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("table", [
    '{ name = "reduce_on_plateau" }',
    '{ name = "reduce_on_plateau", unit = "epoch", factor = 0.2, patience = 5, min_delta = 0.0, cooldown = 2, '
    'min_lr = 1e-5 }',
    '{ name = "warmup_cosine", unit = "step", warmup = 100, decay_steps = 1000, warmup_start = 0.0 }',
    '{ name = "step", boundaries = [5, 10], values = [0.001, 0.0005, 0.0001] }',
])
def test_good_schedules_parse(table):
    spec = parse_study(MINIMAL.format(table), "good.toml")
    choice = spec.variants[0].schedule
    schedule = registry.lookup("schedule", choice.name).build(dict(choice.params), 1e-3)
    assert math.isfinite(schedule(0))


def test_reduce_on_plateau_defaults_are_keras_defaults():
    spec = parse_study(MINIMAL.format('"reduce_on_plateau"'), "good.toml")
    choice = spec.variants[0].schedule
    assert dict(choice.params) == {"unit": "epoch", "factor": 0.1, "patience": 10, "min_delta": 1e-4,
                                   "cooldown": 0, "min_lr": 0.0}
