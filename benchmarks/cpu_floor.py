"""How fast could any engine train the `tutorial` study on these CPU cores? A measured floor.

    python benchmarks/cpu_floor.py              # plain loop, reglab auto, and three floors
    python benchmarks/cpu_floor.py --repeat 2   # best of two rounds

Fashion-MNIST must be where bench_engines.py reads it (../shared/data/fashion-mnist, or
$REGLAB_BENCH_FASHION); without it the script refuses (exit 1 with the reason) rather than time
its plain and auto rows on digits beside floors of Fashion-MNIST's shapes.

Issue 4 asks the CPU engine for 2x the plain PyTorch loop. This script measures, in one
invocation, what the study's own arithmetic costs when nothing else runs, so that a speed-up
can be read against what is possible rather than against a guess:

  plain        the baseline of bench_engines.py: a plain PyTorch loop, one model after another
  auto         reglab --engine auto (what `reglab run` does on the CPU)
  products     only the study's float32 matrix products, with the shapes and counts the fast
               engine runs them (each training step's forward pass and backward pass, each
               epoch's validation, the final test), and nothing else: no loss, no activation,
               no optimizer, no Python between steps beyond the loop over them
  +optimizer   the same plus each step's optimizer update, the one reglab builds for each model
               (torch.optim's fused kernels on the CPU; the tutorial's Keras RMSprop in foreach
               operations): faster than the plain loop's torch.optim defaults
  +dropout     the same plus each step's dropout random numbers (torch.rand of the masks' shapes)

The floors run in two single-thread processes at once (one per core, as reglab's workers do),
with the work split between them by epochs, far finer than reglab's split by runs; each
process's clock starts after its tensors are allocated. So they are lower bounds: an engine
that computes these products in float32 on these cores cannot train the study faster than
`products`, and one that also updates with torch.optim and draws dropout masks cannot beat
`+dropout`. The last column says what share of each configuration's time that floor is.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

LEVELS = ("products", "+optimizer", "+dropout")
TRAIN, VALIDATION, TEST = 10000, 2000, 10000  # the tutorial's split sizes
CLASSES, INPUT = 10, 784


def work_items(quick: bool) -> list[tuple[str, str, int]]:
    """(variant name, "epoch" or "test", its cost in multiply-adds: the split key) for every epoch and
    test of the study."""
    from reglab.config import load_study

    study = load_study("tutorial", {"epochs": 2} if quick else None)
    items = []
    for variant in study.variants:
        widths = (INPUT, *variant.hidden, CLASSES)
        forward = sum(a * b for a, b in zip(widths, widths[1:]))
        backward = 2 * forward - widths[0] * widths[1]  # no gradient for the input
        epoch_cost = TRAIN * (forward + backward) + VALIDATION * forward
        items += [(variant.name, "epoch", epoch_cost)] * variant.epochs
        items.append((variant.name, "test", TEST * forward))
    return items


def split(items: list[tuple[str, str, int]], workers: int) -> list[list[tuple[str, str, int]]]:
    """Longest first onto the least loaded worker: shares within one epoch of each other."""
    shares: list[list] = [[] for _ in range(workers)]
    loads = [0] * workers
    for item in sorted(items, key=lambda item: -item[2]):
        lightest = loads.index(min(loads))
        shares[lightest].append(item)
        loads[lightest] += item[2]
    return shares


class Model:
    """One variant's tensors, allocated once: weights, gradient buffers, activations."""

    def __init__(self, variant, level: int):
        from reglab.techniques import registry

        self.batch = variant.batch_size
        self.widths = (INPUT, *variant.hidden, CLASSES)
        pairs = list(zip(self.widths, self.widths[1:]))
        self.weights = [torch.randn(out, fan_in) * 0.05 for fan_in, out in pairs]
        self.biases = [torch.zeros(out) for _, out in pairs]
        self.rates = [*variant.dropout_rates(), 0.0]
        for p in self.weights + self.biases:
            p.grad = torch.zeros_like(p)  # the weights' gradients are written here every step
        self.optimizer = None
        if level >= 1:
            self.optimizer = registry.lookup("optimizer", variant.optimizer.name).build(
                dict(variant.optimizer.params), self.weights + self.biases)
        self.dropout = level >= 2
        self.generator = torch.Generator().manual_seed(0)
        self.x = torch.rand(TEST, INPUT)
        # The output's gradient: fixed and small, so that the weights the optimizer moves cannot
        # feed back into it and drift into inf or subnormal numbers (which change the speed).
        self.d_logits = torch.randn(self.batch, CLASSES) * 1e-3

    def train_step(self, rows: int) -> None:
        x = self.x[:rows]
        inputs, h = [], x
        for w, b, rate in zip(self.weights, self.biases, self.rates):
            inputs.append(h)
            h = torch.addmm(b, h, w.t())
            if self.dropout and rate:
                torch.rand(h.shape, generator=self.generator)
        d = self.d_logits[:rows]
        for i in reversed(range(len(self.weights))):
            torch.mm(d.t(), inputs[i], out=self.weights[i].grad)
            if i:
                d = torch.mm(d, self.weights[i])
        if self.optimizer is not None:
            self.optimizer.step()

    def forward(self, rows: int) -> None:
        h = self.x[:rows]
        for w, b in zip(self.weights, self.biases):
            h = torch.addmm(b, h, w.t())

    def epoch(self) -> None:
        for start in range(0, TRAIN, self.batch):
            self.train_step(min(self.batch, TRAIN - start))
        self.forward(VALIDATION)


def floor_worker(share: list[tuple[str, str, int]], level: int, quick: bool) -> float:
    """Runs in a child process with one thread: its share of the products; seconds of compute."""
    from reglab.config import load_study

    torch.set_num_threads(1)
    importlib.import_module("torch._dynamo")  # torch.optim imports it on its first step: start-up, off the clock

    study = load_study("tutorial", {"epochs": 2} if quick else None)
    models = {name: Model(study.variant(name), level) for name in {name for name, _, _ in share}}
    for model in models.values():  # first touch of every buffer and kernel, off the clock
        model.train_step(model.batch)
    started = time.perf_counter()
    for name, kind, _ in share:
        models[name].epoch() if kind == "epoch" else models[name].forward(TEST)
    return time.perf_counter() - started


def measure_floor(level: int, quick: bool, workers: int = 2) -> float:
    """Wall seconds of the floor: the slowest of the concurrent workers' compute times."""
    shares = split(work_items(quick), workers)
    processes = [subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(share), "--level", str(level)]
                                  + (["--quick"] if quick else []), stdout=subprocess.PIPE, text=True)
                 for share in shares]
    times = []
    for process in processes:
        output, _ = process.communicate()
        if process.returncode:
            raise SystemExit(f"a floor worker failed (exit {process.returncode})")
        times.append(float(output.strip().splitlines()[-1]))
    return max(times)


def measure_config(config: str, quick: bool) -> float:
    command = [sys.executable, str(Path(__file__).with_name("bench_engines.py")), "--only", config]
    output = subprocess.run(command + (["--quick"] if quick else []), check=True, capture_output=True,
                            text=True).stdout
    return json.loads(output.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every configuration (best kept)")
    parser.add_argument("--quick", action="store_true", help="2 epochs per model, for a smoke test")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--level", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(floor_worker([tuple(item) for item in json.loads(args.worker)], args.level, args.quick))
        return

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_engines import FASHION  # where bench_engines.py, which times the plain and auto rows, reads it

    if not FASHION.is_dir():
        # The floors are Fashion-MNIST's shapes; the plain and auto rows would train on digits: one
        # table of two different works, whose ratios mean nothing. Refused instead.
        sys.exit(f"cpu_floor.py: Fashion-MNIST is not at {FASHION}. The floors compute the tutorial on "
                 "Fashion-MNIST's shapes (784 inputs, 10,000 training images), while bench_engines.py would time "
                 "the plain loop and reglab on the embedded digits without it, so their ratios would compare "
                 "different work. Fix: put Fashion-MNIST's four IDX files (gz or raw) in that folder, or set "
                 "REGLAB_BENCH_FASHION=DIR to a folder that has them.")
    print(f"machine: {sys.platform}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        for config in ("plain", "auto"):
            best[config] = min(best.get(config, float("inf")), measure_config(config, args.quick))
        for level, name in enumerate(LEVELS):
            best[name] = min(best.get(name, float("inf")), measure_floor(level, args.quick))
    plain, floor = best["plain"], best["+dropout"]
    print(f"\ntutorial study, 10 models, best of {args.repeat}:")
    print(f"{'configuration':<34}{'seconds':>9}{'plain / this':>14}{'floor share':>13}")
    labels = {"plain": "plain PyTorch loop (baseline)", "auto": "reglab --engine auto",
              "products": "floor: matrix products only", "+optimizer": "floor: + torch.optim updates",
              "+dropout": "floor: + dropout random numbers"}
    for config, seconds in best.items():
        print(f"{labels[config]:<34}{seconds:>9.2f}{plain / seconds:>13.2f}x{floor / seconds:>12.0%}")
    print(f"\n2x the baseline needs {plain / 2:.2f} s; the matrix products alone take {best['products']:.2f} s, "
          f"leaving {plain / 2 - best['products']:.2f} s for everything else a step does "
          f"(reglab spends {best['auto'] - best['products']:.2f} s on it).")


if __name__ == "__main__":
    main()
