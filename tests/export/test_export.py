"""Exports read back with each tool's own reader (TensorBoard's EventAccumulator, MLflow's client,
Python's csv) equal the stored records; exporting twice duplicates nothing; a partial study
exports what is finished and a later export adds the rest."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from trained_runs import EPOCHS, copy, shared

from reglab.cli import main
from reglab.errors import ReglabError
from reglab.export import export
from reglab.store import RunStore

VARIANTS = {"00-basic": "basic", "01-l2-b-amp": "l2 <b>&amp;"}


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    return shared(tmp_path_factory)


def stored(run: Path):
    return {(r.record.variant, r.record.seed): r for r in RunStore.open(run).load_runs()[0]}


def partial(finished_run: Path, tmp_path: Path) -> Path:
    """The study with one run not finished yet (its record not written)."""
    run = copy(finished_run, tmp_path / "partial")
    (run / "runs" / "01-l2-b-amp" / "seed-1.json").unlink()
    return run


# ------------------------------------------------------------------------------------ csv


def test_csv_equals_the_records(finished_run, tmp_path):
    assert main(["export", str(finished_run), "--to", "csv", str(tmp_path / "csv")]) == 0
    runs = stored(finished_run)
    with open(tmp_path / "csv" / "epochs.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == sum(len(r.record.history) for r in runs.values())
    for row in rows:
        epoch = runs[(row["variant"], int(row["seed"]))].record.history[int(row["epoch"])]
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "penalty"):
            assert float(row[key]) == getattr(epoch, key)  # exactly: repr round-trips a float
    with open(tmp_path / "csv" / "runs.csv", newline="", encoding="utf-8") as handle:
        table = {(r["variant"], int(r["seed"])): r for r in csv.DictReader(handle)}
    assert table.keys() == runs.keys()
    l2 = table[("l2 <b>&amp;", 0)]
    assert float(l2["test_accuracy"]) == runs[("l2 <b>&amp;", 0)].record.test_accuracy
    assert l2["l2.strength"] == "0.001" and l2["dropout.rate"] == "0.2" and l2["optimizer.name"] == "adam"
    assert table[("basic", 0)]["l2.strength"] == ""  # not a setting of basic


# ------------------------------------------------------------------------------------ tensorboard


def read_tensorboard(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def test_tensorboard_equals_the_records(finished_run, tmp_path):
    out = tmp_path / "tb"
    assert main(["export", str(finished_run), "--to", "tensorboard", str(out)]) == 0
    runs = stored(finished_run)
    # TensorBoard's run selector: one run per variant and seed, named by both.
    found = sorted(str(p.parent.relative_to(out)) for p in out.rglob("events.out.tfevents.*"))
    assert found == ["00-basic/seed-0", "00-basic/seed-1", "01-l2-b-amp/seed-0", "01-l2-b-amp/seed-1"]
    for folder, variant in VARIANTS.items():
        for seed in (0, 1):
            run = runs[(variant, seed)]
            events = read_tensorboard(out / folder / f"seed-{seed}")
            for tag, key in (("loss/train", "train_loss"), ("loss/validation", "val_loss"),
                             ("accuracy/train", "train_accuracy"), ("accuracy/validation", "val_accuracy"),
                             ("learning_rate", "lr")):
                scalars = events.Scalars(tag)
                assert [s.step for s in scalars] == list(range(EPOCHS))
                # Event files hold float32: equal to the record rounded to float32.
                assert [s.value for s in scalars] == [float(np.float32(getattr(e, key))) for e in run.record.history]
            assert events.Scalars("test/accuracy")[0].value == float(np.float32(run.record.test_accuracy))
            weights = run.arrays().weights
            assert sorted(t.removeprefix("weights/") for t in events.Tags()["histograms"]) == sorted(weights)
            name = next(iter(weights))
            histogram = events.Histograms(f"weights/{name}")[0].histogram_value
            assert histogram.num == weights[name].size and histogram.min == pytest.approx(weights[name].min())
            assert sum(histogram.bucket) == weights[name].size
            assert ("penalty/train" in events.Tags()["scalars"]) == (variant != "basic")
    _check_hparams(out / "01-l2-b-amp" / "seed-1")


def _check_hparams(folder: Path) -> None:
    from tensorboard.plugins.hparams import metadata

    events = read_tensorboard(folder)
    content = events.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    start = metadata.parse_session_start_info_plugin_data(content)
    assert start.hparams["seed"].number_value == 1
    assert start.hparams["l2.strength"].number_value == 0.001
    assert start.hparams["optimizer.name"].string_value == "adam"
    assert start.hparams["hidden"].string_value == "32,16"
    experiment = metadata.parse_experiment_plugin_data(events.SummaryMetadata(metadata.EXPERIMENT_TAG).plugin_data.content)
    assert "dropout.rate" in {h.name for h in experiment.hparam_infos}


def test_tensorboard_scalars_are_at_the_stored_epoch_times(finished_run, tmp_path):
    """Each epoch's scalars at the time it ended: the run's start plus the stored epoch seconds
    (issue 24: every scalar had the export's time, so TensorBoard's time axes collapsed)."""
    out = tmp_path / "tb"
    export(finished_run, "tensorboard", out)
    for (variant, seed), run in stored(finished_run).items():
        folder = out / run.path.parent.name / f"seed-{seed}"
        walls = [s.wall_time for s in read_tensorboard(folder).Scalars("loss/train")]
        seconds = [e.seconds for e in run.record.history]
        assert np.diff(walls) == pytest.approx(seconds[1:], abs=1e-3)
        assert len(set(walls)) == len(walls) == EPOCHS
        start = run.path.stat().st_mtime - run.record.seconds  # the record is written when the run ends
        assert walls[0] == pytest.approx(start + seconds[0], abs=1e-3)
        assert walls[-1] <= run.path.stat().st_mtime


def test_tensorboard_twice_and_partial_then_complete(finished_run, tmp_path):
    out = tmp_path / "tb"
    export(partial(finished_run, tmp_path), "tensorboard", out)
    assert not (out / "01-l2-b-amp" / "seed-1").exists()  # not finished: not exported
    export(finished_run, "tensorboard", out)
    export(finished_run, "tensorboard", out)
    for folder in out.glob("*/seed-*"):
        assert len(list(folder.glob("events.out.tfevents.*"))) == 1
        assert [s.step for s in read_tensorboard(folder).Scalars("loss/train")] == list(range(EPOCHS))


# ------------------------------------------------------------------------------------ mlflow


def test_mlflow_equals_the_records_and_adds_without_duplicates(finished_run, tmp_path):
    from mlflow.tracking import MlflowClient

    # A partial study first, as a user exports while it trains, then the whole one twice.
    run = partial(finished_run, tmp_path)
    (run / "report").mkdir()
    (run / "report" / "report.html").write_text("<p>report</p>")
    folder = tmp_path / "mlflow"
    assert main(["export", str(run), "--to", "mlflow", str(folder)]) == 0
    uri = f"sqlite:///{folder.resolve() / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("tiny-live")

    def children():
        return {(r.data.tags["reglab.variant"], int(r.data.tags["reglab.seed"])): r
                for r in client.search_runs([experiment.experiment_id], "tags.`reglab.kind` = 'run'")}

    assert len(children()) == 3
    (run / "runs" / "01-l2-b-amp" / "seed-1.json").write_bytes(
        (finished_run / "runs" / "01-l2-b-amp" / "seed-1.json").read_bytes())  # the last run finishes
    export(run, "mlflow", folder)
    export(run, "mlflow", folder)
    found = children()
    records = stored(run)
    assert found.keys() == records.keys()
    parents = client.search_runs([experiment.experiment_id], "tags.`reglab.kind` = 'study'")
    assert len(parents) == 1 and len(client.search_runs([experiment.experiment_id])) == 5
    artifacts = [a.path for a in client.list_artifacts(parents[0].info.run_id, "report")]
    assert artifacts == ["report/report.html"]
    for key, mlflow_run in found.items():
        record = records[key].record
        assert mlflow_run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert mlflow_run.info.run_name == f"{records[key].path.parent.name}/seed-{key[1]}"
        assert mlflow_run.data.params["seed"] == str(key[1])
        assert mlflow_run.data.params["optimizer.lr"] == "0.001"
        for metric, field in (("train_loss", "train_loss"), ("val_accuracy", "val_accuracy"), ("lr", "lr")):
            history = client.get_metric_history(mlflow_run.info.run_id, metric)
            assert sorted((m.step, m.value) for m in history) == [(e.epoch, getattr(e, field)) for e in record.history]
            stamps = [m.timestamp for m in sorted(history, key=lambda m: m.step)]  # ms, at each epoch's end
            assert np.diff(stamps) == pytest.approx([1000 * e.seconds for e in record.history[1:]], abs=2)
        assert mlflow_run.data.metrics["test_accuracy"] == record.test_accuracy
    assert found[("l2 <b>&amp;", 0)].data.params["l2.strength"] == "0.001"


# ------------------------------------------------------------------------------------ errors


def test_usage_errors_say_the_fix(finished_run, tmp_path, capsys):
    assert main(["export", str(finished_run), "--to", "csv"]) == 2
    assert "needs a folder" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "--to", "csv", str(tmp_path / "out")]) == 2
    assert "not a reglab run directory" in capsys.readouterr().err
    with pytest.raises(ReglabError, match="either a folder"):
        export(finished_run, "mlflow", tmp_path, tracking_uri="sqlite:///x.db")


def test_a_missing_extra_names_the_pip_command(finished_run, tmp_path):
    # A fresh interpreter in which the tensorboard package cannot be imported.
    code = ("import sys, importlib.util as u; real = u.find_spec\n"
            "u.find_spec = lambda name, *a: None if name.split('.')[0] in ('tensorboard', 'mlflow') else real(name, *a)\n"
            "from reglab.cli import main; sys.exit(main(sys.argv[1:]))")
    for target, extra in (("tensorboard", "reglab[tensorboard]"), ("mlflow", "reglab[mlflow]")):
        done = subprocess.run([sys.executable, "-c", code, "export", str(finished_run), "--to", target,
                               str(tmp_path / target)], capture_output=True, text=True, timeout=120,
                              env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
        assert done.returncode == 2, done.stderr
        assert f"pip install '{extra}'" in done.stderr and "Traceback" not in done.stderr


def test_exporting_imports_no_torch(finished_run, tmp_path):
    code = ("import sys\nfrom reglab.cli import main\n"
            f"assert main(['export', {str(finished_run)!r}, '--to', 'tensorboard', {str(tmp_path / 'tb')!r}]) == 0\n"
            f"assert main(['export', {str(finished_run)!r}, '--to', 'csv', {str(tmp_path / 'csv')!r}]) == 0\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
