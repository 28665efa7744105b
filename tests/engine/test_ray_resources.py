"""What a unit asks a Ray cluster's GPUs for (engine/ray_executor.py), by hand: no cluster needed."""

from __future__ import annotations

import torch

from reglab.config import parse_study
from reglab.engine.ray_executor import gpu_share, split_for_gpus
from reglab.engine.reference import DeviceData
from reglab.engine.scheduler import Unit

GIB = 2**30


def data_of(rows: int) -> DeviceData:
    empty = torch.zeros(0, 784)
    return DeviceData(torch.zeros(rows, 784), torch.zeros(rows, dtype=torch.int64), empty,
                      torch.zeros(0, dtype=torch.int64), empty, torch.zeros(0, dtype=torch.int64), 10, (28, 28))


def stack(runs: int) -> Unit:
    variant = parse_study('[[variants]]\nname = "adam"\nhidden = [256, 128]\nbatch_size = 128\n').variants[0]
    return Unit(tuple((0, variant, seed) for seed in range(runs)), True)


def test_a_stack_asks_for_the_sixteenths_of_a_gpu_its_size_needs():
    data = data_of(1000)  # 1000 x 784 float32 + 1000 int64 labels = 3,144,000 bytes
    # Per run of 784-256-128-10: 235,146 parameters x 4 copies, 3 x 128 x 1178 activations; in float32:
    per_run = 4 * (4 * 235_146 + 3 * 128 * (784 + 256 + 128 + 10))
    assert per_run == 5_571_744
    # 10 runs: 3,144,000 + 2 x 55.7 MB + 500 MiB = 0.64 GB, under a sixteenth of 80 GiB.
    assert gpu_share(stack(10), data, 80 * GIB) == 1 / 16
    # 1000 runs: 3,144,000 + 2 x 5.57 GB + 500 MiB = 11.67 GB = 2.2 sixteenths of 80 GiB: 3.
    assert gpu_share(stack(1000), data, 80 * GIB) == 3 / 16
    assert gpu_share(stack(1000), data, 8 * GIB) == 1.0  # never more than one GPU


def test_stacks_are_shared_out_over_the_clusters_gpus():
    pieces = split_for_gpus([stack(10)], 4)
    assert [len(u.members) for u in pieces] == [3, 3, 3, 1]
    assert [m[2] for u in pieces for m in u.members] == list(range(10))  # every run once, in order
    assert split_for_gpus([stack(10)], 1) == [stack(10)]
    single = Unit(stack(1).members, False)
    assert split_for_gpus([single], 4) == [single]
