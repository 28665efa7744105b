"""A 100-run sweep on the CPU against the tutorial, measured in the same invocation.

    .venv/bin/python benchmarks/bench_sweep.py            # 10 learning rates x 10 seeds
    .venv/bin/python benchmarks/bench_sweep.py --quick    # 4 x 2 on digits, a smoke test

Prints (1) the tutorial's cost per run (its ten models, reglab's default engine) and that of its
five optimizer models alone (784-256-128-10, 10 epochs: the same size as a sweep point), (2) the
sweep's cost per run (optimizer.lr over 10 log-spaced values x 10 seeds of the same network, 10
epochs of 10,000 Fashion-MNIST images) and the ratios, and (3) the wall time of `reglab report` on
the sweep's run directory, in a fresh process (figures, HTML, findings; the target is under 10 s on
two cores). Fashion-MNIST comes from ../shared/data/fashion-mnist or $REGLAB_BENCH_FASHION.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FASHION = Path(os.environ.get("REGLAB_BENCH_FASHION", ROOT.parent / "shared" / "data" / "fashion-mnist"))

SWEEP_STUDY = """
name = "bench-sweep"
seeds = {seeds}
[data]
dataset = "{dataset}"
train = 10000
validation = 2000
test = 10000
[defaults]
hidden = [256, 128]
epochs = 10
batch_size = 128
[[variants]]
name = "adam"
optimizer = {{ name = "adam", lr = 0.001 }}
[[sweeps]]
name = "learning rate"
base = "adam"
values.optimizer.lr = {{ log = [1e-4, 1e-2], points = {points} }}
"""


def timed_study(study, out: Path, data_dir: Path | None) -> tuple[float, int]:
    from reglab import lab

    options = lab.run_options(study, out=out, data_dir=data_dir, device="cpu", allow_download=False)
    started = time.perf_counter()
    lab.run_study(study, options, report=False)
    return time.perf_counter() - started, len(study.variants) * len(study.seeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 points x 2 seeds on digits")
    args = parser.parse_args()
    from reglab import lab
    from reglab.config import parse_study

    quick = args.quick or not FASHION.is_dir()
    dataset, data_dir = ("digits", None) if quick else ("fashion-mnist", FASHION)
    points, seeds = (4, 2) if args.quick else (10, 10)
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    print(f"torch threads: {__import__('torch').get_num_threads()}, cpus: {os.cpu_count()}, data: {dataset}")
    try:
        tutorial, _ = lab.load_study("tutorial", dataset=dataset)
        seconds, runs = timed_study(tutorial, work / "tutorial", data_dir)
        per_tutorial = seconds / runs
        print(f"tutorial: {runs} runs in {seconds:.1f} s = {per_tutorial:.2f} s per run")
        optimizer_models = [v for v in tutorial.variants if v.hidden == (256, 128)]
        from dataclasses import replace
        same_size = replace(tutorial, variants=tuple(replace(v, baseline=None) for v in optimizer_models))
        seconds, runs = timed_study(same_size, work / "tutorial-784-256-128", data_dir)
        per_same = seconds / runs
        print(f"tutorial's optimizer models (784-256-128-10, 10 epochs): {runs} runs in {seconds:.1f} s "
              f"= {per_same:.2f} s per run")

        study = parse_study(SWEEP_STUDY.format(seeds=seeds, dataset=dataset, points=points), "bench-sweep",
                            {"max_runs": 10_000})
        sweep_points = [v for v in study.variants if v.sweep is not None]
        study = replace(study, variants=tuple(sweep_points))
        print(lab.plan(study, "cpu").describe())
        seconds, runs = timed_study(study, work / "sweep", data_dir)
        per_sweep = seconds / runs
        print(f"sweep: {runs} runs in {seconds:.1f} s = {per_sweep:.2f} s per run")
        print(f"ratio, sweep per run / tutorial per run: {per_sweep / per_tutorial:.2f} (target <= 1)")
        print(f"ratio, sweep per run / same-size tutorial run: {per_sweep / per_same:.2f}")

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "reglab", "report", str(work / "sweep"), "--lang", "en"],
                              capture_output=True, text=True)
        report_seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        assert done.returncode == 0, done.stderr
        # The report draws in one thread: on an idle machine its wall time is about its CPU time; on a
        # shared one the wall time also counts the neighbours.
        print(f"report of the {runs}-run sweep (fresh process, figures + HTML + findings): {report_seconds:.1f} s "
              f"wall, {cpu:.1f} s CPU (target < 10 s on two cores)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
