"""A stack's training step on CUDA, captured once as a CUDA graph and replayed at every step.

On a GPU a step of these small networks is bound by the CPU launching its kernels, not by the
GPU running them: measured on an H100 for the tutorial's 50-run regularization stack, the step's
~200 kernels (80 of them dropout draws, one per run and layer, each about 45 µs of CPU time in
torch) took several times what the GPU spent on them (benchmarks/README.md). A replay launches
the whole step at once.

What is captured: the batch gather (from a static buffer of row indices, copied in before each
replay), the forward pass, the loss and its hand-derived gradient into the stack's persistent
gradient buffers, the penalties and the epoch's running sums. What is not: the optimizers (one
torch.optim call per optimizer group, whose learning rates change with their schedules), the
constraints, the last partial batch of an epoch (another shape) and everything at epoch ends.

Dropout draws from each run's own generator inside the graph: registered with the graph, a
generator's draws in a replay continue its stream exactly where the eager draws left it (torch's
graph-safe Philox state: a replay reads the generator's offset and advances it by the whole
graph's draws). So replayed steps draw the numbers the reference loop draws; the equivalence
tests check it on a GPU (REGLAB_TEST_DEVICE=cuda).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import torch

# REGLAB_CUDA_GRAPHS=0 trains every step eagerly (to compare, or to rule the graphs out).
ENABLED = os.environ.get("REGLAB_CUDA_GRAPHS", "1") != "0"

Step = Callable[[torch.Tensor, Sequence[torch.Generator | None]], None]


def available(device: torch.device) -> bool:
    # register_generator_state arrived in torch 2.6; without it dropout could not be replayed.
    return ENABLED and device.type == "cuda" and hasattr(torch.cuda.CUDAGraph, "register_generator_state")


class StepGraph:
    def __init__(self, step: Step, rows: torch.Tensor, generators: Sequence[torch.Generator | None]):
        """Capture step(rows, generators) for row-index tensors shaped like `rows`. Capturing runs
        nothing: the step's first run is the first replay."""
        self.rows = rows.clone()
        self.graph = torch.cuda.CUDAGraph()
        for generator in {id(g): g for g in generators if g is not None}.values():
            self.graph.register_generator_state(generator)
        with torch.cuda.graph(self.graph):
            step(self.rows, generators)

    def replay(self, rows: torch.Tensor) -> None:
        self.rows.copy_(rows)
        self.graph.replay()
