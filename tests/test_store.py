"""The run store: atomic writes, round trips, and readers that survive damaged files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from reglab.errors import ReglabError, StorageError
from reglab.store import EpochRecord, RunArrays, RunRecord, RunStore
from reglab.store.atomic import write_atomic, write_json

STUDY = {"name": "s", "variants": [{"name": "<b> & 'c'"}], "seeds": [0]}


def make_record(name="<b> & 'c'", seed=0):
    epoch = EpochRecord(0, 1.0, 0.5, 1.1, 0.45, 0.001, 0.2, 0.01)
    return RunRecord(name, seed, "completed", (epoch,), 1.2, 0.44, 0.3)


def test_atomic_write_leaves_old_file_and_no_temp_on_failure(tmp_path):
    target = tmp_path / "x.json"
    write_json(target, {"v": 1})

    def explode(handle):
        handle.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(StorageError, match="No space left on device"):
        write_atomic(target, explode)
    assert json.loads(target.read_text()) == {"v": 1}
    assert sorted(os.listdir(tmp_path)) == ["x.json"]


def test_save_and_load_round_trip(tmp_path):
    store = RunStore.create(tmp_path / "run", study=STUDY, source_text="name = 's'", environment={"torch": "x"})
    arrays = RunArrays(np.array([1, 2, 3], dtype=np.int16), {"layers.0.weight": np.ones((2, 2), np.float32)})
    path = store.save_run(0, make_record(), arrays)
    assert path.parent.name == "00-b-c"  # names are keys only; the record holds the real name
    reopened = RunStore.open(tmp_path / "run")
    runs, damaged = reopened.load_runs()
    assert damaged == [] and runs[0].record == make_record()
    loaded = runs[0].arrays()
    assert np.array_equal(loaded.test_predictions, [1, 2, 3])
    assert np.array_equal(loaded.weights["layers.0.weight"], np.ones((2, 2)))
    assert (tmp_path / "run" / "study.toml").read_text() == "name = 's'"


def test_names_cannot_escape_the_run_directory(tmp_path):
    store = RunStore.create(tmp_path / "run", study=STUDY, source_text="", environment={})
    path = store.run_path(3, "../../../etc/passwd", 0)
    assert path.resolve().is_relative_to((tmp_path / "run").resolve())


def test_damaged_record_is_reported_not_fatal(tmp_path):
    store = RunStore.create(tmp_path / "run", study=STUDY, source_text="", environment={})
    store.save_run(0, make_record(seed=0), RunArrays(np.zeros(1, np.int16), {}))
    bad = store.save_run(0, make_record(seed=1), RunArrays(np.zeros(1, np.int16), {}))
    bad.write_text('{"variant": "x", "seed"')  # truncated, as after a crash without atomic writes
    runs, damaged = store.load_runs()
    assert [r.record.seed for r in runs] == [0]
    assert len(damaged) == 1 and "seed-1.json" in damaged[0]


def test_refuses_to_overwrite_an_existing_run(tmp_path):
    RunStore.create(tmp_path / "run", study=STUDY, source_text="", environment={})
    with pytest.raises(ReglabError, match="already a run directory"):
        RunStore.create(tmp_path / "run", study=STUDY, source_text="", environment={})


def test_open_rejects_what_is_not_a_run(tmp_path):
    with pytest.raises(ReglabError, match="not a reglab run directory"):
        RunStore.open(tmp_path)
    with pytest.raises(ReglabError, match="not a directory"):
        RunStore.open(tmp_path / "missing")


def test_files_get_the_mode_the_umask_gives_not_0600(tmp_path):
    # mkstemp creates 0600 files; a run directory is meant to be shared (a report served, copied).
    import reglab.store.atomic as atomic

    write_json(tmp_path / "x.json", {"v": 1})
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o666 & ~atomic._UMASK
