"""Tiny real run directories for the fault tests: trained once, copied per case.

`finished` is a whole study trained with the default engine; `half_finished` is the same study
stopped (as by Ctrl-C) in the reference engine after its first run, with the second run's epoch
checkpoint on disk and two runs not started.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from reglab.cli import main

TINY = """
name = "tiny-faults"
seeds = [0, 1]
[data]
dataset = "digits"
train = 300
validation = 100
test = 150
[defaults]
hidden = [16]
epochs = 2
batch_size = 64
[[variants]]
name = "basic"
[[variants]]
name = "dropout"
dropout = 0.2
"""


def write_study(folder: Path, text: str = TINY) -> Path:
    path = folder / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def cli(*args: str) -> int:
    """The CLI in this process: an exception that is not turned into a message fails the test."""
    return main(list(args))


def train(study: Path, out: Path, *options: str) -> int:
    return cli("run", str(study), "--out", str(out), "--offline", "--no-report", "--checkpoint-seconds", "0", *options)


def stop_after_first_run(study: Path, out: Path) -> None:
    """Train in the reference engine (one run at a time, in this process) and stop as Ctrl-C would
    once the second run has finished an epoch: it leaves one record and one checkpoint."""
    from reglab.config import load_study
    from reglab.engine.scheduler import Interrupted
    from reglab.engine.study import Silent, StudyOptions, run_study

    stop = threading.Event()

    class StopAtSecondRun(Silent):
        finished = 0

        def run_finished(self, record):
            self.finished += 1

        def epoch_finished(self, variant, record):
            if self.finished == 1:
                stop.set()

    options = StudyOptions(out=out, device="cpu", allow_download=False, engine="reference", checkpoint_seconds=0.0,
                           source_text=study.read_text(encoding="utf-8"))
    try:
        run_study(load_study(str(study)), options, StopAtSecondRun(), cancel=stop)
    except Interrupted:
        return
    raise AssertionError("the study was meant to be stopped")


def numbers(out: Path) -> list[dict]:
    """`reglab results --format json`'s variants (and references) without wall-clock times (they differ every run)."""
    from reglab.analysis.summary import study_results
    from reglab.store import RunStore

    results = study_results(RunStore.open(out))
    variants = results["variants"]
    for variant in variants:
        for run in variant["runs"]:
            run.pop("seconds")
            for epoch in run["history"]:
                epoch.pop("seconds")
    # A study's scikit-learn references (none in most): their scores per seed, as variants' runs.
    references = [(r["name"], run["seed"], run["test_accuracy"], run["test_loss"])
                  for r in results.get("references", []) for run in r["runs"]]
    return json.loads(json.dumps(variants + ([{"references": references}] if references else [])))


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under `folder` (not following links) with its content's hash: to prove that
    nothing there was written, deleted or replaced."""
    seen = {}
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(base) / name
            relative = str(path.relative_to(folder))
            if path.is_symlink():
                seen[relative] = "link:" + os.readlink(path)
            elif path.is_file():
                seen[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                seen[relative] = "dir"
    return seen
