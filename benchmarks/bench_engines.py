"""Speed of reglab's engines against a plain PyTorch loop, measured in one invocation.

    python benchmarks/bench_engines.py                 # tutorial study + stack scaling, CPU
    python benchmarks/bench_engines.py --device cuda   # the same on a GPU
    python benchmarks/bench_engines.py --quick         # fewer epochs, for a smoke test

Part 1 trains the `tutorial` study (ten models, one seed) on real Fashion-MNIST from
../shared/data (digits when it is absent) four ways, each in its own process so that its peak
memory is its own: the baseline below (a plain PyTorch loop as a reader of the tutorial would
write it: one model at a time, tensors in memory, torch.optim with its default settings), and
reglab with --engine reference, auto and fast. Configurations alternate and repeat; the best
time of each is kept, and ratios are against the baseline of the same invocation.

Part 2 trains R copies of the tutorial's `adam` model (784-256-128-10, seeds 0..R-1) for one
epoch as one stack (fast engine) and one after another (reference loop), R = 1, 10, 100, and
prints the time per run.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
FASHION = ROOT.parent / "shared" / "data" / "fashion-mnist"


def load_data(device: str, quick: bool):
    from reglab.data import load_dataset, make_splits
    from reglab.engine.reference import DeviceData

    if FASHION.is_dir():
        dataset, name = load_dataset("fashion-mnist", data_dir=FASHION), "fashion-mnist"
    else:
        dataset, name = load_dataset("digits"), "digits"
    splits = make_splits(dataset, train=10000, validation=2000, test=10000)
    return DeviceData.from_arrays(splits, device), name


def plain_loop(data, study) -> None:
    """The baseline: what the tutorial's reader writes in PyTorch, model after model."""
    for variant in study.variants:
        torch.manual_seed(0)
        layers, width = [], data.input_dim
        for size, rate in zip(variant.hidden, variant.dropout_rates()):
            layers += [nn.Linear(width, size), nn.ReLU()] + ([nn.Dropout(rate)] if rate else [])
            width = size
        model = nn.Sequential(*layers, nn.Linear(width, 10)).to(data.x_train.device)
        for layer in model:
            if isinstance(layer, nn.Linear):  # Glorot like Keras, or L1 collapses
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
        options = dict(variant.optimizer.params)
        optimizer = {
            "adam": lambda: torch.optim.Adam(model.parameters(), lr=options["lr"], eps=1e-7),
            "sgd": lambda: torch.optim.SGD(model.parameters(), lr=options["lr"]),
            "momentum": lambda: torch.optim.SGD(model.parameters(), lr=options["lr"], momentum=options.get("momentum", 0)),
            "rmsprop": lambda: torch.optim.RMSprop(model.parameters(), lr=options["lr"], alpha=0.9, eps=1e-7),
        }[variant.optimizer.name]()
        l1 = variant.switch("l1")["strength"] if variant.switch("l1") else 0.0
        l2 = variant.switch("l2")["strength"] if variant.switch("l2") else 0.0
        kernels = [m.weight for m in model if isinstance(m, nn.Linear)][:-1]
        n = data.x_train.shape[0]
        for epoch in range(variant.epochs):
            if variant.schedule.name == "step":
                for group in optimizer.param_groups:
                    group["lr"] = 1e-3 if epoch < 5 else 5e-4 if epoch < 10 else 1e-4
            model.train()
            for batch in torch.randperm(n, device=data.x_train.device).split(variant.batch_size):
                loss = F.cross_entropy(model(data.x_train[batch]), data.y_train[batch])
                if l1:
                    loss = loss + l1 * sum(w.abs().sum() for w in kernels)
                if l2:
                    loss = loss + l2 * sum(w.square().sum() for w in kernels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                F.cross_entropy(model(data.x_val), data.y_val).item()  # validation, as Keras's fit does
        with torch.no_grad():
            (model(data.x_test).argmax(1) == data.y_test).float().mean().item()


def measure_one(config: str, device: str, quick: bool) -> dict:
    """Runs in a child process: train the tutorial one way, report seconds and peak memory."""
    from reglab.config import load_study
    from reglab.engine.scheduler import execute, plan
    from reglab.engine.study import Silent

    study = load_study("tutorial", {"epochs": 2} if quick else None)
    data, name = load_data(device, quick)
    # torch.optim imports torch._dynamo on its first step (about 1.5 s here): start-up, paid once
    # per process by every configuration alike, so it is paid before the clock starts.
    import torch._dynamo  # noqa: F401
    started = time.perf_counter()
    schedule = None
    if config == "plain":
        plain_loop(data, study)
    else:
        class Discard:
            def save_run(self, *args): pass
        schedule = plan(study, config, torch.device(device), input_dim=data.input_dim)
        execute(schedule, data, Discard(), Silent())
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    # Peak memory of this process plus, for configurations with worker processes, each worker's
    # peak (the largest one's, times their number): an upper bound, as they share the data pages.
    workers = schedule.workers if config != "plain" and schedule.workers > 1 else 0
    peak_kb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
               + workers * resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {"config": config, "seconds": seconds, "dataset": name, "peak_mb": peak_kb / 1024}


def stack_scaling(device: str, sizes: list[int], quick: bool) -> list[dict]:
    from reglab.config import load_study
    from reglab.engine.fast import train_stack
    from reglab.engine.reference import train_run

    study = load_study("tutorial", {"epochs": 1})
    adam = study.variant("adam")
    data, _ = load_data(device, quick)
    rows = []
    for size in sizes:
        members = [(adam, seed) for seed in range(size)]
        train_stack(data, members[:1])  # warm-up
        started = time.perf_counter()
        train_stack(data, members)
        if device == "cuda":
            torch.cuda.synchronize()
        stacked = (time.perf_counter() - started) / size
        sequential_runs = min(size, 3)  # the reference's time per run does not depend on R
        started = time.perf_counter()
        for variant, seed in members[:sequential_runs]:
            train_run(data, variant, seed)
        if device == "cuda":
            torch.cuda.synchronize()
        sequential = (time.perf_counter() - started) / sequential_runs
        rows.append({"runs": size, "stacked_s_per_run": stacked, "reference_s_per_run": sequential})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--repeat", type=int, default=2, help="rounds of the four configurations (best kept)")
    parser.add_argument("--quick", action="store_true", help="2 epochs per model, stacks up to 10")
    parser.add_argument("--only", help=argparse.SUPPRESS)
    parser.add_argument("--skip-study", action="store_true", help="only the stack scaling")
    args = parser.parse_args()
    if args.only:
        print(json.dumps(measure_one(args.only, args.device, args.quick)))
        return

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, device {args.device}"
          + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else ""))
    if not args.skip_study:
        best: dict[str, dict] = {}
        for _ in range(args.repeat):
            for config in ("plain", "reference", "auto", "fast"):
                command = [sys.executable, __file__, "--only", config, "--device", args.device]
                output = subprocess.run(command + (["--quick"] if args.quick else []), check=True,
                                        capture_output=True, text=True).stdout
                result = json.loads(output.strip().splitlines()[-1])
                if config not in best or result["seconds"] < best[config]["seconds"]:
                    best[config] = result
        baseline = best["plain"]["seconds"]
        print(f"\ntutorial study, 10 models, 1 seed, {best['plain']['dataset']}, best of {args.repeat}:")
        print(f"{'configuration':<34}{'seconds':>9}{'speed-up':>10}{'peak MB':>9}")
        labels = {"plain": "plain PyTorch loop (baseline)", "reference": "reglab --engine reference",
                  "auto": "reglab --engine auto", "fast": "reglab --engine fast"}
        for config, result in best.items():
            print(f"{labels[config]:<34}{result['seconds']:>9.1f}{baseline / result['seconds']:>9.2f}x"
                  f"{result['peak_mb']:>9.0f}")

    sizes = [1, 10] if args.quick else [1, 10, 100]
    print(f"\none epoch of the tutorial's adam model (784-256-128-10) per run, {args.device}:")
    print(f"{'runs':>5}{'stacked s/run':>15}{'reference s/run':>17}{'ratio':>8}")
    for row in stack_scaling(args.device, sizes, args.quick):
        ratio = row["reference_s_per_run"] / row["stacked_s_per_run"]
        print(f"{row['runs']:>5}{row['stacked_s_per_run']:>15.3f}{row['reference_s_per_run']:>17.3f}{ratio:>7.2f}x")


if __name__ == "__main__":
    main()
