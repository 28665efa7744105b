"""What a unit of work costs on Ray against the local process pool, in one invocation.

    python benchmarks/bench_ray.py                  # 40 units of 1 and of 5 epochs, 2 CPUs
    python benchmarks/bench_ray.py --units 100 --cpus 4 --repeat 3

The same units (one run each: digits, a 64-32 MLP, one seed per unit) are trained by the local
executor (one single-thread process per CPU, forked per study) and by the Ray executor on a Ray
instance this script starts on this machine with the same number of CPUs (one thread per task,
as locally). The driver, the planning and the store (in memory) are the same; the difference per
unit is what Ray adds: submitting the task, the worker fetching the data object, streaming each
epoch's record and the results back, ray.wait on the driver.

Ray's workers are started and import torch on their first task: that start-up is measured once,
apart (the "cold" line), and every timed round runs on warm workers, as a study of many units
does after its first ones. The best of --repeat rounds is kept for each.
"""

from __future__ import annotations

import argparse
import os
import platform
import threading
import time

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# The Ray instance this script starts is its own, on this machine: without this, Ray 2.60 writes
# an authentication token into ~/.ray, and every cluster started on the machine later requires it.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
# Ray's single-machine mode: the instance's servers listen on 127.0.0.1, not on every interface
# (docs/cluster.md, "Which addresses the cluster listens on").
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def study(units: int, epochs: int):
    from reglab.config import parse_study

    return parse_study(f"""
name = "overhead"
seeds = {units}
[data]
dataset = "digits"
train = 600
validation = 150
test = 200
[defaults]
hidden = [64, 32]
epochs = {epochs}
batch_size = 64
[[variants]]
name = "unit"
""")


def numbers(record) -> tuple:
    """A run's results without its wall-clock times."""
    return record.test_accuracy, record.test_loss, [(e.train_loss, e.val_loss, e.val_accuracy) for e in record.history]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=40)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import ray
    import torch

    from reglab.data import load_dataset, make_splits
    from reglab.engine.ray_executor import RayExecutor
    from reglab.engine.reference import DeviceData
    from reglab.engine.scheduler import LocalExecutor, execute, plan
    from reglab.progress.events import Silent
    from reglab.store.memory import MemoryStore

    splits = make_splits(load_dataset("digits"), train=600, validation=150, test=200)
    data = DeviceData.from_arrays(splits, "cpu")
    import torch._dynamo  # noqa: F401 - the local executor's start-up import, off the clock

    def timed(executor, spec) -> tuple[float, MemoryStore]:
        schedule = plan(spec, "auto", torch.device("cpu"), input_dim=data.input_dim, cores=args.cpus)
        store = MemoryStore()
        started = time.perf_counter()
        execute(schedule, data, store, Silent(), threading.Event(), None, executor=executor)
        return time.perf_counter() - started, store

    def on_ray():
        if not ray.is_initialized():
            ray.init(num_cpus=args.cpus, include_dashboard=False, object_store_memory=100 * 2**20,
                     logging_level="ERROR", log_to_driver=False)
        return RayExecutor()  # connected already: it leaves this script's Ray instance (and warm workers) running

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs seen, {args.cpus} used, torch {torch.__version__}, "
          f"ray {ray.__version__}; digits, 64-32 MLP, one run per unit, {args.units} units")
    cold, _ = timed(on_ray(), study(args.cpus, 1))
    print(f"cold start on Ray ({args.cpus} units, workers importing torch and reglab): {cold:.2f} s")
    print(f"{'epochs/unit':>11} {'local s/unit':>13} {'ray s/unit':>11} {'overhead s/unit':>16} {'ratio':>7}")
    for epochs in (1, 5):
        spec = study(args.units, epochs)
        local, ray_time = float("inf"), float("inf")
        for _ in range(args.repeat):  # alternate, so that a drift of the machine hits both
            seconds, local_store = timed(LocalExecutor(), spec)
            local = min(local, seconds)
            seconds, ray_store = timed(on_ray(), spec)
            ray_time = min(ray_time, seconds)
        same = ({key: numbers(record) for key, (record, _) in local_store.runs.items()}
                == {key: numbers(record) for key, (record, _) in ray_store.runs.items()})
        # Wall seconds per unit with the CPUs all busy; the overhead is per unit of the study's wall time.
        print(f"{epochs:>11} {local / args.units:>13.3f} {ray_time / args.units:>11.3f} "
              f"{(ray_time - local) / args.units:>16.3f} {ray_time / local:>6.2f}x"
              + ("" if same else "  (records differ!)"))
    ray.shutdown()


if __name__ == "__main__":
    main()
