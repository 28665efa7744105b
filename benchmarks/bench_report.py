"""How long a user waits for `reglab report`, against baselines measured in the same invocation.

Each configuration runs as a fresh process, as a user runs it, `--repeat` times (the median
counts): its wall-clock seconds and its CPU seconds (user + system, children included: on a shared
machine the CPU time is what the work costs, the wall time what the machine's load lets it have).

  baseline          python -c "import matplotlib.figure": the floor of any report that draws figures
  report, 1 process REGLAB_REPORT_WORKERS=1: figures drawn one after another in the report's process
  report            as a user runs it: figures drawn in forked processes, one per core (at most 4)
  before (optional) --before-src DIR: the same command with another checkout's src/ first on
                    PYTHONPATH (`git archive COMMIT | tar -x -C DIR` gives an older version)

The run directory is trained first unless RUN_DIR is given: the tutorial study (10 variants) on the
embedded digits, one seed, or `--study regularization --seeds 3` for the 13-variant study.

    python benchmarks/bench_report.py [RUN_DIR] [--lang ja] [--repeat 3] [--before-src DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", nargs="?", help="a run directory to report on (default: train one first)")
    parser.add_argument("--study", default="tutorial")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--lang", default="ja", choices=("en", "ja"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before-src", help="another checkout's src/ directory's parent, to time its report too")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    env = dict(os.environ)
    before_env = {}
    if args.before_src:
        source = str(Path(args.before_src).resolve() / "src")
        before_env = {"PYTHONPATH": source + os.pathsep + env.get("PYTHONPATH", "")}
    run_dir = Path(args.run_dir) if args.run_dir else work / "run"
    if not args.run_dir:
        # Trained by the older version when there is one: newer versions read older run directories.
        print(f"training {args.study} on digits, {args.seeds} seed(s), for a run directory to report on ...", flush=True)
        subprocess.run([sys.executable, "-m", "reglab", "run", args.study, "--dataset", "digits", "--offline",
                        "--seeds", str(args.seeds), "--no-report", "--out", str(run_dir)],
                       env=env | before_env, check=True, stdout=subprocess.DEVNULL)

    report = [sys.executable, "-m", "reglab", "report", str(run_dir), "--lang", args.lang, "--out"]
    configurations = [
        ("baseline: import matplotlib.figure", [sys.executable, "-c", "import matplotlib.figure"], {}),
        ("report, 1 process", report + [str(work / "one")], {"REGLAB_REPORT_WORKERS": "1"}),
        ("report", report + [str(work / "default")], {}),
    ]
    if args.before_src:
        configurations.append(("before (--before-src)", report + [str(work / "before")], before_env))

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {cores} cores, load average {os.getloadavg()[0]:.1f}; {run_dir}; --lang {args.lang}; "
          f"median of {args.repeat}")
    results: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeat):  # interleaved, so that a change in the machine's load hits every configuration
        for name, command, extra in configurations:
            wall, cpu = timed(command, env | extra)
            results.setdefault(name, [])  # type: ignore[arg-type]
            results[name].append((wall, cpu))  # type: ignore[union-attr]
    medians = {name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
               for name, runs in results.items()}
    base_wall, base_cpu = medians["baseline: import matplotlib.figure"]
    print(f"{'configuration':36s} {'wall s':>7s} {'x base':>7s} {'CPU s':>7s} {'x base':>7s}")
    for name, (wall, cpu) in medians.items():
        print(f"{name:36s} {wall:7.2f} {wall / base_wall:6.1f}x {cpu:7.2f} {cpu / base_cpu:6.1f}x")
    if "before (--before-src)" in medians:
        before_wall, before_cpu = medians["before (--before-src)"]
        wall, cpu = medians["report"]
        print(f"report against before: {before_wall / wall:.2f}x faster in wall time, "
              f"{before_cpu / cpu:.2f}x less CPU")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
