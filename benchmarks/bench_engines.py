"""Speed of reglab's engines against a plain PyTorch loop, measured in one invocation.

    python benchmarks/bench_engines.py                 # tutorial study + stack scaling, CPU
    python benchmarks/bench_engines.py --device cuda   # the same on a GPU
    python benchmarks/bench_engines.py --quick         # fewer epochs, for a smoke test
    python benchmarks/bench_engines.py --device cuda --seeds 10   # also 100 runs on a GPU

Fashion-MNIST is read from ../shared/data/fashion-mnist, or from $REGLAB_BENCH_FASHION.

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
import os
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
FASHION = Path(os.environ.get("REGLAB_BENCH_FASHION", ROOT.parent / "shared" / "data" / "fashion-mnist"))


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


def measure_one(config: str, device: str, quick: bool, seeds: int = 1) -> dict:
    """Runs in a child process: train the tutorial one way, report seconds and peak memory."""
    from reglab.config import load_study
    from reglab.engine.scheduler import execute, plan
    from reglab.progress.events import Silent
    from reglab.store.memory import MemoryStore

    def study_with(epochs: int | None):
        overrides = {"seeds": list(range(seeds if config != "plain" else 1))}
        if epochs is not None:
            overrides["epochs"] = epochs
        return load_study("tutorial", overrides)

    def train(study) -> object | None:
        if config == "plain":
            plain_loop(data, study)
            return None
        schedule = plan(study, config, torch.device(device), input_dim=data.input_dim)
        execute(schedule, data, MemoryStore(), Silent())
        return schedule

    data, name = load_data(device, quick)
    # torch.optim imports torch._dynamo on its first step (about 1.5 s here): start-up, paid once
    # per process by every configuration alike, so it is paid before the clock starts.
    import torch._dynamo  # noqa: F401
    if device == "cuda":
        # Warm-up, off the clock: the CUDA context, cuBLAS handles and the first kernels' loading.
        train(study_with(1))
        torch.cuda.synchronize()
    study = study_with(2 if quick else None)
    started = time.perf_counter()
    schedule = train(study)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    # Peak memory of this process plus, for configurations with worker processes, each worker's
    # peak (the largest one's, times their number): an upper bound, as they share the data pages.
    workers = schedule.workers if schedule is not None and schedule.workers > 1 else 0
    peak_kb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
               + workers * resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    result = {"config": config, "seconds": seconds, "dataset": name, "peak_mb": peak_kb / 1024,
              "runs": len(study.variants) * len(study.seeds)}
    if device == "cuda":
        result["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result


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
    parser.add_argument("--seeds", type=int, default=0,
                        help="also train the tutorial with this many seeds through --engine fast, and "
                             "compare its time per run with the baseline's")
    parser.add_argument("--configs", default="plain,reference,auto,fast",
                        help="comma-separated configurations of part 1 (plain is the baseline)")
    parser.add_argument("--only", help=argparse.SUPPRESS)
    parser.add_argument("--only-seeds", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--skip-study", action="store_true", help="only the stack scaling")
    parser.add_argument("--skip-scaling", action="store_true", help="only the study")
    args = parser.parse_args()
    if args.only:
        print(json.dumps(measure_one(args.only, args.device, args.quick, args.only_seeds)))
        return

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, device {args.device}"
          + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else ""))
    if not args.skip_study:
        configs = [(config, 1) for config in args.configs.split(",")]
        if args.seeds:
            configs.append(("fast", args.seeds))
        best: dict[tuple[str, int], dict] = {}
        for _ in range(args.repeat):
            for config, seeds in configs:
                command = [sys.executable, __file__, "--only", config, "--only-seeds", str(seeds),
                           "--device", args.device]
                output = subprocess.run(command + (["--quick"] if args.quick else []), check=True,
                                        capture_output=True, text=True).stdout
                result = json.loads(output.strip().splitlines()[-1])
                if (config, seeds) not in best or result["seconds"] < best[config, seeds]["seconds"]:
                    best[config, seeds] = result
        baseline = best["plain", 1]
        per_run = baseline["seconds"] / baseline["runs"]
        warm = " after warm-up" if args.device == "cuda" else ""
        print(f"\ntutorial study, 10 models, {baseline['dataset']}, best of {args.repeat}{warm}:")
        print(f"{'configuration':<36}{'runs':>5}{'seconds':>9}{'s/run':>8}{'speed-up':>10}{'peak MB':>9}"
              + ("  GPU MB" if args.device == "cuda" else ""))
        labels = {"plain": "plain PyTorch loop (baseline)", "reference": "reglab --engine reference",
                  "auto": "reglab --engine auto", "fast": "reglab --engine fast"}
        for (config, seeds), result in best.items():
            # Speed-up in runs per second: the baseline's time per run over this one's.
            run_seconds = result["seconds"] / result["runs"]
            label = labels[config] + (f" --seeds {seeds}" if seeds > 1 else "")
            print(f"{label:<36}{result['runs']:>5}{result['seconds']:>9.2f}{run_seconds:>8.3f}"
                  f"{per_run / run_seconds:>9.2f}x{result['peak_mb']:>9.0f}"
                  + (f"{result['gpu_peak_mb']:>8.0f}" if "gpu_peak_mb" in result else ""))

    if args.skip_scaling:
        return
    sizes = [1, 10] if args.quick else [1, 10, 100]
    print(f"\none epoch of the tutorial's adam model (784-256-128-10) per run, {args.device}:")
    print(f"{'runs':>5}{'stacked s/run':>15}{'reference s/run':>17}{'ratio':>8}")
    for row in stack_scaling(args.device, sizes, args.quick):
        ratio = row["reference_s_per_run"] / row["stacked_s_per_run"]
        print(f"{row['runs']:>5}{row['stacked_s_per_run']:>15.3f}{row['reference_s_per_run']:>17.3f}{ratio:>7.2f}x")


if __name__ == "__main__":
    main()
