"""Sweep points are variants like any other: a sweep killed (SIGKILL) or interrupted (Ctrl-C) and run
again ends with exactly the results of an uninterrupted one, on the same command line (--sweep)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import test_resume as resume_tests
from test_resume import kill_at_random_moments, progress, reglab, results, run_args

STUDY = """
name = "sweepable"
seeds = [0, 1]
[data]
dataset = "digits"
train = 300
validation = 300
test = 300
[defaults]
hidden = [64, 32]
epochs = 25
batch_size = 32
[[variants]]
name = "plain"
"""
SWEEP = ["--sweep", "l2=1e-4:1e-1:log:3", "--sweep", "dropout.rate=0,0.4"]


def finish(study: Path, out: Path) -> subprocess.CompletedProcess:
    return resume_tests.finish(study, out, *SWEEP)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sweep") / "sweepable.toml"
    path.write_text(STUDY)
    return path


@pytest.fixture(scope="module")
def uninterrupted(study, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("clean") / "run"
    done = finish(study, out)
    assert done.returncode == 0, done.stderr
    assert "This study makes 12 runs (6 variants x 2 seeds)" in done.stderr.replace("\n", " ")
    everything = results(out)  # every number, every epoch field and every array of every run
    found = everything["variants"]
    assert [v["name"] for v in found] == [f"l2={l2} dropout={d}" for l2 in ("1e-04", "3e-03", "1e-01")
                                          for d in ("0", "0.4")]
    assert found[3]["sweep"] == {"name": "l2 x dropout", "values": {"l2": 0.00316227766017, "dropout.rate": 0.4}}
    return everything


def test_a_sweep_killed_at_random_points_then_rerun_gives_identical_results(study, uninterrupted, tmp_path,
                                                                            fault_log):
    out = tmp_path / "run"
    kills = kill_at_random_moments([*run_args(study, out), *SWEEP], out, random.Random(3), tries=3, longest=1.0)
    done = finish(study, out)
    assert done.returncode == 0, done.stderr
    assert results(out) == uninterrupted
    fault_log("SIGKILL at a random moment of a --sweep study, then the same command again", kills,
              "resumed; results identical to an uninterrupted sweep")


def test_a_sweep_interrupted_with_ctrl_c_resumes_to_identical_results(study, uninterrupted, tmp_path, fault_log):
    out = tmp_path / "run"
    process = reglab(*run_args(study, out), *SWEEP)
    deadline = time.monotonic() + 60
    # At the first stored epoch (a checkpoint, or a record): a stack of several runs checkpoints
    # none, and waiting for a checkpoint let an idle machine finish the sweep before the signal.
    while time.monotonic() < deadline and process.poll() is None and not progress(out):
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode in (0, 130), stderr
    done = subprocess.run([sys.executable, "-m", "reglab", "resume", str(out), "--no-report"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert results(out) == uninterrupted
    fault_log("Ctrl-C during a --sweep study, then `reglab resume`", int(process.returncode == 130),
              "exit 130; resumed from study.json (the points as stored); results identical")
