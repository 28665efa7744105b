"""What the per-epoch weight sketch and the max-norm peak cost the trainer (issue 13).

Trains the same runs in one process, alternating, with both records on (as shipped) and with
them switched off (the sketch replaced by zeros, the peak's per-step norm skipped), in both
engines, and prints the ratio. The sketch is one gather and one sum over the hidden weights per
epoch; the peak is one more row-norm pass over the hidden kernels per step, for max-norm
variants only.

    python benchmarks/bench_epoch_records.py [--repeat 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from reglab.config import parse_study
from reglab.data import load_dataset, make_splits
from reglab.engine import fast, reference
from reglab.engine.core import DeviceData
from reglab.techniques import constraints

STUDY = """
[defaults]
hidden = [512, 256, 128, 64]
epochs = 15
batch_size = 32
[[variants]]
name = "plain"
[[variants]]
name = "max_norm"
dropout = 0.3
max_norm = 1.0
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    study = parse_study(STUDY)
    splits = make_splits(load_dataset("digits"), train=10000, validation=2000, test=10000)
    data = DeviceData.from_arrays(splits, "cpu")
    real_sketch, real_observe = reference.weight_sketch, constraints.NormPeak.observe

    def records(on: bool) -> None:
        zeros = lambda kernels, stacked=False: torch.zeros((kernels[0].shape[0], 256) if stacked else (256,))  # noqa: E731
        reference.weight_sketch = fast.weight_sketch = real_sketch if on else zeros
        constraints.NormPeak.observe = real_observe if on else (lambda self, kernels: None)

    times: dict[tuple[str, str, bool], list[float]] = {}
    for repeat in range(args.repeat):
        for on in ((True, False) if repeat % 2 else (False, True)):  # alternating: no order favoured
            records(on)
            for variant in study.variants:
                for engine, train in (("reference", lambda v: reference.train_run(data, v, 0)),
                                      ("fast", lambda v: fast.train_stack(data, [(v, 0)]))):
                    started = time.perf_counter()
                    train(variant)
                    times.setdefault((variant.name, engine, on), []).append(time.perf_counter() - started)
    records(True)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; torch threads {args.threads}; "
          f"digits, {study.variants[0].epochs} epochs, median of {args.repeat}")
    print(f"{'variant':10} {'engine':10} {'records on s':>13} {'off s':>8} {'on / off':>9}")
    for variant in study.variants:
        for engine in ("reference", "fast"):
            on = statistics.median(times[(variant.name, engine, True)])
            off = statistics.median(times[(variant.name, engine, False)])
            print(f"{variant.name:10} {engine:10} {on:13.3f} {off:8.3f} {on / off:8.3f}x")
    # The direct measure, steadier on a shared machine: each record's own cost against an epoch's.
    kernels = reference.models.build(study.variants[1], data.image_shape, data.classes,
                                     torch.Generator().manual_seed(0)).regularized_kernels()
    sketch_s = _best_of(lambda: real_sketch(kernels), 50)
    peak = constraints.NormPeak(1.0)
    observe_s = _best_of(lambda: real_observe(peak, [k.detach() for k in kernels]), 50)
    epoch_s = statistics.median(times[("max_norm", "reference", True)]) / study.variants[1].epochs
    steps = -(-data.x_train.shape[0] // study.variants[1].batch_size)
    print(f"direct: sketch {sketch_s * 1e3:.3f} ms per epoch = {sketch_s / epoch_s:.1%} of an epoch "
          f"({epoch_s * 1e3:.1f} ms); max-norm peak {observe_s * 1e6:.0f} µs per step = "
          f"{observe_s * steps / epoch_s:.1%} of a max-norm epoch ({steps} steps); {sum(k.numel() for k in kernels):,} "
          "hidden weights")


def _best_of(call, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


if __name__ == "__main__":
    main()
