"""Where a stacked step's time goes on a GPU: one epoch of the tutorial's two stacks, with and
without CUDA graphs, then torch.profiler's tables for the 50-run regularization stack.

    python benchmarks/profile_stack.py            # needs CUDA; Fashion-MNIST as bench_engines.py

One epoch includes building the stack and testing each run at its end, so the times per epoch
are upper bounds of the training steps' time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engines import load_data  # noqa: E402

from reglab.config import load_study  # noqa: E402
from reglab.engine import step_graph  # noqa: E402
from reglab.engine.fast import train_stack  # noqa: E402


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("profile_stack.py needs a CUDA GPU.")
    data, _ = load_data("cuda", False)
    study = load_study("tutorial", {"epochs": 1, "seeds": list(range(10))})
    widest = max(v.hidden for v in study.variants)
    regularization = [(v, s) for s in study.seeds for v in study.variants if v.hidden == widest]
    optimizers = [(v, s) for s in study.seeds for v in study.variants if v.hidden != widest]
    train_stack(data, regularization[:5])  # warm-up
    stacks = {"regularization x10 seeds": regularization, "optimizers x10 seeds": optimizers,
              "regularization x1 seed": regularization[:5], "optimizers x1 seed": optimizers[:5]}
    for graphs in (True, False):
        step_graph.ENABLED = graphs
        for name, members in stacks.items():
            torch.cuda.synchronize()
            started = time.perf_counter()
            train_stack(data, members)
            torch.cuda.synchronize()
            print(f"graphs={graphs!s:<5} {name:<26} {len(members):>3} runs, one epoch "
                  f"{time.perf_counter() - started:.3f} s")
    step_graph.ENABLED = True
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as profiler:
        train_stack(data, regularization)
        torch.cuda.synchronize()
    averages = profiler.key_averages()
    print(averages.table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=50))
    print(averages.table(sort_by="cpu_time_total", row_limit=15, max_name_column_width=50))


if __name__ == "__main__":
    main()
