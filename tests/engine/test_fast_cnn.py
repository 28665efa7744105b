"""The fast engine's stacked CNNs (grouped convolutions) against the reference loop: the same
records, epoch by epoch, for every technique family that applies to a CNN; and the stacked
network's gradient against autograd through each run's own plain model.

Tolerance as tests/engine/test_fast.py (rtol 1e-5): a grouped convolution sums in another order
than R separate ones, so values agree to float32 rounding, not bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reglab import models
from reglab.config import parse_study
from reglab.engine.fast import stack_key, train_stack
from reglab.engine.reference import train_run
from reglab.engine.seeding import generator
from reglab.engine.stacked_cnn import StackedCNN
from reglab.techniques import registry
from same_runs import RTOL, STACKS, assert_same_records

HEADER = """[defaults]
model = "cnn"
conv = [{ filters = 4, kernel_size = 3, padding = "same", pool = 2 }, { filters = 6, kernel_size = 2 }]
hidden = [10]
epochs = 3
batch_size = 32
"""


@pytest.fixture(scope="module")
def data(blobs):
    return blobs(seed=5, n_train=160, n_val=64, n_test=64, spread=0.15, shape=(8, 8), images=True)


def variants(body: str):
    return parse_study(HEADER + body).variants


# Every family that applies to a CNN; runs of one family share a stack (a stack key).
FAMILIES = STACKS["cnn"]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_stacked_cnns_reproduce_the_reference_loop(data, family):
    members = [(variant, 2) for variant in variants(FAMILIES[family])]
    assert len({stack_key(v) for v, _ in members}) == 1 and stack_key(members[0][0]) is not None
    for fast, (variant, seed) in zip(train_stack(data, members), members, strict=True):
        assert fast.record.engine == "fast"
        assert_same_records(fast, train_run(data, variant, seed))


def test_a_stack_across_seeds_takes_the_batched_input_path(data):
    vs = variants('[[variants]]\nname = "a"\ndropout = 0.3\n[[variants]]\nname = "b"\ndropout = 0.1\nl2 = 0.001\n')
    members = [(vs[0], 0), (vs[1], 1), (vs[0], 3)]
    for fast, (variant, seed) in zip(train_stack(data, members), members):
        assert_same_records(fast, train_run(data, variant, seed))


def test_dropout_in_other_places_is_another_stack():
    a, b, c = variants('[[variants]]\nname = "a"\ndropout = 0.5\n[[variants]]\nname = "b"\ndropout = 0.2\n'
                       '[[variants]]\nname = "c"\n')
    assert stack_key(a) == stack_key(b) != stack_key(c)


# A conv bias followed by batch norm has a true gradient of 0 (the norm subtracts the mean): both
# sides give rounding noise of about 1e-6 there, hence the looser atol with batch norm.
@pytest.mark.parametrize("switch, atol", [("", 1e-7), ("batch_norm = true", 1e-5)])
def test_stacked_gradient_equals_autograd_through_each_runs_own_model(data, switch, atol):
    vs = variants(f'[[variants]]\nname = "a"\n{switch}\n[[variants]]\nname = "b"\n{switch}\noptimizer = "sgd"\n')
    plain = [models.build(v, data.image_shape, data.classes, generator(seed, "init")).to(data.x_train.device)
             for v, seed in zip(vs, (0, 1))]
    copies = [models.build(v, data.image_shape, data.classes, generator(seed, "init")).to(data.x_train.device)
              for v, seed in zip(vs, (0, 1))]
    net = StackedCNN(copies, vs, data.x_train.device)
    x, y = data.x_train[:24], data.y_train[:24]
    logits = net.forward(x, True)
    sum(F.cross_entropy(logits[r], y) for r in range(2)).backward()
    for r, model in enumerate(plain):
        model.train()
        F.cross_entropy(model(x), y).backward()
        for (name, param), stacked in zip(model.named_parameters(), net.sources(model), strict=True):
            torch.testing.assert_close(stacked.grad[r], param.grad, rtol=1e-4, atol=atol)
        # Batch norm's running statistics moved as each run's own did.
        for name, buffer in model.named_buffers():
            if buffer.is_floating_point():
                torch.testing.assert_close(net.buffers[name][r], buffer, rtol=1e-5, atol=1e-6)


def test_an_architecture_without_a_stacked_form_falls_back_to_the_reference_loop_with_a_notice(monkeypatch):
    import dataclasses

    from reglab.engine.scheduler import plan
    from reglab.models import registry as architectures

    monkeypatch.setitem(architectures._REGISTRY, "cnn", dataclasses.replace(architectures.lookup("cnn"), stacker=None))
    study = parse_study(HEADER + '[[variants]]\nname = "a"\n[[variants]]\nname = "m"\nmodel = "mlp"\nhidden = [8]\n')
    assert stack_key(study.variants[0]) is None and stack_key(study.variants[1]) is not None
    schedule = plan(study, "fast", torch.device("cpu"), image_shape=(8, 8), cores=1)
    stacked = {u.members[0][1].name: u.stacked for u in schedule.units}
    assert stacked == {"a": False, "m": True}
    assert schedule.notices == ("a: trained in the reference loop (the architecture 'cnn' has no stacked form)",)
