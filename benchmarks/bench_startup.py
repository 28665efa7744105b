"""Start-up: what a user waits for before training, and the commands that train nothing.

Every timing is a fresh interpreter (`python -m reglab ...`), as a user starts it, measured in this
invocation beside `python -c "import torch"`, the baseline: times on a shared machine drift, the
ratios within one invocation are what counts. Each command runs `--repeat` times, alternating
before and after, and the minimum is kept (the least disturbed by other load).

"before" is the code of another commit (default ed25d6a, where issue 19 started), taken with
`git archive` into a temporary directory and run with the same interpreter and packages
(PYTHONPATH puts its `src` first); "after" is this checkout. `--parts` adds a timeline of one
default offline run of each, part by part (interpreter, torch, data, torch._dynamo, models,
workers, first epoch).

    python benchmarks/bench_startup.py                   # before and after, best of 3
    python benchmarks/bench_startup.py --repeat 5 --parts
    python benchmarks/bench_startup.py --before ''       # this checkout only
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# (label, arguments after `python`); {run} is a stored run directory, {out} a fresh directory.
BASELINES = [
    ("python -c pass (the interpreter)", ["-c", "pass"]),
    ('python -c "import torch" (BASELINE)', ["-c", "import torch"]),
]
COMMANDS = [
    ("import reglab", ["-c", "import reglab"]),
    ("reglab --help", ["-m", "reglab", "--help"]),
    ("reglab --version", ["-m", "reglab", "--version"]),
    ("reglab studies", ["-m", "reglab", "studies"]),
    ("reglab techniques", ["-m", "reglab", "techniques"]),
    ("reglab data list", ["-m", "reglab", "data", "list"]),
    ("reglab summary", ["-m", "reglab", "summary"]),
    ("reglab results RUN", ["-m", "reglab", "results", "{run}"]),
    ("reglab report RUN (draws figures)", ["-m", "reglab", "report", "{run}", "--out", "{out}"]),
]
# The default offline run's fixed cost: the tutorial's ten models on digits for one epoch each
# (about 0.1 s of training a run), without and with its report.
RUNS = [
    ("run: 10 runs x 1 epoch, no report", ["-m", "reglab", "run", "--offline", "--epochs", "1", "--no-report",
                                           "--out", "{out}"]),
    ("run --offline (the default, whole)", ["-m", "reglab", "run", "--offline", "--out", "{out}"]),
]

PARTS_SCRIPT = r'''
import sys, time, os, functools
T0 = time.perf_counter()
def mark(label):
    print(f"PART {time.perf_counter() - T0:8.3f} {label}", file=sys.stderr, flush=True)
mark("interpreter up")
import reglab.cli
mark("reglab.cli imported")
import reglab.engine.study as study, reglab.engine.scheduler as scheduler
mark("engine imported (torch)")
def wrap(owner, name, label):
    fn = getattr(owner, name)
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        mark(f"{label} ...")
        try:
            return fn(*args, **kwargs)
        finally:
            mark(f"... {label} done")
    setattr(owner, name, timed)
wrap(study, "resolve_dataset", "data: load")
wrap(study, "make_splits", "data: splits")
wrap(study.DeviceData, "from_arrays", "data: tensors")
wrap(study, "plan", "plan")
try:  # after: reglab.engine.startup.import_dynamo, called by the run's estimate and by the scheduler
    import reglab.engine.startup, reglab.cost.time_estimate
    wrap(reglab.engine.startup, "import_dynamo", "torch._dynamo import")
    scheduler.import_dynamo = reglab.cost.time_estimate.import_dynamo = reglab.engine.startup.import_dynamo
    wrap(reglab.cost.time_estimate, "plan", "the run's time estimate (measures a few steps)")
except ImportError:  # before: imported inside execute(), by importlib.import_module("torch._dynamo")
    import_module = scheduler.importlib.import_module
    class Importlib:
        @staticmethod
        def import_module(name):
            if name != "torch._dynamo":
                return import_module(name)
            mark("torch._dynamo import ...")
            module = import_module(name)
            mark("... torch._dynamo import done")
            return module
    scheduler.importlib = Importlib
wrap(study, "execute", "train (workers fork, then train)")
train_name = "train_unit" if hasattr(scheduler, "train_unit") else "_train"  # renamed since ed25d6a
train = getattr(scheduler, train_name)
first = set()
def train_timed(unit, data, epoch_done, checkpoint):
    pid = os.getpid()
    if pid not in first:
        mark(f"worker {pid}: first unit starts")
    def each_epoch(position, record, pid=pid):
        if pid not in first:
            first.add(pid)
            mark(f"worker {pid}: first epoch done")
        return epoch_done(position, record)
    return train(unit, data, each_epoch, checkpoint)
setattr(scheduler, train_name, train_timed)
code = reglab.cli.main(sys.argv[1:])
mark("end of main")
'''


def source_of(commit: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def timed(args: list[str], src: Path, env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          env={**env, "PYTHONPATH": str(src)})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", default="ed25d6a", help="the commit to compare with ('' for none)")
    parser.add_argument("--parts", action="store_true", help="also a part-by-part timeline of one run")
    parser.add_argument("--no-runs", action="store_true", help="only the commands that train nothing")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="reglab-bench-startup-"))
    try:
        versions = {"after": REPO / "src"}
        if options.before:
            (work / "before").mkdir()
            versions = {"before": source_of(options.before, work / "before"), **versions}
        # No MNIST in the cache: the default dataset falls back to digits, offline, as on a new machine.
        env = {**os.environ, "REGLAB_DATA": str(work / "empty-cache"), "COLUMNS": "80"}
        counter = iter(range(10**6))

        def expand(args: list[str], name: str) -> list[str]:
            return [a.format(run=work / f"stored-{name}", out=work / f"out-{next(counter)}") for a in args]

        # A stored run for `results` and `report`, made by each version itself.
        for name, src in versions.items():
            timed(["-m", "reglab", "run", "--offline", "--epochs", "2", "--no-report", "--out",
                   str(work / f"stored-{name}")], src, env, work)

        rows = BASELINES + COMMANDS + ([] if options.no_runs else RUNS)
        best: dict[tuple[str, str], float] = {}
        for attempt in range(options.repeat):
            for label, args in rows:
                for name, src in versions.items():
                    seconds = timed(expand(args, name), src, env, work)
                    best[label, name] = min(best.get((label, name), float("inf")), seconds)
            print(f"  pass {attempt + 1}/{options.repeat} done", file=sys.stderr, flush=True)

        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at the end; python "
              f"{sys.version.split()[0]}; best of {options.repeat}; before = {options.before or '-'}")
        torch_before = best.get(("python -c \"import torch\" (BASELINE)", "before"))
        torch_after = best[("python -c \"import torch\" (BASELINE)", "after")]
        header = f"{'':38} {'before s':>9} {'/torch':>7} {'after s':>9} {'/torch':>7} {'after/before':>13}"
        print(header)
        for label, _ in rows:
            after = best[label, "after"]
            line = f"{label:38} "
            if "before" in versions:
                before = best[label, "before"]
                line += f"{before:9.2f} {before / torch_before:6.2f}x "
            else:
                line += f"{'':9} {'':7} "
            line += f"{after:9.2f} {after / torch_after:6.2f}x"
            if "before" in versions:
                line += f" {after / best[label, 'before']:12.2f}x"
            print(line)
        if options.parts:
            for name, src in versions.items():
                print(f"\none default offline run, part by part ({name}): seconds since the interpreter started")
                done = subprocess.run([sys.executable, "-c", PARTS_SCRIPT, "run", "--offline", "--no-report",
                                       "--epochs", "1", "--out", str(work / f"parts-{name}")],
                                      cwd=work, capture_output=True, text=True, env={**env, "PYTHONPATH": str(src)})
                for line in done.stderr.splitlines():
                    if line.startswith("PART "):
                        print("  " + line[5:])
                if done.returncode != 0:
                    print(done.stderr[-2000:])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
