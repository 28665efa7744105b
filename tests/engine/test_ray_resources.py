"""What a unit's Ray task asks the cluster for (engine/ray_executor.py): CPUs, and on GPUs a share
sized from the unit, checked against sizes counted by hand. No cluster and no GPU needed: the
request is a pure function of the unit and the GPU's memory."""

from __future__ import annotations

import torch

from reglab.config import parse_study
from reglab.engine.ray_executor import gpu_share, model_size, split_for_gpus, task_options
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


CNN = """
[[variants]]
name = "cnn"
model = "cnn"
conv = [{ filters = 32, kernel_size = 3, padding = "same", pool = 2 }, { filters = 64 }]
hidden = [128]
batch_size = 128
"""


def test_a_runs_size_is_its_models_parameters_and_layer_outputs_counted_by_hand():
    mlp = stack(1).members[0][1]
    # 784-256-128-10: (784 + 1) x 256 + (256 + 1) x 128 + (128 + 1) x 10 parameters; per example
    # the outputs of Linear 256, ReLU 256, Linear 128, ReLU 128, Linear 10.
    assert model_size(mlp, (28, 28), 10) == (235_146, 256 + 256 + 128 + 128 + 10)
    cnn = parse_study(CNN).variants[0]
    # conv 3x3 1->32 "same" (320 parameters), ReLU, pool to 14x14; conv 3x3 32->64 "valid"
    # (18,496) to 12x12, ReLU, pool to 6x6; dense 2304->128 (295,040), ReLU, 128->10 (1,290).
    parameters = 320 + 18_496 + 295_040 + 1_290
    outputs = 2 * 32 * 28 * 28 + 32 * 14 * 14 + 2 * 64 * 12 * 12 + 64 * 6 * 6 + 128 + 128 + 10
    assert model_size(cnn, (28, 28), 10) == (parameters, outputs) == (315_146, 77_450)


def test_a_stack_asks_for_the_sixteenths_of_a_gpu_its_size_needs():
    data = data_of(1000)  # 1000 x 784 float32 + 1000 int64 labels = 3,144,000 bytes
    # Per run of 784-256-128-10: 235,146 parameters x 4 copies, 3 x 128 x (784 + 778) inputs and
    # outputs; in float32:
    per_run = 4 * (4 * 235_146 + 3 * 128 * (784 + 778))
    assert per_run == 6_161_568
    # 10 runs: 3,144,000 + 2 x 61.6 MB + 500 MiB = 0.65 GB, under a sixteenth of 80 GiB.
    assert gpu_share(stack(10), data, 80 * GIB) == 1 / 16
    # 1000 runs: 3,144,000 + 2 x 6.16 GB + 500 MiB = 12.85 GB = 2.4 sixteenths of 80 GiB: 3.
    assert gpu_share(stack(1000), data, 80 * GIB) == 3 / 16
    assert gpu_share(stack(1000), data, 8 * GIB) == 1.0  # never more than one GPU


def test_a_cnn_stack_counts_its_feature_maps():
    data = data_of(1000)
    cnn = parse_study(CNN).variants[0]
    # Per run: 4 x (4 x 315,146 + 3 x 128 x (784 + 77,450)) = 125,209,760 bytes; 100 runs:
    # 3,144,000 + 2 x 12.52 GB + 500 MiB = 25.57 GB = 4.8 sixteenths of 80 GiB: 5. Counted as an
    # MLP of its dense widths (784-128-10), as before, it asked for 1.
    assert gpu_share(Unit(tuple((0, cnn, seed) for seed in range(100)), True), data, 80 * GIB) == 5 / 16


def test_a_task_asks_for_its_threads_and_on_gpus_for_its_share():
    data = data_of(1000)
    cpu = {"num_cpus": 1, "max_retries": 0, "scheduling_strategy": "SPREAD"}
    assert task_options(stack(10), data, 1, gpu_bytes=0) == cpu  # no GPU: no num_gpus at all
    assert task_options(stack(1000), data, 2, gpu_bytes=80 * GIB) == {**cpu, "num_cpus": 2, "num_gpus": 3 / 16}


def test_stacks_are_shared_out_over_the_clusters_gpus():
    pieces = split_for_gpus([stack(10)], 4)
    assert [len(u.members) for u in pieces] == [3, 3, 3, 1]
    assert [m[2] for u in pieces for m in u.members] == list(range(10))  # every run once, in order
    assert split_for_gpus([stack(10)], 1) == [stack(10)]
    single = Unit(stack(1).members, False)
    assert split_for_gpus([single], 4) == [single]
