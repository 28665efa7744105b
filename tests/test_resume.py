"""Nothing lost: a study killed, interrupted or starved of disk at any point, then run again with
the same command, ends with exactly the results of an uninterrupted run (CPU, bit for bit).

Every fault tried is logged (tests/conftest.py: fault_log) into the table in docs/faults.md.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

STUDY = """
name = "resumable"
seeds = [0, 1]
[data]
dataset = "digits"
[defaults]
hidden = [96, 48]
epochs = 40
batch_size = 32
[[variants]]
name = "plain"
[[variants]]
name = "regularised"
dropout = 0.3
l2 = 0.0005
augmentation = { shift = 0.1, noise = 0.02 }
max_norm = 1.4  # acts from about the middle of the run: resumes cross its first epoch
[[variants]]
name = "stopping"
optimizer = { name = "adam", lr = 0.003 }
early_stopping = { patience = 4 }
schedule = { name = "reduce_on_plateau", patience = 2, factor = 0.5 }
"""


def reglab(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "reglab", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "COLUMNS": "200", **(env or {})}, **kwargs)


def run_args(study: Path, out: Path) -> list[str]:
    return ["run", str(study), "--out", str(out), "--checkpoint-seconds", "0", "--no-report", "--offline"]


def results(out: Path) -> dict:
    """Every number of every run, without wall-clock times (which differ between any two runs),
    and every run's arrays: its test predictions, final weights and per-epoch weight sketches."""
    done = subprocess.run([sys.executable, "-m", "reglab", "results", str(out), "--format", "json"],
                          capture_output=True, text=True, check=True)
    variants = json.loads(done.stdout)["variants"]
    for variant in variants:
        for run in variant["runs"]:
            run.pop("seconds")
            for epoch in run["history"]:
                epoch.pop("seconds")
    arrays, epochs = {}, {}
    for path in sorted(out.glob("runs/*/seed-*.npz")):
        with np.load(path) as bundle:
            arrays[path.relative_to(out).as_posix()] = {name: bundle[name].tobytes() for name in bundle.files}
        # Every field of every epoch as stored (`results` shows some): max_norm_peak, weight_norm, ...
        stored = json.loads(path.with_suffix(".json").read_text())
        epochs[path.relative_to(out).as_posix()] = [{k: v for k, v in e.items() if k != "seconds"}
                                                    for e in stored["history"]]
    assert all("weight_sketches" in a for a in arrays.values())
    return {"variants": variants, "arrays": arrays, "epochs": epochs}


def finish(study: Path, out: Path, *options: str, env: dict | None = None) -> subprocess.CompletedProcess:
    process = reglab(*run_args(study, out), *options, env=env)
    stdout, stderr = process.communicate(timeout=600)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("study") / "resumable.toml"
    path.write_text(STUDY)
    return path


@pytest.fixture(scope="module")
def uninterrupted(study, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("clean") / "run"
    done = finish(study, out)
    assert done.returncode == 0, done.stderr
    return results(out)


def progress(out: Path) -> int:
    """How far a run directory has got: records and checkpoints on disk."""
    return len(list(out.glob("runs/*/seed-*.json"))) + len(list(out.glob("runs/*/seed-*.ckpt")))


def kill_at_random_moments(args: list[str], out: Path, rng: random.Random, tries: int, longest: float) -> int:
    """Runs `reglab ARGS` up to `tries` times, each killed (SIGKILL) at a random moment up to `longest`
    seconds after it has written something; the number of kills (fewer when a run finished first)."""
    kills = 0
    for _ in range(tries):
        process = reglab(*args)
        # Wait until training has written something, then kill at a random moment after.
        deadline = time.monotonic() + 60
        while progress(out) == 0 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, longest))
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    return kills


def test_sigkill_at_random_points_then_rerun_gives_identical_results(study, uninterrupted, tmp_path, fault_log):
    out = tmp_path / "run"
    kills = kill_at_random_moments(run_args(study, out), out, random.Random(7), tries=6, longest=1.5)
    done = finish(study, out)
    assert done.returncode == 0, done.stderr
    assert results(out) == uninterrupted
    assert not list(out.glob("runs/*/*.ckpt")) and not list(out.glob("runs/*/.*.tmp"))
    fault_log("SIGKILL at a random moment of training, then the same command again", kills,
              "resumed; results identical to an uninterrupted run")


@pytest.mark.parametrize("target, what", [
    (".ckpt:3", "while writing a checkpoint (before its rename)"),
    (".json:14", "while writing a run record (between its arrays and its record)"),
    (".npz:2", "while writing a run's arrays"),
])
def test_sigkill_in_the_middle_of_a_write(study, uninterrupted, tmp_path, fault_log, target, what):
    out = tmp_path / "run"
    crashed = finish(study, out, env={"REGLAB_TEST_CRASH": target})
    assert crashed.returncode == -signal.SIGKILL
    assert list(out.glob("runs/*/.*.tmp")), "the crash should leave a half-written temporary file"
    done = finish(study, out)
    assert done.returncode == 0, done.stderr
    assert results(out) == uninterrupted
    assert not list(out.glob("runs/*/.*.tmp")), "the resumed study removed the half-written file"
    fault_log(f"SIGKILL {what}", 1, "resumed; results identical; the half-written file never replaced a good one")


def test_ctrl_c_saves_and_exits_130_then_resume_finishes(study, uninterrupted, tmp_path, fault_log):
    out = tmp_path / "run"
    interrupts = 0
    for delay in (0.3, 1.0):
        started = time.time()
        process = reglab(*run_args(study, out))
        deadline = time.monotonic() + 60
        # Wait until this process is training: it has written a checkpoint.
        while time.monotonic() < deadline and not any(p.stat().st_mtime > started for p in out.glob("runs/*/*.ckpt")):
            time.sleep(0.05)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
        if process.returncode == 0:
            break  # finished before the signal landed
        interrupts += 1
        assert process.returncode == 130, stderr
        assert f"reglab resume {out}" in stderr and "Traceback" not in stderr
    assert interrupts, "the study finished before the first Ctrl-C landed: it tested nothing"
    done = subprocess.run([sys.executable, "-m", "reglab", "resume", str(out), "--no-report"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert results(out) == uninterrupted
    fault_log("Ctrl-C (SIGINT) during training, then `reglab resume`", interrupts,
              "exit 130 with the resume command; results identical")


def test_disk_full_during_a_write_keeps_everything_then_resumes(study, uninterrupted, tmp_path, monkeypatch,
                                                                 capsys, fault_log):
    import reglab.store.atomic as atomic
    from reglab.cli import main

    out = tmp_path / "run"
    real, calls = os.fsync, {"n": 0}

    def fills_up(fd):
        # The disk fills up at the 25th file reglab syncs (a checkpoint, by then), and stays full.
        calls["n"] += 1
        if calls["n"] >= 25:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(atomic.os, "fsync", fills_up)
    code = main(run_args(study, out))
    assert code == 1
    message = capsys.readouterr().err
    assert "No space left on device" in message and "run the same command again" in message
    monkeypatch.setattr(atomic.os, "fsync", real)
    assert not list(out.glob("runs/*/.*.tmp"))  # the failed write cleaned up after itself
    assert main(run_args(study, out)) == 0
    capsys.readouterr()
    assert results(out) == uninterrupted
    fault_log("disk full (ENOSPC) at the 25th file write", 1, "exit 1 with the fix; rerun resumed; results identical")


def test_a_different_study_in_the_directory_is_refused(study, tmp_path, fault_log):
    out = tmp_path / "run"
    assert finish(study, out).returncode == 0
    changed = tmp_path / "changed.toml"
    changed.write_text(STUDY.replace("l2 = 0.0005", "l2 = 0.001").replace("seeds = [0, 1]", "seeds = [0, 1, 2]"))
    done = subprocess.run([sys.executable, "-m", "reglab", *run_args(changed, out)], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "seeds" in done.stderr and "variants[1].l2.strength: 0.0005 in the run directory, 0.001 now" in done.stderr
    fault_log("--out pointing at a run of a changed study", 1, "exit 2 listing what differs")


def test_new_descriptions_do_not_stop_a_resume_and_are_kept(study, tmp_path):
    # Descriptions train nothing: a study whose words changed continues its directory, which takes
    # the new words for its report. (Before, any changed description refused the resume.)
    out = tmp_path / "run"
    assert finish(study, out).returncode == 0
    reworded = tmp_path / "reworded.toml"
    reworded.write_text(STUDY.replace('name = "plain"', 'name = "plain"\ndescription = "no regularization"\n'
                                      'description_ja = "正則化なし"'), encoding="utf-8")
    done = finish(reworded, out)
    assert done.returncode == 0, done.stderr
    assert "resuming" in done.stderr and "6 of 6 runs already finished" in done.stderr
    stored = json.loads((out / "study.json").read_text(encoding="utf-8"))["variants"][0]
    assert (stored["description"], stored["description_ja"]) == ("no regularization", "正則化なし")
    assert "正則化なし" in (out / "study.toml").read_text(encoding="utf-8")  # the study as written, too


def test_damaged_checkpoint_and_record_are_redone(study, uninterrupted, tmp_path, fault_log):
    out = tmp_path / "run"
    crashed = finish(study, out, env={"REGLAB_TEST_CRASH": ".ckpt:60"})  # the 60th of one worker
    assert crashed.returncode == -signal.SIGKILL
    checkpoints = list(out.glob("runs/*/seed-*.ckpt"))
    records = list(out.glob("runs/*/seed-*.json"))
    assert checkpoints and records
    checkpoints[0].write_bytes(checkpoints[0].read_bytes()[:100])  # truncated
    records[0].write_text("{\"variant\": ")  # truncated
    done = finish(study, out)
    assert done.returncode == 0, done.stderr
    assert results(out) == uninterrupted
    fault_log("truncated checkpoint and truncated run record on disk", 1,
              "both runs trained again from their start; results identical")


def test_a_checkpoint_cannot_run_code(tmp_path, fault_log):
    import pickle

    from reglab.engine.checkpoint import Checkpointer

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "seed-0.ckpt"
    path.write_bytes(pickle.dumps({"format": 1, "payload": Exploit()}, protocol=2))
    assert Checkpointer(path, 0).load() is None  # refused by torch.load(weights_only=True): starts over
    assert not marker.exists()
    fault_log("a checkpoint file holding a pickle that runs a shell command", 1, "refused; nothing executed")


def test_the_fast_engine_resumes_to_identical_results(study, tmp_path, fault_log):
    # Stacks train whole again on resume, stacked as the first attempt did: the same rounding.
    clean, crashed_dir = tmp_path / "clean", tmp_path / "crashed"
    fast = ("--engine", "fast")
    done = finish(study, clean, *fast)
    assert done.returncode == 0, done.stderr
    crashed = finish(study, crashed_dir, *fast, env={"REGLAB_TEST_CRASH": ".json:11"})
    assert crashed.returncode == -signal.SIGKILL
    finished_before = len(list(crashed_dir.glob("runs/*/seed-*.json")))
    assert 0 < finished_before < 6
    resumed = finish(study, crashed_dir, *fast)
    assert resumed.returncode == 0, resumed.stderr
    assert results(crashed_dir) == results(clean)
    fault_log("SIGKILL between two run records of the fast (stacked) engine", 1,
              "resumed; results identical to an uninterrupted fast run")


def test_the_reference_engine_resumes_from_its_own_checkpoints(study, tmp_path, fault_log):
    # `auto` trains single runs in the fast engine; the reference loop checkpoints too.
    clean, crashed_dir = tmp_path / "clean", tmp_path / "crashed"
    reference = ("--engine", "reference")
    done = finish(study, clean, *reference)
    assert done.returncode == 0, done.stderr
    crashed = finish(study, crashed_dir, *reference, env={"REGLAB_TEST_CRASH": ".ckpt:30"})
    assert crashed.returncode == -signal.SIGKILL
    assert list(crashed_dir.glob("runs/*/*.ckpt")), "the crash should leave a checkpoint to resume from"
    resumed = finish(study, crashed_dir, *reference)
    assert resumed.returncode == 0, resumed.stderr
    assert results(crashed_dir) == results(clean)
    fault_log("SIGKILL while writing a checkpoint of the reference engine", 1,
              "resumed from its checkpoint; results identical to an uninterrupted reference run")


def test_a_checkpoint_resumes_only_in_the_engine_that_wrote_it(tmp_path):
    from reglab.engine.checkpoint import Checkpointer

    path = tmp_path / "seed-0.ckpt"
    Checkpointer(path, 0.0, engine="reference").maybe_save(lambda: {"epoch": 3})
    assert Checkpointer(path, 0.0, engine="reference").load()["epoch"] == 3
    assert Checkpointer(path, 0.0, engine="fast").load() is None  # they round differently: start over


def test_a_second_process_training_into_the_same_directory_is_refused(tiny_study_file, tmp_path, capsys,
                                                                     fault_log):
    from reglab.cli import main
    from reglab.store import RunStore

    out = tmp_path / "run"
    args = ["run", str(tiny_study_file), "--out", str(out), "--device", "cpu", "--no-report", "--offline"]
    assert main(args) == 0
    first = RunStore.open(out)
    first.lock_for_writing()  # as the process training into it would (flock: any other open file conflicts)
    partial = next((out / "runs").iterdir()) / ".seed-0.json.tmp"
    partial.write_text("a write in progress")
    capsys.readouterr()
    assert main(args) == 2
    error = capsys.readouterr().err
    assert f"another reglab process (pid {os.getpid()}) is training into {out}" in error
    assert partial.exists()  # the other process's write in progress was left alone
    first.release_writing_lock()
    assert main(args) == 0 and not partial.exists()
    fault_log("a second `reglab run` into a directory another process is training into", 1,
              "exit 2 naming the other process; nothing removed or written; runs once the first is done")


def test_a_finished_directory_says_at_once_there_is_nothing_to_do_and_loads_no_data(tmp_path, monkeypatch):
    import reglab.engine.study as engine_study
    from reglab.config import parse_study
    from reglab.engine.study import StudyOptions, run_study
    from reglab.progress.events import Recorder

    study = parse_study('name = "done"\nseeds = [0]\n[data]\ndataset = "digits"\n[defaults]\nhidden = [8]\n'
                        'epochs = 1\n[[variants]]\nname = "a"\n')
    options = StudyOptions(out=tmp_path / "run", allow_download=False)
    run_study(study, options)
    def no_data(*args, **kwargs):
        raise AssertionError("a finished study loaded its data again")
    monkeypatch.setattr(engine_study, "prepare_data", no_data)
    recorder = Recorder()
    store = run_study(study, options, recorder)
    assert store.root == tmp_path / "run"
    assert any("its one run is already finished: nothing to train" in args[0] for args in recorder.of("notice"))
