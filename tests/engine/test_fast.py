"""The fast engine against the reference loop: the same records for the same seeds (tolerance:
tests/same_runs.py)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reglab.config import parse_study
from reglab.engine.fast import stack_key, train_stack
from reglab.engine.stacked_mlp import ACTIVATION_BACKWARD, StackedMLP, loss_gradient
from reglab.engine.reference import train_run
from reglab.engine.scheduler import Schedule, Unit, execute, plan
from reglab.engine.seeding import generator
from reglab.errors import ReglabError
from reglab.models import build_mlp
from reglab.progress.events import Silent
from reglab.store.memory import MemoryStore
from reglab.techniques import registry
from same_runs import RTOL, STACKS, assert_same_records

@pytest.fixture(scope="module")
def data(blobs):
    return blobs(seed=2, n_train=200, n_val=80, n_test=80, spread=0.15, shape=(4, 4), images=True)


def variants(body: str):
    header = "[defaults]\nhidden = [24, 12]\nepochs = 3\nbatch_size = 32\n"
    return parse_study(header + body).variants


FAMILIES = STACKS["mlp"]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_fast_engine_reproduces_the_reference_loop(data, family):
    members = [(variant, 4) for variant in variants(FAMILIES[family])]
    assert len({stack_key(v) for v, _ in members}) == 1
    for fast, (variant, seed) in zip(train_stack(data, members), members, strict=True):
        assert fast.record.engine == "fast"
        assert_same_records(fast, train_run(data, variant, seed))


def test_batch_norm_under_adam_agrees_to_a_looser_tolerance(data):
    vs = variants('[[variants]]\nname = "bn"\nbatch_norm = true\n[[variants]]\nname = "bn2"\nbatch_norm = true\n'
                  'dropout = 0.2\n')
    for fast, variant in zip(train_stack(data, [(v, 4) for v in vs]), vs):
        reference = train_run(data, variant, 4).record
        for x, y in zip(fast.record.history, reference.history):
            assert x.train_loss == pytest.approx(y.train_loss, rel=RTOL)  # the normalised path is unaffected
            assert x.val_loss == pytest.approx(y.val_loss, rel=1e-3)  # running means carry the bias drift


def test_a_stack_of_several_seeds_with_augmentation(data):
    # Different seeds see different batches: the stack takes its batched (not shared) path.
    vs = variants('[[variants]]\nname = "a"\ndropout = 0.3\n[[variants]]\nname = "b"\naugmentation = true\n')
    members = [(vs[0], 0), (vs[0], 1), (vs[1], 0), (vs[1], 2)]
    for fast, (variant, seed) in zip(train_stack(data, members), members):
        assert_same_records(fast, train_run(data, variant, seed))


def test_early_stopping_inside_a_stack_stops_that_run_only(data):
    vs = variants(FAMILIES["early_stopping"])
    fast = train_stack(data, [(v, 4) for v in vs])
    stopped, long = fast[0].record, fast[1].record
    assert stopped.stopped_epoch is not None and len(stopped.history) == stopped.stopped_epoch + 1
    assert len(long.history) == 6


def test_a_run_that_diverges_mid_stack_leaves_the_others_untouched(data):
    vs = variants('[[variants]]\nname = "ok"\n'
                  '[[variants]]\nname = "explodes"\nepochs = 4\noptimizer = { name = "sgd", lr = 1e12 }\n'
                  '[[variants]]\nname = "ok_too"\nl2 = 0.001\n')
    members = [(v, 1) for v in vs]
    fast = train_stack(data, members)
    reference = [train_run(data, v, 1) for v in vs]
    assert reference[1].record.status == "diverged"
    for f, r in zip(fast, reference):
        assert_same_records(f, r)


def test_runs_sharing_an_optimizer_are_stepped_together_and_returned_in_the_callers_order(data):
    # adam, sgd, adam: the two adam runs form one optimizer group, side by side in the stack.
    vs = variants('[[variants]]\nname = "a"\n[[variants]]\nname = "s"\noptimizer = { name = "sgd", lr = 0.1 }\n'
                  '[[variants]]\nname = "a2"\nl2 = 0.001\n')
    members = [(vs[0], 0), (vs[1], 0), (vs[2], 1), (vs[0], 1)]
    fast = train_stack(data, members)
    assert [(o.record.variant, o.record.seed) for o in fast] == [("a", 0), ("s", 0), ("a2", 1), ("a", 1)]
    for outcome, (variant, seed) in zip(fast, members):
        assert_same_records(outcome, train_run(data, variant, seed))


def test_stacked_penalties_equal_each_runs_own(data):
    from reglab.engine.core import Techniques
    from reglab.techniques.penalties import Penalty, StackedPenalty

    vs = variants('[[variants]]\nname = "none"\n[[variants]]\nname = "l1"\nl1 = 0.01\n'
                  '[[variants]]\nname = "both"\nl1_l2 = { l1 = 0.002, l2 = 0.03 }\n')
    device = data.x_train.device
    per_run = [[runtime for _, runtime in Techniques(v, 0.1).entries] for v in vs]
    kernels = [torch.randn(3, 24, 16, device=device), torch.randn(3, 12, 24, device=device)]
    kernels[0][0, 0, 0] = float("inf")  # the run without penalties still has none
    grads = [torch.randn_like(k) for k in kernels]
    expected_grads = [g.clone() for g in grads]
    values = StackedPenalty(per_run, device).add_gradient(kernels, grads)
    assert values[0] == 0
    for r, penalty in ((1, Penalty(l1=0.01)), (2, Penalty(l1=0.002, l2=0.03))):
        value = penalty.add_gradient([k[r] for k in kernels], [g[r] for g in expected_grads])
        torch.testing.assert_close(values[r], value, rtol=1e-6, atol=0)
    for g, e in zip(grads, expected_grads):
        torch.testing.assert_close(g[1:], e[1:], rtol=1e-6, atol=1e-7)
        assert torch.equal(g[0], e[0])  # the run without penalties is not touched


def test_replayed_cuda_graph_steps_equal_eager_steps(data, monkeypatch):
    from reglab.engine import step_graph

    if not step_graph.available(data.x_train.device):
        pytest.skip("CUDA graphs: run with REGLAB_TEST_DEVICE=cuda on a GPU machine")

    vs = variants(FAMILIES["loss"] + FAMILIES["dropout"] + '[[variants]]\nname = "pen"\nl1 = 0.001\ndropout = 0.3\n'
                  'optimizer = { name = "momentum", lr = 0.05 }\n')
    for seeds in ((4,), (4, 5)):  # shared and batched input
        members = [(v, seed) for seed in seeds for v in vs]
        replayed = train_stack(data, members)
        monkeypatch.setattr(step_graph, "ENABLED", False)
        eager = train_stack(data, members)
        monkeypatch.setattr(step_graph, "ENABLED", True)
        def metrics(outcome):
            return [(e.train_loss, e.train_accuracy, e.val_loss, e.train_penalty, e.penalty)
                    for e in outcome.record.history]
        for a, b in zip(replayed, eager):  # the same kernels on the same numbers: bit for bit
            assert metrics(a) == metrics(b), a.record.variant


def test_one_architecture_per_stack(data):
    vs = variants('[[variants]]\nname = "a"\n[[variants]]\nname = "b"\nhidden = [8]\n')
    with pytest.raises(ValueError):
        train_stack(data, [(vs[0], 0), (vs[1], 0)])


STUDY = parse_study("""
seeds = [0, 1]
[defaults]
hidden = [16]
epochs = 1
[[variants]]
name = "a"
[[variants]]
name = "b"
dropout = 0.2
[[variants]]
name = "c"
hidden = [32]
""")


def test_plan_per_engine_and_device():
    cpu = torch.device("cpu")
    reference = plan(STUDY, "reference", cpu, cores=2)
    assert reference.workers == 1 and reference.threads_per_worker is None
    assert all(not u.stacked and len(u.members) == 1 for u in reference.units) and len(reference.units) == 6
    auto = plan(STUDY, "auto", cpu, cores=2)
    assert auto.workers == 2 and auto.threads_per_worker == 1 and len(auto.units) == 6
    assert all(u.stacked and len(u.members) == 1 for u in auto.units)  # single runs, fast engine
    assert auto.units[0].members[0][1].name == "c"  # the costliest runs first
    fast = plan(STUDY, "fast", cpu, cores=2)
    # On the CPU a stack holds one seed: a+b of seed 0 and of seed 1 (split over two cores), c alone.
    stacked = sorted((len(u.members), {m[2] for m in u.members}.__len__()) for u in fast.units)
    assert all(seeds == 1 for _, seeds in stacked) and sum(n for n, _ in stacked) == 6
    gpu = plan(STUDY, "fast", torch.device("cuda"), cores=2)
    assert gpu.workers == 1 and sorted(len(u.members) for u in gpu.units) == [2, 4]


def test_a_variant_the_fast_engine_cannot_stack_trains_in_the_reference_loop(monkeypatch):
    from reglab.techniques.params import Param
    from reglab.techniques.registry import Technique

    experimental = Technique("mystery", "experimental", "x", "x", (Param("v", "float", 1.0, "v"),), lambda p: None)
    monkeypatch.setitem(registry._REGISTRY, "experimental", {"mystery": experimental})
    study = parse_study('[[variants]]\nname = "a"\n[[variants]]\nname = "b"\nmystery = true\n')
    schedule = plan(study, "fast", torch.device("cpu"), cores=1)
    alone = [u for u in schedule.units if not u.stacked]
    assert [u.members[0][1].name for u in alone] == ["b"] and schedule.notices[0] == (
        "b: trained in the reference loop (mystery has no stacked form)")


class Recorder(MemoryStore, Silent):
    """The engine's store (runs kept in memory) and its observer (notices kept) in one."""

    def __init__(self):
        super().__init__()
        self.notices = []

    def notice(self, message): self.notices.append(message)


def test_out_of_gpu_memory_splits_the_stack_and_goes_on(data, monkeypatch):
    import reglab.engine.scheduler as scheduler

    real = scheduler.train_stack
    def small_memory(d, members, on_epoch=None, checkpoint=None):
        if len(members) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(d, members, on_epoch=on_epoch, checkpoint=checkpoint)
    monkeypatch.setattr(scheduler, "train_stack", small_memory)
    vs = variants('[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n[[variants]]\nname = "c"\n')
    unit = Unit(tuple((i, v, 0) for i, v in enumerate(vs)), True)
    recorder = Recorder()
    execute(Schedule((unit,), workers=1, threads_per_worker=None), data, recorder, recorder)
    assert sorted(recorder.saved) == [(0, "a", 0), (1, "b", 0), (2, "c", 0)]
    assert any("splitting it into 1 + 2" in n for n in recorder.notices)


def test_workers_stop_at_an_epoch_boundary_when_cancelled(data):
    vs = variants('[[variants]]\nname = "a"\nepochs = 50\n[[variants]]\nname = "b"\nepochs = 50\n')
    units = tuple(Unit(((i, v, 0),), False) for i, v in enumerate(vs))
    cancel = threading.Event()
    cancel.set()
    recorder = Recorder()
    from reglab.engine.scheduler import Interrupted

    with pytest.raises(Interrupted):
        execute(Schedule(units, workers=2, threads_per_worker=1), data, recorder, recorder, cancel=cancel)
    assert recorder.saved == []


@pytest.mark.parametrize("activation", sorted(ACTIVATION_BACKWARD))
@pytest.mark.parametrize("seeds", [(3, 3), (3, 5)], ids=["shared-input", "batched-input"])
def test_hand_derived_gradient_equals_autograd(data, activation, seeds):
    # One training step's gradient, by the fast engine's backward() and by autograd through the
    # same stacked forward pass (same weights, same dropout masks, same label smoothing).
    vs = variants(f'[[variants]]\nname = "a"\nactivation = "{activation}"\ndropout = [0.5, 0.2]\n'
                  f'label_smoothing = 0.1\n[[variants]]\nname = "b"\nactivation = "{activation}"\n')
    models = [build_mlp(v, data.input_dim, data.classes, generator(seed, "init")) for v, seed in zip(vs, seeds)]
    net = StackedMLP(models, vs, data.x_train.device)
    assert net.hand_derived
    batch = torch.arange(32, device=data.x_train.device)
    x = data.x_train[batch] if seeds[0] == seeds[1] else torch.stack([data.x_train[batch], data.x_train[batch + 40]])
    y = data.y_train[batch].expand(2, -1) if seeds[0] == seeds[1] else torch.stack([data.y_train[batch],
                                                                                  data.y_train[batch + 40]])
    smoothing = torch.tensor([0.1, 0.0], device=data.x_train.device)

    device = data.x_train.device
    logits, tape = net.forward_for_backward(x, [generator(9, "dropout", device), None])
    losses, d_logits = loss_gradient(logits, y, smoothing)
    net.backward(d_logits, tape)
    hand = [t.grad.clone() for t in net.parameters()]

    leaves = [t.detach().clone().requires_grad_() for t in net.parameters()]
    net.weights, net.biases = leaves[:len(net.weights)], leaves[len(net.weights):]
    logits = net.forward(x, True, [generator(9, "dropout", device), None])
    objective = sum(F.cross_entropy(logits[r], y[r], label_smoothing=float(smoothing[r])) for r in range(2))
    for grad, expected in zip(hand, torch.autograd.grad(objective, leaves), strict=True):
        torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(losses, torch.stack([F.cross_entropy(logits[r], y[r]) for r in range(2)]).detach())


def test_networks_with_normalization_go_through_autograd(data):
    vs = variants('[[variants]]\nname = "bn"\nbatch_norm = true\n')
    net = StackedMLP([build_mlp(vs[0], data.input_dim, data.classes, generator(0, "init"))], vs, data.x_train.device)
    assert not net.hand_derived and all(t.requires_grad for t in net.parameters())


class Histories(Recorder):
    def __init__(self):
        super().__init__()
        self.histories = {}

    def save_run(self, index, record, arrays):
        self.histories[record.variant] = [(e.train_loss, e.val_loss, e.val_accuracy) for e in record.history]


def test_spawned_workers_train_what_forked_ones_do(data, monkeypatch):
    # Linux forks the workers; macOS and Windows spawn them (a new interpreter, arguments pickled).
    import reglab.engine.scheduler as scheduler

    if data.x_train.device.type != "cpu":
        pytest.skip("worker processes train on the CPU")
    vs = variants('[[variants]]\nname = "a"\ndropout = 0.2\n[[variants]]\nname = "b"\nl2 = 0.01\n')
    units = tuple(Unit(((i, v, 0),), True) for i, v in enumerate(vs))
    results = {}
    for method in ("fork", "spawn"):
        monkeypatch.setattr(scheduler, "START_METHOD", method)
        results[method] = Histories()
        execute(Schedule(units, workers=2, threads_per_worker=1), data, results[method], results[method])
    assert set(results["spawn"].histories) == {"a", "b"}
    assert results["spawn"].histories == results["fork"].histories


@pytest.mark.parametrize("raised, expected", [
    (lambda: ReglabError("disk on fire. Fix: another disk."), ReglabError),
    (lambda: ValueError("a bug"), RuntimeError),
])
def test_a_failing_worker_process_stops_the_study_with_its_error(data, monkeypatch, raised, expected):
    import reglab.engine.scheduler as scheduler

    real = scheduler.train_unit
    def failing(unit, *args):
        if unit.members[0][1].name == "b":
            raise raised()
        return real(unit, *args)
    monkeypatch.setattr(scheduler, "train_unit", failing)  # the forked workers inherit the patch
    vs = variants('[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n')
    units = tuple(Unit(((i, v, 0),), True) for i, v in enumerate(vs))
    recorder = Recorder()
    with pytest.raises(expected) as caught:
        execute(Schedule(units, workers=2, threads_per_worker=1), data, recorder, recorder)
    assert ("disk on fire" if expected is ReglabError else "ValueError: a bug") in str(caught.value)
    assert ("b", 0) not in {(name, seed) for _, name, seed in recorder.saved}
