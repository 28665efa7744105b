"""The fast engine: the runs of a stack (same architecture) train together as one program.

Their weights are stacked in the architecture's stacked form (engine/stacked_mlp.py: one batched
forward pass, and a backward pass derived by hand where the network allows; engine/stacked_cnn.py:
grouped convolutions, autograd). A peer of the reference loop over engine/core.py: the techniques
act through the same hooks (techniques/hooks.py), here through each technique's stacked form
(Technique.stacked: its hooks over every run at once, or PerRun: each run's own hooks on its
slice); a technique without one makes stack_key None and its variants train in the reference
loop. Everything a run decides for itself stays per run and goes through the same code as the
reference loop: its schedule, dropout masks drawn from its own generator with the reference's
shapes, epoch ends (early stopping, divergence), its state. Its optimizer is torch.optim's, as in
the reference loop; runs whose optimizer settings agree at every step share one optimizer over
their slices of the stacked tensors (the update is elementwise, so that is exactly what one
optimizer per run computes). On CUDA the step up to the optimizers is captured once as a CUDA
graph and replayed (engine/step_graph.py).

So the records equal the reference loop's up to float32 rounding of the stacked products
(tests/engine/test_fast.py, tests/techniques/test_conformance.py measure it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from reglab.config import VariantSpec
from reglab.engine import step_graph
from reglab.engine.checkpoint import RESTORE_ERRORS, Checkpointer, check_progress
from reglab.engine.core import DeviceData, RunOutcome, Techniques, batch_bounds, set_lr, tested_outcome
from reglab.engine.seeding import generator
from reglab.engine.sketch import weight_sketch
from reglab.engine.step_graph import StepGraph
from reglab import models
from reglab.store.records import COMPLETED, DIVERGED, EpochRecord
from reglab.techniques import registry
from reglab.techniques.hooks import Hooks, RunSlot, Stacked, Weights
from reglab.techniques.soft_targets import loss_gradient

def stack_key(variant: VariantSpec) -> tuple | None:
    """Variants with equal keys can share one stacked program; None: reference loop only (an
    architecture without a stacked form, or a technique without one: Technique.stacked)."""
    architecture = variant.architecture
    if architecture.stacker is None:
        return None
    switches = registry.switches()
    if any(switches[choice.name].stacked is None for choice in variant.switches):
        return None
    return (variant.model, architecture.stack_key(variant), variant.batch_size)


def declines(variant: VariantSpec) -> str | None:
    """Why the fast engine trains `variant` in the reference loop, or None when it stacks it."""
    if variant.architecture.stacker is None:
        return f"the architecture {variant.model!r} has no stacked form"
    switches = registry.switches()
    missing = [c.name for c in variant.switches if switches[c.name].stacked is None]
    return f"{', '.join(missing)} has no stacked form" if missing else None


@dataclass
class _Run:
    """One run's own state inside a stack."""

    index: int  # its place in the stack
    position: int  # its place in the caller's list of members
    variant: VariantSpec
    seed: int
    model: torch.nn.Module  # carries the run's layer structure; its weights are filled in when the run ends
    tech: Techniques
    dropout: torch.Generator
    slot: RunSlot
    history: list[EpochRecord] = field(default_factory=list)
    sketches: list = field(default_factory=list)  # the hidden kernels' count sketch per epoch (numpy [K])
    active: bool = True
    step: int = 0
    lr: float = 0.0
    status: str = COMPLETED
    diverged_at: int | None = None
    stopped_epoch: int | None = None
    best_state: list[torch.Tensor] | None = None
    best_steps: int = 0
    outcome: RunOutcome | None = None


def _optimizer_key(variant: VariantSpec, tech: Techniques, position: int) -> tuple:
    """Runs with equal keys take the same update at every step, so one torch.optim optimizer can
    update all of them at once. A schedule that watches the validation loss gives every run a
    learning rate of its own, and so a key of its own."""
    return (variant.optimizer, variant.schedule, position if tech.own_lr else None)


@dataclass
class _OptimizerGroup:
    """Runs side by side in the stack (stack indices start..stop-1) that share their optimizer's
    settings and learning rate at every step: one torch.optim optimizer updates their slices of
    the stacked tensors. The optimizers are elementwise, so updating a slice [n, out, in] computes
    exactly what n optimizers over [out, in] would, with a constant number of kernels."""

    start: int
    stop: int
    runs: list[_Run]
    sources: list[torch.Tensor]  # the stacked tensors, in model.parameters() order
    params: list[torch.Tensor]  # the group's slices of them: what its optimizer updates
    optimizer: torch.optim.Optimizer

    @classmethod
    def build(cls, runs: list[_Run], sources: list[torch.Tensor]) -> _OptimizerGroup:
        start, stop = runs[0].index, runs[-1].index + 1
        assert stop - start == len(runs), "a group's runs must sit side by side in the stack"
        # .data slices are leaves that torch.optim accepts and updates in place, inside the stack.
        params = [source.data[start:stop] for source in sources]
        variant = runs[0].variant
        optimizer = registry.lookup("optimizer", variant.optimizer.name).build(dict(variant.optimizer.params), params)
        return cls(start, stop, runs, sources, params, optimizer)

    def attach_gradients(self) -> None:
        """Point the slices' .grad at the stacked gradients (again after autograd replaced them)."""
        for view, source in zip(self.params, self.sources):
            view.grad = source.grad[self.start:self.stop]

    @property
    def per_step_schedule(self) -> bool:
        return self.runs[0].tech.per_step_schedule

    def set_lr(self, epoch: int) -> None:
        """The learning rate of the group's schedule now (at this epoch, or this step), for every run."""
        lead = self.runs[0]
        lr = lead.tech.schedule(lead.step if lead.tech.per_step_schedule else epoch)
        for run in self.runs:
            run.lr = run.tech.context.lr = lr
        set_lr(self.optimizer, lr)


def _stacked_forms(runs: list[_Run], device: torch.device) -> list[Stacked]:
    """Each stacked form (Technique.stacked) that a run of the stack uses, built once over every
    run's runtime objects of the techniques that share it; in the order first met."""
    per_form: dict[type, list[list[Hooks]]] = {}
    for run in runs:
        for technique, runtime in run.tech.entries:
            form = technique.stacked_form()
            if form is not None:
                per_form.setdefault(form, [[] for _ in runs])[run.index].append(runtime)
    return [form(per_run, device) for form, per_run in per_form.items()]


def _stack_order(techniques: list[Techniques]) -> list[tuple]:
    """Each run's place within its optimizer group, as its stacked forms ask (StackedPenalty puts
    runs with the same penalty terms side by side)."""
    forms: dict[type, None] = {}
    for tech in techniques:
        for technique, _ in tech.entries:
            if technique.stacked_form() is not None:
                forms.setdefault(technique.stacked_form())
    ordered = sorted(forms, key=lambda form: f"{form.__module__}.{form.__qualname__}")
    return [tuple(form.stack_order([r for t, r in tech.entries if t.stacked_form() is form]) for form in ordered)
            for tech in techniques]


EpochCallback = Callable[[int, EpochRecord], None]


def train_stack(
    data: DeviceData, members: Sequence[tuple[VariantSpec, int]], *, on_epoch: EpochCallback | None = None,
    checkpoint: Checkpointer | None = None,
) -> list[RunOutcome]:
    """Train every (variant, seed) of `members` together; one RunOutcome per member, in order.

    on_epoch(position in `members`, record) after each epoch of each run. A stack of one run (how
    the CPU trains) takes a `checkpoint` like the reference loop: its state is saved at epoch ends
    and training continues from a saved state. Bigger stacks (the GPU's) are trained whole again
    when a study resumes."""
    device = data.x_train.device
    variants = [v for v, _ in members]
    if len({stack_key(v) for v in variants}) != 1 or stack_key(variants[0]) is None:
        raise ValueError("train_stack needs variants with one (supported) stack_key")
    if checkpoint is not None and len(members) != 1:
        raise ValueError("only a stack of one run checkpoints")
    started = time.perf_counter()
    techniques = [Techniques(v, v.optimizer["lr"], image_shape=data.image_shape, classes=data.classes, seed=seed,
                             device=device) for v, seed in members]
    # Runs that share an optimizer group sit side by side in the stack (a stable order: the same
    # members always stack the same way, so a stack trained again rounds the same). Within a
    # group, in the order their stacked forms ask for (_stack_order).
    keys = [_optimizer_key(v, t, position) for position, (v, t) in enumerate(zip(variants, techniques))]
    first_seen = {key: i for i, key in reversed(list(enumerate(keys)))}
    within = _stack_order(techniques)
    order = sorted(range(len(members)), key=lambda p: (first_seen[keys[p]], within[p]))
    initial = _initial_models(data, [members[p] for p in order])
    net = variants[0].architecture.stacked(initial, [variants[p] for p in order], device)
    runs = []
    for index, (position, model) in enumerate(zip(order, initial)):
        variant, seed = members[position]
        runs.append(_Run(index, position, variant, seed, model, techniques[position],
                         generator(seed, "dropout", device), RunSlot(index, techniques[position].context)))
    members_of: dict[tuple, list[_Run]] = {}
    for run in runs:
        members_of.setdefault(keys[run.position], []).append(run)
    sources = net.sources(initial[0])  # the same stacked tensors behind every run's parameters
    groups = [_OptimizerGroup.build(group, sources) for group in members_of.values()]
    if net.hand_derived:
        for group in groups:
            group.attach_gradients()  # the gradient buffers live as long as the stack
    forms = _stacked_forms(runs, device)
    # The forms that act at each point of a step, listed once: a step calls only those.
    transforming, objectives, adding, before, after = ([form for form in forms if form.acts_at(hook)] for hook in (
        "transform_batch", "loss_gradient", "gradients", "before_step", "after_step"))
    if net.hand_derived and (len(objectives) > 1 or (not objectives and any(r.tech.acts_at("objective") for r in runs))):
        raise ValueError("a hand-derived stack needs one stacked form with loss_gradient for its runs' objectives")
    slots = [run.slot for run in runs]
    # The stacked tensors, the same for the whole stack (the gradients: autograd's may be replaced).
    weights = Weights(net.hidden_kernels(), net.parameters(), grads=net.hidden_gradients,
                      run=lambda r: Weights(net.run_hidden_kernels(r)))

    # One data-order stream per seed: every run of that seed draws the very same permutations.
    seeds = sorted({seed for _, seed in members})
    orders = {seed: generator(seed, "data_order") for seed in seeds}
    seed_row = torch.tensor([seeds.index(run.seed) for run in runs], device=device)
    n, batch_size = data.x_train.shape[0], variants[0].batch_size
    shared_input = len(seeds) == 1 and not any(run.tech.acts_at("transform_batch") for run in runs)
    sums = loss_sums, penalty_sums, correct = (torch.zeros(len(runs), device=device),
                                               torch.zeros(len(runs), device=device),
                                               torch.zeros(len(runs), device=device, dtype=torch.int64))

    def compute_gradients(rows: torch.Tensor, generators: Sequence[torch.Generator | None]) -> None:
        """A step up to the optimizers: the batch of each run's rows [R or 1, B], the gradient of
        every run's objective in the stacked .grad tensors, the epoch's running sums."""
        x, y = _batch(data, rows, shared_input, net.runs)
        for form in transforming:
            form.transform_batch(x, y, slots)
        if net.hand_derived:
            logits, tape = net.forward_for_backward(x, generators)
            data_losses, d_logits = (objectives[0].loss_gradient(logits, y) if objectives
                                     else loss_gradient(logits, y, None))
            net.backward(d_logits, tape)
        else:
            logits = net.forward(x, True, generators)
            data_losses = _autograd_backward(net, runs, logits, y)
            for group in groups:
                group.attach_gradients()
        with torch.no_grad():
            for form in adding:
                added = form.gradients(weights, slots)
                if added is not None:
                    penalty_sums.add_(added * y.shape[1])
            loss_sums.add_(data_losses * y.shape[1])
            correct.add_((logits.argmax(-1) == y).sum(-1))

    # On CUDA the step is captured once and replayed (engine/step_graph.py). Not for autograd's
    # networks, augmentation (its own random draws) or a checkpointed run (generator states).
    graphs = step_graph.available(device) and net.hand_derived and not transforming and checkpoint is None
    graph: StepGraph | None = None
    first_epoch = 0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        try:
            first_epoch = check_progress(saved, variants[0].epochs)
            _restore_run(net, runs[0], groups[0], orders[seeds[0]], saved)
            started -= saved["seconds"]  # the run is charged for its earlier attempts too
        except RESTORE_ERRORS:  # not this run's (another architecture): it starts over, from fresh state
            checkpoint.discard()
            return train_stack(data, members, on_epoch=on_epoch, checkpoint=checkpoint)

    for epoch in range(first_epoch, max(v.epochs for v in variants)):
        active = [run for run in runs if run.active]
        if not active:
            break
        epoch_started = time.perf_counter()
        for group in groups:
            group.set_lr(epoch)
        for run in active:
            run.tech.context.epoch = epoch
        lr_at_start = {run.index: run.lr for run in active}
        # Each run's permutation of the examples, as rows of indices: [R, n].
        permutations = torch.stack([torch.randperm(n, generator=orders[seed]) for seed in seeds]).to(device)
        run_order = permutations if shared_input else permutations.index_select(0, seed_row)
        for total in sums:
            total.zero_()
        for start, stop in batch_bounds(n, variants[0]):  # the stack shares its batch_size and normalization
            for group in groups:
                if group.per_step_schedule:
                    group.set_lr(epoch)
            rows = run_order[:, start:stop]
            if graph is None and graphs and start > 0 and rows.shape[1] == batch_size:
                # Captured after one eager step, which initialises what capture cannot (cuBLAS, ...).
                graph = StepGraph(compute_gradients, rows, [run.dropout for run in runs])
            if graph is not None and rows.shape[1] == batch_size:
                graph.replay(rows)
            else:
                compute_gradients(rows, [run.dropout if run.active else None for run in runs])
            with torch.no_grad():
                for form in before:
                    form.before_step(weights, slots)
                for group in groups:
                    if any(run.active for run in group.runs):
                        group.optimizer.step()
                for form in after:
                    form.after_step(weights, slots)
            for run in runs:  # the finished too: a group's schedule may be read off any of its runs
                run.step += 1
                run.tech.context.step = run.step
        val_losses, val_accuracies = net.evaluate(data.x_val, data.y_val)
        # A stack shares its normalization (stack_key): every run has batch norm, or none has.
        train_eval_losses = net.evaluate(*data.train_eval_rows())[0] if runs[0].tech.batch_statistics else None
        seconds = (time.perf_counter() - epoch_started) / len(active)
        with torch.no_grad():
            end_penalties = _summed([form.penalty(weights) for form in forms], penalty_sums)
            weight_norms = torch.stack([k.square().sum(dim=tuple(range(1, k.dim()))) for k in net.hidden_kernels()]).sum(0).sqrt()
            stack_sketches = weight_sketch(net.hidden_kernels(), stacked=True).cpu().numpy()
        # .tolist() syncs with the GPU: once per epoch.
        loss_list, correct_list = loss_sums.tolist(), correct.tolist()
        penalty_list, end_penalty_list = penalty_sums.tolist(), end_penalties.tolist()
        norm_list = weight_norms.tolist()
        for run in active:
            record = EpochRecord(
                epoch=epoch, train_loss=loss_list[run.index] / n, train_accuracy=correct_list[run.index] / n,
                val_loss=val_losses[run.index], val_accuracy=val_accuracies[run.index], lr=lr_at_start[run.index],
                seconds=seconds, train_penalty=penalty_list[run.index] / n, penalty=end_penalty_list[run.index],
                train_eval_loss=train_eval_losses[run.index] if train_eval_losses is not None else None,
                weight_norm=norm_list[run.index], **run.tech.epoch_fields(),
            )
            run.history.append(record)
            run.sketches.append(stack_sketches[run.index].copy())
            _after_epoch(net, run, record, data, started)
        if checkpoint is not None and runs[0].active:
            checkpoint.maybe_save(lambda: _run_state(net, runs[0], groups[0], orders[seeds[0]], epoch, started))
        if on_epoch is not None:
            for run in active:  # may raise to stop the study: after the checkpoint, never before
                on_epoch(run.position, run.history[-1])
    for run in runs:
        if run.active:
            _finish(net, run, data, started)
    return [run.outcome for run in sorted(runs, key=lambda run: run.position)]


def _summed(values: list[torch.Tensor | None], zeros: torch.Tensor) -> torch.Tensor:
    """The per-run sum of the forms' values; `zeros` (of that shape) when none gives one."""
    given = [v for v in values if v is not None]
    return sum(given[1:], given[0]) if given else zeros


def _initial_models(data: DeviceData, members: Sequence[tuple[VariantSpec, int]]) -> list[torch.nn.Module]:
    """Each member's model on the data's device, with the weights the reference loop starts from.
    Variants with the same init_key() start from the same weights for a seed: those are drawn once
    (on the CPU, where drawing them costs more than the whole step of a stack) and copied."""
    device = data.x_train.device
    drawn: dict[tuple, torch.nn.Module] = {}
    built = []
    for variant, seed in members:
        key = (variant.init_key(), seed)
        first = drawn.get(key)
        if first is None:
            model = drawn[key] = models.build(variant, data.image_shape, data.classes,
                                              generator(seed, "init")).to(device)
        else:
            # Same architecture and init in one stack: same tensors in the same order, copied on the device.
            model = models.build(variant, data.image_shape, data.classes, None).to_empty(device=device)
            with torch.no_grad():
                for target, source in zip(model.state_dict().values(), first.state_dict().values(), strict=True):
                    target.copy_(source)
        built.append(model)
    return built


def _batch(data: DeviceData, rows: torch.Tensor, shared_input: bool, runs: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The step's inputs and labels from each run's rows of indices [R or 1, B]: x [B, in] when
    every run sees the same batch, else [R, B, in] gathered at once; y [R, B]."""
    if shared_input:
        x, y = data.training_batch(rows[0])
        return x, y.expand(runs, -1)
    flat = rows.reshape(-1)
    x = data.x_train.index_select(0, flat).view(runs, rows.shape[1], -1)
    y = data.y_train.index_select(0, flat).view(runs, rows.shape[1])
    return x, y


def _run_state(net, run: _Run, group: _OptimizerGroup, order: torch.Generator, epoch: int,
               started: float) -> dict:
    """A single-run stack's checkpoint: everything the next epoch depends on (see engine/checkpoint.py)."""
    return {
        "epoch": epoch + 1, "step": run.step, "seconds": time.perf_counter() - started,
        "history": [asdict(e) for e in run.history], "sketches": torch.from_numpy(np.stack(run.sketches)),
        "stack": net.state(run.index),
        "optimizer": group.optimizer.state_dict(),
        "generators": {"data_order": order.get_state(), "dropout": run.dropout.get_state(),
                       **{name: stream.get_state() for name, stream in run.tech.streams.items()}},
        "techniques": run.tech.state_dict(), "best_state": run.best_state, "best_steps": run.best_steps,
    }


def _restore_run(net, run: _Run, group: _OptimizerGroup, order: torch.Generator, saved: dict) -> None:
    net.restore(run.index, saved["stack"])
    group.optimizer.load_state_dict(saved["optimizer"])
    streams = {"data_order": order, "dropout": run.dropout, **run.tech.streams}
    for name, stream in streams.items():
        stream.set_state(saved["generators"][name])
    run.tech.load_state_dict(saved["techniques"])
    run.step, run.best_state, run.best_steps = saved["step"], saved["best_state"], saved["best_steps"]
    run.history = [EpochRecord(**e) for e in saved["history"]]
    run.sketches = list(saved["sketches"].numpy())
    if len(run.sketches) != len(run.history):
        raise ValueError("a checkpoint whose sketches do not match its history")


def _autograd_backward(net, runs: list[_Run], logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The gradient through autograd (networks with normalization layers); per-run data losses [R]."""
    data_losses, objective = [], []
    for run in runs:
        data_loss = F.cross_entropy(logits[run.index], y[run.index])
        loss = run.tech.objective(logits[run.index], y[run.index])
        data_losses.append(data_loss.detach())
        objective.append(data_loss if loss is None else loss)
    for tensor in net.parameters():
        tensor.grad = None
    torch.stack(objective).sum().backward()  # runs share no weights: each gets its own gradient
    return torch.stack(data_losses)


def _after_epoch(net, run: _Run, record: EpochRecord, data: DeviceData, started: float) -> None:
    """Divergence, schedules that watch the validation loss, early stopping: as the reference loop."""
    verdict, keep_weights = run.tech.end_of_epoch(record)
    if keep_weights:
        run.best_state, run.best_steps = net.state(run.index), run.step
    if verdict is not None:
        if verdict == DIVERGED:
            run.status, run.diverged_at = DIVERGED, record.epoch
        else:
            run.stopped_epoch = record.epoch
        _finish(net, run, data, started)
        return
    if record.epoch + 1 >= run.variant.epochs:
        _finish(net, run, data, started)


def _finish(net, run: _Run, data: DeviceData, started: float) -> None:
    """Freeze the run: its weights into its own model, then test it exactly as the reference does."""
    run.active = run.slot.active = False
    if run.best_state is not None and run.status == COMPLETED:
        net.load_into(run.model, run.best_state, run.best_steps)
    else:
        net.load_into(run.model, net.state(run.index), run.step)
    run.outcome = tested_outcome(
        run.model, data, variant=run.variant, seed=run.seed, status=run.status, history=run.history,
        # Runs of a stack share the clock: each is charged its share of the stack's time so far.
        seconds=(time.perf_counter() - started) / net.runs, engine="fast", diverged_at=run.diverged_at,
        stopped_epoch=run.stopped_epoch, sketches=run.sketches, run_fields=run.tech.run_fields(),
    )
