"""The report of a large sweep, without training it: a run directory of POINTS x SEEDS synthetic
runs written through the real RunStore (a U-shaped validation loss over an L2 λ, 20 epochs each,
weights of a 784-256-128-10 network, 10,000 test predictions), then `reglab report` on it in a
fresh process, timed (wall and CPU).

    .venv/bin/python benchmarks/bench_sweep_report.py               # 100 points x 10 seeds = 1,000 runs
    .venv/bin/python benchmarks/bench_sweep_report.py --points 10   # 100 runs
"""

from __future__ import annotations

import argparse
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from reglab.store import EpochRecord, RunArrays, RunRecord, RunStore

EPOCHS, TEST, SHAPES = 20, 10_000, [(256, 784), (128, 256), (10, 128)]


def write(root: Path, points: int, seeds: int) -> None:
    l2 = [float(f"{v:.12g}") for v in np.logspace(-6, -1, points)]
    names = [f"l2={v:.{max(0, math.ceil(math.log10(points)) - 1)}e}" for v in l2]
    variants = [{"name": n, "description": f"L2 sweep: {n}", "baseline": names[0], "hidden": [256, 128],
                 "epochs": EPOCHS, "batch_size": 128, "optimizer": {"name": "adam", "lr": 0.001},
                 "schedule": {"name": "constant"}, "l2": {"strength": v},
                 "sweep": {"name": "L2", "values": {"l2": v}, "scales": {"l2": "log"}, "choose": "val_loss"}}
                for n, v in zip(names, l2)]
    study = {"name": "big-sweep", "description": "synthetic", "keras_compat": True, "seeds": list(range(seeds)),
             "data": {"dataset": "mnist", "train": 10000, "validation": 2000, "test": TEST, "split_seed": 0},
             "variants": variants}
    store = RunStore.create(root, study=study, source_text="", environment={"reglab": "bench"})
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, TEST)
    store.write_data({"dataset": "mnist", "class_names": [str(i) for i in range(10)], "image_shape": [28, 28],
                      "splits": {"train": 10000, "validation": 2000, "test": TEST}}, labels,
                     rng.integers(0, 256, (TEST, 28, 28), dtype=np.uint8))
    weights = {f"layers.{2 * i}.weight": rng.normal(0, 0.05, s).astype(np.float32) for i, s in enumerate(SHAPES)}
    weights |= {f"layers.{2 * i}.bias": np.zeros(s[0], np.float32) for i, s in enumerate(SHAPES)}
    for index, (name, strength) in enumerate(zip(names, l2)):
        store.save_model_summary(index, name, [{"layer": "dense_1 (Linear)", "output_shape": "(None, 256)",
                                                "params": 200960, "trainable": 200960}])
        for seed in range(seeds):
            train = 0.01 + 20 * strength + 0.002 * seed + 0.002 * rng.standard_normal()  # seeds differ
            gap = 0.3 / (1 + 1000 * strength)
            history = tuple(EpochRecord(epoch=e, train_loss=train * (1 + (EPOCHS - e) / 5), train_accuracy=math.exp(-train),
                                        val_loss=(train + gap) * (1 + (EPOCHS - e) / 10),
                                        val_accuracy=math.exp(-train - gap), lr=0.001, seconds=0.1)
                            for e in range(EPOCHS))
            predictions = np.where(rng.random(TEST) < math.exp(-train - gap), labels, (labels + 1) % 10)
            store.save_run(index, RunRecord(name, seed, "completed", history, test_loss=train + gap,
                                            test_accuracy=float((predictions == labels).mean()), seconds=1.0),
                           RunArrays(predictions.astype(np.int16), weights))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-report-"))
    try:
        started = time.perf_counter()
        write(work / "run", args.points, args.seeds)
        print(f"wrote {args.points * args.seeds} synthetic runs in {time.perf_counter() - started:.1f} s")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "reglab", "report", str(work / "run"), "--lang", "en"],
                              capture_output=True, text=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert done.returncode == 0, done.stderr
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(f"report of {args.points * args.seeds} runs ({args.points} sweep points): {wall:.1f} s wall, "
              f"{cpu:.1f} s CPU")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
