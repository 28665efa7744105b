"""The time estimate (reglab/cost/time_estimate.py): a model of the program that runs, not of a stand-in.

Its accuracy against the actual time is a benchmark's (benchmarks/bench_estimate.py: timings do
not belong in unit tests); here: the algebra of the model, that the probe trains the engine's own
units (the architecture, stacking and techniques the study uses), and what the command says when."""

from __future__ import annotations

import pytest

from reglab.cost import time_estimate as E
from reglab import lab


def test_solve_recovers_a_step_and_a_row_from_two_planted_probes():
    step, row = 0.004, 2e-5
    for r1, r2 in ((300, 300), (300 + 64, 300 + 9 * 64)):  # without, then with batch-norm training rows
        e1, e2 = 1 * step + r1 * row, 9 * step + r2 * row
        assert E._solve(1, r1, e1, 9, r2, e2) == pytest.approx((step, row), rel=1e-9)
    # Noise that makes the step negative: the larger probe's epoch is charged to its steps.
    assert E._solve(1, 300, 0.02, 9, 300, 0.01) == (0.01 / 9, 0.0)


def test_makespan_lays_units_on_workers_as_the_executor_takes_them():
    assert E.makespan([5, 4, 3, 3], workers=2) == 8  # 5 | 4 + 3 -> 5 + 3 | 7
    assert E.makespan([5, 4, 3, 3], workers=1) == 15
    assert E.makespan([2.0], workers=8) == 2.0


def test_a_unit_costs_once_plus_its_epochs_on_the_whole_data():
    class Data:  # sizes are all unit_seconds reads of the data
        y_train, y_val, y_test = range(817), range(163), range(817 + E.PROBE_ROWS)

    study, _ = lab.load_study("tutorial", dataset="digits")
    basic = study.variants[0]  # 15 epochs, batch 128: 7 steps an epoch on 817 images
    unit = type("Unit", (), {"members": ((0, basic, 0),)})()
    cost = E.UnitCost(once=0.5, step=0.01, row=0.001)
    assert E.unit_seconds(unit, cost, Data) == pytest.approx(0.5 + 0.001 * 817 + 15 * (7 * 0.01 + 163 * 0.001))


def test_kinds_ignore_seeds_and_strengths_but_not_the_architecture():
    from reglab.engine.scheduler import Unit

    study, _ = lab.load_study("cnn", dataset="digits")
    by_name = {v.name: v for v in study.variants}
    cnn, mlp = by_name["cnn"], by_name["mlp"]
    assert E._kind(Unit(((0, cnn, 0),), True)) == E._kind(Unit(((0, cnn, 7),), True))
    assert E._kind(Unit(((0, cnn, 0),), True)) != E._kind(Unit(((1, mlp, 0),), True))
    assert E._kind(Unit(((0, cnn, 0),), True)) != E._kind(Unit(((0, cnn, 0), (0, cnn, 1)), True))  # a stack of 2


def test_the_probe_trains_the_engines_own_units(monkeypatch):
    """Every kind of unit of the schedule is probed through scheduler.train_unit with its own
    variants (a CNN stays a CNN; a stack stays a stack), on the data's first rows."""
    import torch

    from reglab.data import make_splits, resolve_dataset
    from reglab.engine import scheduler
    from reglab.engine.core import DeviceData

    from dataclasses import replace

    study, _ = lab.load_study("cnn", dataset="digits", seeds=2, epochs=1)
    study = replace(study, variants=tuple(v for v in study.variants if v.name in ("cnn", "mlp")))
    dataset, _ = resolve_dataset("digits")
    data = DeviceData.from_arrays(make_splits(dataset, train=200, validation=50, test=50), "cpu")
    schedule = scheduler.plan(study, "fast", torch.device("cpu"), image_shape=data.image_shape, cores=2)
    probed = []
    real = scheduler.train_unit

    def recording(unit, sample, epoch_done, checkpoint):
        probed.append((unit, len(sample.y_train)))
        return real(unit, sample, epoch_done, checkpoint)

    monkeypatch.setattr(scheduler, "train_unit", recording)
    result = E.estimate(schedule, data, so_far=1.0, report_runs=None)
    kinds = {E._kind(u) for u in schedule.units}
    assert {E._kind(u) for u, _ in probed} == kinds  # _kind ignores epochs: a probe's unit is the study's kind
    assert len(probed) == 2 * len(kinds)  # one step an epoch, then 1 + PROBE_STEPS
    assert all(v.epochs == E.PROBE_EPOCHS for u, _ in probed for _, v, _ in u.members)
    assert {v.model for u, _ in probed for _, v, _ in u.members} == {"cnn", "mlp"}
    assert result.training > 0 and result.seconds > result.training


def test_a_busy_machine_is_said_not_hidden():
    free, busy = E.Estimate(2.0, 10.0, 3.0), E.Estimate(2.0, 10.0, 3.0, busy=0.3)
    assert free.seconds == busy.seconds == 15.0
    assert "busy" not in free.describe() and "had 30% of a core" in busy.describe()


def test_no_number_where_the_model_does_not_apply():
    assert "no time estimate" in E.Estimate(2.0, None, 1.0, "the units train on a cluster").describe()
    assert E.estimate(type("S", (), {"units": (1,)})(), None, so_far=0.0, report_runs=None,
                      cluster=True).seconds is None


@pytest.mark.parametrize("flags, expected", [
    (["--dataset", "fashion"], "did you mean 'fashion-mnist'?"),
    (["--data-dir", "/nonexistent/reglab-data"], "/nonexistent/reglab-data is not a directory"),
])
def test_bad_data_is_said_before_anything_is_measured_or_written(tmp_path, capsys, monkeypatch, flags, expected):
    from reglab.cli import main

    monkeypatch.setattr(E, "probe", lambda *args: pytest.fail("the estimate was measured before the data was read"))
    out = tmp_path / "run"
    code = main(["run", "tutorial", "--seeds", "1", "--no-report", "--out", str(out), *flags])
    text = " ".join(capsys.readouterr().err.split())
    assert code == 2, text
    assert expected in text and "estimated time" not in text and not out.exists()
    assert "estimated time" not in text and not out.exists()
