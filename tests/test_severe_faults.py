"""The five severe faults an outside attack found in reglab 0.1 (issue 12), each as it was reported.

(2, studies of thousands of runs hanging before training, is in tests/engine/test_scheduler_many_units.py.)
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
from run_dirs import TINY, cli, numbers, snapshot, stop_after_first_run, train, write_study

DIVERGING = """
name = "diverging"
seeds = [0, 1]
[data]
dataset = "digits"
[defaults]
hidden = [32]
epochs = 3
[[variants]]
name = "ok"
[[variants]]
name = "huge-lr"
optimizer = { name = "sgd", lr = 1e30 }
[[variants]]
name = "huge-adam"
optimizer = { name = "adam", lr = 1e30 }
"""


def _strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("engine", ["auto", "reference"])
def test_a_diverging_run_is_a_recorded_outcome_and_costs_no_other_run(tmp_path, capsys, engine, fault_log):
    study, out = write_study(tmp_path, DIVERGING), tmp_path / "run"
    assert cli("run", str(study), "--out", str(out), "--offline", "--engine", engine) == 0
    capsys.readouterr()
    assert cli("results", str(out), "--format", "json") == 0
    results = _strict_json(capsys.readouterr().out)  # no NaN: strict JSON
    by_name = {v["name"]: v for v in results["variants"]}
    assert [r["status"] for r in by_name["ok"]["runs"]] == ["completed", "completed"]
    for name in ("huge-lr", "huge-adam"):
        variant = by_name[name]
        assert variant["diverged"] == 2 and variant["test_accuracy"]["n"] == 0
        for run in variant["runs"]:
            assert run["status"] == "diverged" and run["diverged_at"] == len(run["history"]) - 1
            assert run["test_accuracy"] is None
            last = run["history"][-1]
            assert last["train_loss"] is None or last["val_loss"] is None  # NaN/inf stored as null
    for path in out.rglob("*.json"):  # every file the store and the report wrote is strict JSON
        _strict_json(path.read_text(encoding="utf-8"))
    html = (out / "report" / "report.html").read_text(encoding="utf-8")
    assert "diverged" in html
    before = numbers(out)
    assert cli("resume", str(out), "--no-report") == 0
    assert "6 of 6 runs already finished" in " ".join(capsys.readouterr().err.split())
    assert numbers(out) == before
    fault_log(f"runs whose loss becomes NaN or inf (SGD and Adam at lr 1e30), engine {engine}", 4,
              "recorded as diverged with their epoch (losses stored as null); results, report, resume: no retraining, "
              "no other run lost")


def test_report_of_an_interrupted_directory_lists_what_is_missing(tmp_path, capsys, fault_log):
    study, out = write_study(tmp_path), tmp_path / "run"
    stop_after_first_run(study, out)  # one record, one checkpoint, a variant with no finished run
    assert list(out.glob("runs/*/seed-*.ckpt"))
    assert cli("report", str(out)) == 0
    err = capsys.readouterr().err
    assert "missing:" in err and "Report:" in err
    assert cli("results", str(out)) == 0
    # A lost record too.
    for record in out.glob("runs/00-basic/seed-*.json"):
        record.unlink()
    assert cli("report", str(out)) == 0
    fault_log("`reglab report` on a directory stopped before a variant finished any run, and with a lost record", 2,
              "a report listing what is missing")


def test_links_in_a_run_directory_never_lead_outside_it(tmp_path, capsys, fault_log):
    study, out, outside = write_study(tmp_path), tmp_path / "run", tmp_path / "outside"
    assert train(study, out) == 0
    clean = numbers(out)
    outside.mkdir()
    (outside / "victim.txt").write_text("precious")
    (outside / "secret.toml").write_text('name = "SECRET-TEXT-OUTSIDE"\n')
    (outside / "reports").mkdir()
    (outside / "reports" / "report.html").write_text("someone else's report")
    (outside / "records").mkdir()
    (outside / ".seed-0.json.abc.tmp").write_text("someone else's temporary file")
    shutil.copytree(out / "runs" / "00-basic", outside / "records", dirs_exist_ok=True)
    (outside / "records" / ".x.tmp").write_text("someone else's temporary file")
    for name in ("seed-0.json", "seed-0.npz"):
        (out / "runs" / "00-basic" / name).unlink()  # so that resume trains it again
    before = snapshot(outside)

    (out / ".writer.lock").unlink(missing_ok=True)
    os.symlink(outside / "victim.txt", out / ".writer.lock")
    os.symlink(outside / "reports", out / "report")
    shutil.rmtree(out / "runs" / "00-basic")
    os.symlink(outside / "records", out / "runs" / "00-basic")
    (out / "study.toml").unlink()
    os.symlink(outside / "secret.toml", out / "study.toml")

    assert cli("resume", str(out)) == 0
    assert cli("report", str(out)) == 0
    assert cli("results", str(out), "--format", "json") == 0
    capsys.readouterr()
    assert snapshot(outside) == before
    assert "SECRET-TEXT-OUTSIDE" not in (out / "report" / "report.html").read_text(encoding="utf-8")
    assert not (out / "report").is_symlink() and not (out / "runs" / "00-basic").is_symlink()
    assert numbers(out) == clean
    fault_log("links out of a run directory: .writer.lock to a file, report/ and runs/00-basic to folders, "
              "study.toml to another file; then resume, report, results", 4,
              "nothing outside written, deleted or read; the links replaced; results identical")


@pytest.mark.parametrize("offset", [0.5, 0.75])
def test_a_corrupted_checkpoint_costs_its_run_and_gives_the_right_result(tmp_path, capsys, offset, fault_log):
    study, clean_dir, out = write_study(tmp_path), tmp_path / "clean", tmp_path / "run"
    stop_after_first_run(study, clean_dir)
    shutil.copytree(clean_dir, out)
    assert cli("resume", str(clean_dir), "--no-report") == 0
    clean = numbers(clean_dir)
    (checkpoint,) = out.glob("runs/*/seed-*.ckpt")
    data = bytearray(checkpoint.read_bytes())
    middle = int(len(data) * offset)
    data[middle:middle + 32] = os.urandom(32)
    checkpoint.write_bytes(bytes(data))
    capsys.readouterr()
    assert cli("resume", str(out), "--no-report") == 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"{checkpoint.relative_to(out)}: checksum mismatch; that run starts over" in err
    assert numbers(out) == clean
    fault_log("32 random bytes written into the middle of an epoch checkpoint", 1,
              "refused by its checksum, said in one line; that run trained again; results identical")


def test_the_tiny_study_trains(tmp_path):
    # The fixture study of the fault tests is itself valid and trains both variants.
    assert train(write_study(tmp_path, TINY), tmp_path / "run") == 0
    assert [v["name"] for v in numbers(tmp_path / "run")] == ["basic", "dropout"]
