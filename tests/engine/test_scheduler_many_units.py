"""Studies of thousands of runs: the CPU scheduler hands out any number of units (issue 12: past
about 3,600 units, filling a pipe with their numbers before the workers started blocked for ever)."""

from __future__ import annotations

import threading

import pytest
import torch

from reglab.config import MAX_RUNS_CEILING, parse_study
from reglab.engine import scheduler
from reglab.engine.reference import RunOutcome
from reglab.errors import ConfigError
from reglab.progress.events import Silent
from reglab.store.memory import MemoryStore
from reglab.store.records import COMPLETED, RunArrays, RunRecord

MANY = """
name = "many"
seeds = 1000
max_runs = 5000
[data]
dataset = "digits"
[defaults]
hidden = [4]
epochs = 1
[[variants]]
name = "a"
[[variants]]
name = "b"
[[variants]]
name = "c"
[[variants]]
name = "d"
[[variants]]
name = "e"
"""


def _instant(unit, data, epoch_done, checkpoint):
    # Forked workers inherit this stand-in for training: the test is about handing out units.
    return [RunOutcome(RunRecord(v.name, seed, COMPLETED, (), 0.0, 1.0, 0.0), RunArrays(torch.zeros(0).numpy(), {}))
            for _, v, seed in unit.members]


def test_five_thousand_units_are_all_trained_by_two_worker_processes(monkeypatch):
    study = parse_study(MANY)
    schedule = scheduler.plan(study, "auto", torch.device("cpu"), input_dim=64, cores=2)
    assert len(schedule.units) == 5000 and schedule.workers == 2
    monkeypatch.setattr(scheduler, "train_unit", _instant)
    store, errors = MemoryStore(), []  # the store's part is tested with real files elsewhere

    def execute():
        try:
            scheduler._run_in_processes(schedule, None, scheduler.StudyDriver(store, Silent(), None), threading.Event())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    # A guard against the old hang, not a speed limit: the units take about a second.
    thread = threading.Thread(target=execute, daemon=True)
    thread.start()
    thread.join(timeout=300)
    assert not thread.is_alive(), "the scheduler hung handing out 5,000 units"
    assert not errors, errors
    assert sorted(store.runs) == sorted((v.name, s) for v in study.variants for s in study.seeds)


def test_no_study_may_go_over_the_ceiling_of_runs_and_up_to_it_is_allowed():
    variants = "".join(f'[[variants]]\nname = "v{i}"\n' for i in range(MAX_RUNS_CEILING // 1000))
    exact = parse_study(f"name = 'big'\nseeds = 1000\nmax_runs = {MAX_RUNS_CEILING}\n{variants}")
    assert len(exact.variants) * len(exact.seeds) == MAX_RUNS_CEILING
    with pytest.raises(ConfigError) as caught:
        parse_study(f"name = 'big'\nseeds = 1000\nmax_runs = {MAX_RUNS_CEILING + 1}\n{variants}")
    assert f"{MAX_RUNS_CEILING:,}" in str(caught.value) and "Fix: split the study" in str(caught.value)
    with pytest.raises(ConfigError, match="over the maximum"):
        parse_study(f"name = 'big'\nseeds = 1000\nmax_runs = {MAX_RUNS_CEILING}\n{variants}"
                    "[[variants]]\nname = 'one-more'\n")
