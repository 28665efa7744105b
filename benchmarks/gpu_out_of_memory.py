"""Out of GPU memory for real, not simulated: the process may use only a fraction of the GPU, so
the tutorial's 50-run stacks (ten seeds) do not fit. The scheduler must split them, say so, and
finish every run.

    python benchmarks/gpu_out_of_memory.py 0.006   # 0.6% of the GPU's memory

(The unit test tests/engine/test_fast.py::test_out_of_gpu_memory_splits_the_stack_and_goes_on
simulates the error on the CPU; this checks what a real CUDA out-of-memory error, possibly in the
middle of capturing a CUDA graph, does.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engines import load_data  # noqa: E402

from reglab.config import load_study  # noqa: E402
from reglab.engine.scheduler import execute, plan  # noqa: E402
from reglab.progress.events import Silent  # noqa: E402
from reglab.store.memory import MemoryStore  # noqa: E402


class Notices(Silent):
    def notice(self, message: str) -> None:
        print("notice:", message)


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("gpu_out_of_memory.py needs a CUDA GPU.")
    fraction = float(sys.argv[1]) if len(sys.argv) > 1 else 0.006
    data, _ = load_data("cuda", False)
    torch.cuda.set_per_process_memory_fraction(fraction)
    study = load_study("tutorial", {"seeds": list(range(10)), "epochs": 2})
    schedule = plan(study, "fast", torch.device("cuda"))
    print("stacks:", [len(unit.members) for unit in schedule.units])
    store = MemoryStore()
    execute(schedule, data, store, Notices())
    statuses = sorted({record.status for record in store.records()})
    print(f"saved {len(store.runs)} of {len(study.variants) * len(study.seeds)} runs, statuses {statuses}, "
          f"peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MB allocated")


if __name__ == "__main__":
    main()
