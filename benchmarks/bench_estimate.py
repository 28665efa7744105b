"""The time estimate against the actual time, for every built-in study on digits and the
tutorial on Fashion-MNIST, in one invocation.

Each study runs as a user runs it: `reglab run STUDY --dataset digits --out TMP` in a fresh process
(with its report), and the estimate is read from what it prints ("estimated time about ... in
all"); actual is the command's wall-clock time. The goal (issue 24): within a factor of 1.5 either
way on an idle machine. The load average before and after each study is printed beside it: on a
machine that others share the actual time grows with their load and the estimate does not.

    python benchmarks/bench_estimate.py [--studies tutorial,cnn] [--fashion DIR] [--seeds N]

--fashion: a folder with Fashion-MNIST's four IDX files (default: ../shared/data/fashion-mnist
beside the repository, else `reglab data fetch fashion-mnist`'s cache); the row is skipped without it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PATTERN = re.compile(r"estimated time about ([\d.]+) (s|min|h) in all")
UNITS = {"s": 1, "min": 60, "h": 3600}


def estimated_seconds(text: str) -> float | None:
    match = PATTERN.search(" ".join(text.split()))  # the line may wrap at the terminal's width
    return float(match.group(1)) * UNITS[match.group(2)] if match else None


def run(study: str, extra: list[str], out: Path) -> tuple[float | None, float, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "COLUMNS": "200"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "reglab", "run", study, "--out", str(out), *extra], env=env,
                          capture_output=True, text=True)
    actual = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{study} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return estimated_seconds(done.stderr), actual, done.stderr


def fashion_dir(given: str | None) -> Path | None:
    for candidate in ([Path(given)] if given else [REPO.parent / "shared" / "data" / "fashion-mnist"]):
        if candidate.is_dir():
            return candidate
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", default=None, help="comma-separated built-in studies (default: all)")
    parser.add_argument("--fashion", default=None, help="Fashion-MNIST's folder (see above)")
    parser.add_argument("--no-fashion", action="store_true", help="leave out the Fashion-MNIST row")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from reglab.config import builtin_studies

    names = args.studies.split(",") if args.studies else sorted(builtin_studies())
    cases = [(name, "digits", ["--dataset", "digits"]) for name in names]
    fashion = None if args.no_fashion else fashion_dir(args.fashion)
    if fashion is not None:
        cases.append(("tutorial", "fashion-mnist", ["--dataset", "fashion-mnist", "--data-dir", str(fashion)]))
    elif not args.no_fashion:
        print("fashion-mnist: no folder (--fashion DIR): that row is left out", file=sys.stderr)
    print(f"cores: {len(os.sched_getaffinity(0))}")
    print(f"{'study':<16}{'dataset':<15}{'estimate s':>11}{'actual s':>10}{'ratio':>8}  load before/after")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for number, (study, dataset, extra) in enumerate(cases):
            load_before = os.getloadavg()[0]
            estimate, actual, text = run(study, extra, Path(tmp) / f"{number}-{study}")
            load_after = os.getloadavg()[0]
            ratio = estimate / actual if estimate else None
            if ratio:
                ratios.append(ratio)
            shown = f"{estimate:11.1f}" if estimate else f"{'none':>11}"
            print(f"{study:<16}{dataset:<15}{shown}{actual:10.1f}{(f'{ratio:.2f}' if ratio else '-'):>8}"
                  f"  {load_before:.1f} / {load_after:.1f}", flush=True)
    inside = sum(1 for r in ratios if 1 / 1.5 <= r <= 1.5)
    print(f"within a factor 1.5: {inside} of {len(ratios)} estimates "
          f"(ratio = estimate / actual; range {min(ratios):.2f} to {max(ratios):.2f})" if ratios else "no estimates")


if __name__ == "__main__":
    main()
