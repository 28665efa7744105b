"""Sweeps expand into ordinary variants: counts, names, values as data, reproducible random draws,
integer and log ranges, every value validated like a hand-written one, errors with their place."""

from __future__ import annotations

import json
import math

import pytest

from reglab.config import MAX_RUNS, MAX_RUNS_CEILING, parse_study, study_from_dict
from reglab.errors import ConfigError
from reglab.config.sweep_points import SweepError, parse_cli, parse_sweep

HEAD = """
name = "s"
seeds = 2
[defaults]
hidden = [16]
epochs = 2

[[variants]]
name = "none"
optimizer = { name = "adam", lr = 0.002 }
"""


def study(text: str, head: str = HEAD, **overrides):
    return parse_study(head + text, "study.toml", overrides or None)


def points(spec):
    return [v for v in spec.variants if v.sweep is not None]


def test_log_grid_counts_names_values_and_the_exact_ends():
    spec = study('[[sweeps]]\nbase = "none"\nvalues.l2 = { log = [1e-6, 1e-1], points = 11 }\n')
    swept = points(spec)
    assert len(swept) == 11 and len(spec.variants) == 12
    values = [v.switch("l2")["strength"] for v in swept]
    assert values[0] == 1e-6 and values[-1] == 1e-1
    expected = [10 ** (-6 + i * 0.5) for i in range(11)]  # half a decade apart
    assert all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(values, expected))
    assert [v.name for v in swept][:3] == ["l2=1e-06", "l2=3e-06", "l2=1e-05"]
    # the base's other settings are kept; the point is compared with the base
    assert all(v.optimizer["lr"] == 0.002 and v.baseline == "none" for v in swept)
    assert dict(swept[4].sweep.values) == {"l2": 1e-4} and dict(swept[4].sweep.scales) == {"l2": "log"}


def test_two_factors_make_a_full_grid_first_factor_outermost():
    spec = study('[[sweeps]]\nvalues."dropout.rate" = [0.0, 0.3]\n'
                 'values.optimizer.lr = { log = [1e-4, 1e-2], points = 3 }\n')
    names = [v.name for v in points(spec)]
    assert names == [f"dropout={d} optimizer.lr={lr}" for d in ("0", "0.3") for lr in ("1e-04", "1e-03", "1e-02")]
    first = points(spec)[0]
    assert first.switch("dropout") is None  # a rate of 0 is dropout off, as when written by hand
    assert first.optimizer.name == "adam" and first.optimizer["lr"] == 1e-4


def test_integer_and_linear_ranges():
    spec = study('[[sweeps]]\nvalues.batch_size = { log = [16, 256], points = 5 }\n'
                 '[[sweeps]]\nvalues."dropout.rate" = { linear = [0.0, 0.8], points = 5 }\n')
    sizes = [v.batch_size for v in points(spec) if v.sweep.sweep == "batch_size"]
    assert sizes == [16, 32, 64, 128, 256] and all(isinstance(s, int) for s in sizes)
    rates = [v.dropout_rates()[0] for v in points(spec) if v.sweep.sweep == "dropout"]
    assert rates == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])
    assert [v.name for v in points(spec)][5:] == ["dropout=0", "dropout=0.2", "dropout=0.4", "dropout=0.6",
                                                  "dropout=0.8"]


def test_integer_points_that_repeat_are_refused_with_the_fix():
    with pytest.raises(SweepError, match="repeat") as caught:
        parse_sweep({"values": {"epochs": {"linear": [1, 3], "points": 5}}}, 0)
    assert caught.value.where == "values.epochs"


def test_random_draws_are_reproducible_from_the_sweep_seed_and_log_uniform():
    sweep = '[[sweeps]]\nrandom = 40\nseed = {seed}\nvalues.l2 = {{ log = [1e-6, 1e-1], points = 2 }}\n' \
            'values."dropout.rate" = [0.0, 0.5]\n'
    a = [v.name for v in points(study(sweep.format(seed=3), max_runs=MAX_RUNS_CEILING))]
    b = [v.name for v in points(study(sweep.format(seed=3), max_runs=MAX_RUNS_CEILING))]
    c = [v.name for v in points(study(sweep.format(seed=4), max_runs=MAX_RUNS_CEILING))]
    assert a == b and a != c and len(a) == 40
    l2 = [v.switch("l2")["strength"] for v in points(study(sweep.format(seed=3)))]
    assert all(1e-6 <= x <= 1e-1 for x in l2)
    logs = sorted(math.log10(x) for x in l2)
    # log-uniform: about as many draws below 1e-3.5 (the middle in log) as above
    assert 10 <= sum(x < -3.5 for x in logs) <= 30


def test_every_generated_value_is_validated_and_the_error_names_sweep_point_and_line():
    text = '[[sweeps]]\nname = "rates"\nvalues."dropout.rate" = [0.2, 1.5]\n'
    with pytest.raises(ConfigError) as caught:
        study(text)
    message = str(caught.value)
    line = (HEAD + text).splitlines().index('values."dropout.rate" = [0.2, 1.5]') + 1
    assert f"sweeps[0] ('rates'), point 'dropout=1.5'.dropout.rate (line {line})" in message
    assert "out of range" in message and "dropout=0.2'" not in message  # the good point is not blamed


def test_a_bad_setting_name_a_bad_base_and_a_bad_range_are_each_reported():
    text = ('[[sweeps]]\nvalues.l3 = [0.1]\n'
            '[[sweeps]]\nbase = "nonee"\nvalues.l2 = [0.1]\n'
            '[[sweeps]]\nvalues.l2 = { log = [0, 1], points = 3 }\n')
    with pytest.raises(ConfigError) as caught:
        study(text)
    message = str(caught.value)
    assert "point 'l3=0.1'.l3" in message and "unknown key" in message
    assert "sweeps[1] ('l2').base" in message and "did you mean 'none'" in message
    assert "sweeps[2].values.l2.log" in message and "low > 0" in message


def test_a_study_over_the_maximum_of_runs_is_refused_before_expanding():
    text = '[[sweeps]]\nvalues.l2 = { log = [1e-6, 1e-1], points = 1000 }\nvalues.l1 = { log = [1e-6, 1e-1], points = 1000 }\n'
    with pytest.raises(ConfigError, match=f"2,000,002 runs.* over the maximum of {MAX_RUNS:,}.*max_runs"):
        study(text)


def test_the_resolved_study_round_trips_with_its_points_values():
    spec = study('[[sweeps]]\nvalues.optimizer.lr = { log = [1e-4, 1e-2], points = 3 }\n')
    again = study_from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert spec.to_dict()["variants"][1]["sweep"] == {
        "name": "optimizer.lr", "values": {"optimizer.lr": 1e-4}, "scales": {"optimizer.lr": "log"},
        "choose": "val_loss"}


def test_command_line_sweeps_replace_the_variants_and_match_the_toml_form():
    raw = parse_cli(["l2=1e-6:1e-1:log:6", "dropout.rate=0,0.5"], base="none")
    assert raw == {"values": {"l2": {"log": [1e-6, 0.1], "points": 6}, "dropout.rate": [0, 0.5]}, "base": "none"}
    spec = study("", sweeps=[raw])
    assert len(spec.variants) == 12 and all(v.sweep for v in spec.variants)
    assert spec.variants[0].baseline is None and spec.variants[1].baseline == spec.variants[0].name
    with pytest.raises(SweepError, match="LOW:HIGH"):
        parse_cli(["l2=1e-6:1e-1:11"])
    with pytest.raises(SweepError, match="log or linear"):
        parse_cli(["l2=1e-6:1e-1:ln:11"])
