"""The fast engine: the runs of a stack (same architecture) train together as one program.

Weights of R runs live in stacked tensors ([R, out, in] per layer): one forward/backward serves
them all. When every run of the stack sees the same batch (same seed, no augmentation), the
first layer — most of the arithmetic — is a single wide matrix product; otherwise batched ones.

Everything a run decides for itself stays per run and goes through the same code as the
reference loop: its own torch.optim optimizer (over views of the stacked weights), its schedule,
penalties, constraints, label smoothing, dropout masks drawn from its own generator with the
reference's shapes, early stopping and divergence. So the records equal the reference loop's up
to float32 rounding of the stacked products (tests/engine/test_fast.py measures it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from reglab.config import VariantSpec
from reglab.engine.reference import DeviceData, RunOutcome, Techniques, _set_lr, tested_outcome
from reglab.engine.seeding import generator
from reglab.models import MLP, build_mlp
from reglab.store.records import COMPLETED, DIVERGED, EpochRecord
from reglab.techniques import registry

# What the fast engine knows how to stack. A variant using anything else trains in the reference loop.
SUPPORTED = {"penalty", "constraint", "loss", "layer", "augmentation", "training"}
EVAL_ROWS = 1 << 16  # rows x runs per evaluation chunk: bounds the activations' memory


def stack_key(variant: VariantSpec) -> tuple | None:
    """Variants with equal keys can share one stacked program; None: reference loop only."""
    families = registry.families()
    for choice in variant.switches:
        family = next((f for f, members in families.items() if choice.name in members), None)
        if family not in SUPPORTED:
            return None
    norm = next((c for c in variant.switches if c.name in ("batch_norm", "layer_norm")), None)
    # F.batch_norm takes one momentum and epsilon for the whole stack: they are part of the key.
    return (variant.hidden, variant.activation, variant.batch_size, norm)


@dataclass
class _Run:
    """One run's own state inside a stack."""

    index: int
    variant: VariantSpec
    seed: int
    model: MLP  # carries the run's layer structure; its weights are filled in when the run ends
    tech: Techniques
    optimizer: torch.optim.Optimizer
    sources: list[torch.Tensor]  # the stacked tensors holding this run's parameters
    params: list[torch.Tensor]  # this run's slices of them: what its optimizer updates
    dropout: torch.Generator
    augmentation: torch.Generator
    history: list[EpochRecord] = field(default_factory=list)
    active: bool = True
    step: int = 0
    lr: float = 0.0
    status: str = COMPLETED
    diverged_at: int | None = None
    stopped_epoch: int | None = None
    best_state: list[torch.Tensor] | None = None
    best_steps: int = 0
    outcome: RunOutcome | None = None


class StackedMLP:
    """The weights of R MLPs of one architecture, stacked, with a batched forward pass."""

    def __init__(self, models: Sequence[MLP], variants: Sequence[VariantSpec], device: torch.device):
        self.runs = len(models)
        linears = [m.linears() for m in models]
        norms = [[m for m in model.layers if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm))] for model in models]

        def stack(tensors: list[torch.Tensor], trainable: bool) -> torch.Tensor:
            return torch.stack([t.detach() for t in tensors]).to(device).requires_grad_(trainable)

        self.weights = [stack([ls[i].weight for ls in linears], True) for i in range(len(linears[0]))]
        self.biases = [stack([ls[i].bias for ls in linears], True) for i in range(len(linears[0]))]
        self.norm_kind = type(norms[0][0]) if norms[0] else None
        self.norm_weights = [stack([ns[i].weight for ns in norms], True) for i in range(len(norms[0]))]
        self.norm_biases = [stack([ns[i].bias for ns in norms], True) for i in range(len(norms[0]))]
        self.running = []
        if self.norm_kind is nn.BatchNorm1d:
            self.running = [(stack([ns[i].running_mean for ns in norms], False),
                             stack([ns[i].running_var for ns in norms], False)) for i in range(len(norms[0]))]
            self.momentum, self.eps = norms[0][0].momentum, norms[0][0].eps
        elif self.norm_kind is nn.LayerNorm:
            self.eps = norms[0][0].eps
        choice = next((c for c in variants[0].switches if c.name in ("batch_norm", "layer_norm")), None)
        self.norm_after = choice is not None and choice["position"] == "after"
        self.activation = registry.lookup("activation", variants[0].activation.name).build(
            dict(variants[0].activation.params))
        # Kept on the host too: deciding whether to draw must not wait on the GPU.
        self.host_rates = [v.dropout_rates() for v in variants]  # [R][hidden]
        self.rates = torch.tensor(self.host_rates, dtype=torch.float32, device=device)
        self.has_dropout = [any(rates[i] > 0 for rates in self.host_rates) for i in range(len(variants[0].hidden))]

    def sources(self, model: MLP) -> list[torch.Tensor]:
        """The stacked tensor behind each of model.parameters(), in that order."""
        by_identity = {}
        for i, linear in enumerate(model.linears()):
            by_identity[id(linear.weight)] = self.weights[i]
            by_identity[id(linear.bias)] = self.biases[i]
        norms = [m for m in model.layers if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm))]
        for i, norm in enumerate(norms):
            by_identity[id(norm.weight)] = self.norm_weights[i]
            by_identity[id(norm.bias)] = self.norm_biases[i]
        return [by_identity[id(p)] for p in model.parameters()]

    def parameters(self) -> list[torch.Tensor]:
        return self.weights + self.biases + self.norm_weights + self.norm_biases

    def hidden_kernels(self, r: int) -> list[torch.Tensor]:
        return [w[r] for w in self.weights[:-1]]

    def state(self, r: int) -> list[torch.Tensor]:
        tensors = self.weights + self.biases + self.norm_weights + self.norm_biases
        tensors += [t for pair in self.running for t in pair]
        return [t.detach()[r].clone() for t in tensors]

    def load_into(self, model: MLP, state: list[torch.Tensor], steps: int) -> None:
        """Write a run's slices (from state()) into its own plain model."""
        values = iter(state)
        linears = model.linears()
        norms = [m for m in model.layers if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm))]
        with torch.no_grad():
            for target in ([l.weight for l in linears] + [l.bias for l in linears]
                           + [n.weight for n in norms] + [n.bias for n in norms]):
                target.copy_(next(values))
            for norm in norms:
                if isinstance(norm, nn.BatchNorm1d):
                    norm.running_mean.copy_(next(values))
                    norm.running_var.copy_(next(values))
                    norm.num_batches_tracked.fill_(steps)

    def forward(self, x: torch.Tensor, training: bool, dropout: Sequence[torch.Generator | None] = ()) -> torch.Tensor:
        """x: [B, in] shared by every run, or [R, B, in]. Returns logits [R, B, classes]."""
        R = self.runs
        h = x
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            if h.dim() == 2:
                # One wide product for all runs: [B, in] x [in, R*out].
                out = torch.addmm(b.reshape(1, -1), h, w.reshape(-1, w.shape[-1]).t())
                h = out.view(h.shape[0], R, -1).transpose(0, 1)
            else:
                h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            if i == len(self.weights) - 1:
                return h
            if self.norm_kind is not None and not self.norm_after:
                h = self._norm(i, h, training)
            h = self.activation(h)
            if self.norm_kind is not None and self.norm_after:
                h = self._norm(i, h, training)
            if training and self.has_dropout[i]:
                h = self._dropout(i, h, dropout)
        return h

    def _norm(self, i: int, h: torch.Tensor, training: bool) -> torch.Tensor:
        R, B, W = h.shape
        if self.norm_kind is nn.LayerNorm:
            normalised = F.layer_norm(h, (W,), eps=self.eps)
            return normalised * self.norm_weights[i].unsqueeze(1) + self.norm_biases[i].unsqueeze(1)
        # Batch norm per (run, feature): the runs side by side as R*W features of one batch.
        mean, var = self.running[i]
        flat = F.batch_norm(h.transpose(0, 1).reshape(B, R * W), mean.view(-1), var.view(-1),
                            self.norm_weights[i].reshape(-1), self.norm_biases[i].reshape(-1),
                            training, self.momentum, self.eps)
        return flat.view(B, R, W).transpose(0, 1)

    def _dropout(self, i: int, h: torch.Tensor, generators: Sequence[torch.Generator | None]) -> torch.Tensor:
        R, B, W = h.shape
        rates = self.rates[:, i]
        noise = torch.empty((R, B, W), device=h.device, dtype=h.dtype)
        for r, gen in enumerate(generators):
            if gen is not None and self.host_rates[r][i] > 0:
                # The reference draws rand(x.shape) from the run's own generator: the same numbers here.
                torch.rand((B, W), generator=gen, device=h.device, dtype=h.dtype, out=noise[r])
            else:
                noise[r].fill_(1.0)  # keeps every unit: rate 0, or a run that has finished
        keep = noise >= rates.view(R, 1, 1)
        return h * keep / (1.0 - rates).view(R, 1, 1)


EpochCallback = Callable[[int, EpochRecord], None]


def train_stack(
    data: DeviceData, members: Sequence[tuple[VariantSpec, int]], *, on_epoch: EpochCallback | None = None
) -> list[RunOutcome]:
    """Train every (variant, seed) of `members` together; one RunOutcome per member, in order."""
    device = data.x_train.device
    variants = [v for v, _ in members]
    if len({stack_key(v) for v in variants}) != 1 or stack_key(variants[0]) is None:
        raise ValueError("train_stack needs variants with one (supported) stack_key")
    started = time.perf_counter()
    models = [build_mlp(v, data.input_dim, data.classes, generator(seed, "init")) for v, seed in members]
    net = StackedMLP(models, variants, device)
    runs = []
    for r, ((variant, seed), model) in enumerate(zip(members, models)):
        model.to(device)
        sources = net.sources(model)
        # .data slices are leaves that torch.optim accepts and updates in place, inside the stack.
        params = [source.data[r] for source in sources]
        optimizer = registry.lookup("optimizer", variant.optimizer.name).build(dict(variant.optimizer.params), params)
        runs.append(_Run(r, variant, seed, model, Techniques(variant, variant.optimizer["lr"]), optimizer,
                         sources, params,
                         generator(seed, "dropout", device), generator(seed, "augmentation", device)))
    # One data-order stream per seed: every run of that seed draws the very same permutations.
    orders = {seed: generator(seed, "data_order") for _, seed in members}
    n, batch_size = data.x_train.shape[0], variants[0].batch_size
    shared_input = len(orders) == 1 and not any(run.tech.augment for run in runs)
    seeds = [seed for _, seed in members]

    for epoch in range(max(v.epochs for v in variants)):
        active = [run for run in runs if run.active]
        if not active:
            break
        epoch_started = time.perf_counter()
        lr_at_start = {}
        for run in active:
            run.lr = run.tech.schedule(run.step if run.tech.per_step_schedule else epoch)
            lr_at_start[run.index] = run.lr
            _set_lr(run.optimizer, run.lr)
        permutations = {seed: torch.randperm(n, generator=order).to(device) for seed, order in orders.items()}
        loss_sums = torch.zeros(net.runs, device=device)
        penalty_sums = torch.zeros(net.runs, device=device)
        correct = torch.zeros(net.runs, device=device, dtype=torch.int64)
        for start in range(0, n, batch_size):
            batches = {seed: perm[start:start + batch_size] for seed, perm in permutations.items()}
            for run in active:
                if run.tech.per_step_schedule:
                    run.lr = run.tech.schedule(run.step)
                    _set_lr(run.optimizer, run.lr)
            if shared_input:
                batch = batches[seeds[0]]
                x, y = data.x_train[batch], data.y_train[batch].expand(net.runs, -1)
            else:
                x = torch.stack([_inputs(data, batches[run.seed], run) for run in runs])
                y = torch.stack([data.y_train[batches[run.seed]] for run in runs])
            logits = net.forward(x, True, [run.dropout if run.active else None for run in runs])
            data_losses, objective = [], []
            for run in runs:
                data_loss = F.cross_entropy(logits[run.index], y[run.index])
                loss = (F.cross_entropy(logits[run.index], y[run.index], label_smoothing=run.tech.label_smoothing)
                        if run.tech.label_smoothing else data_loss)
                data_losses.append(data_loss.detach())
                objective.append(loss)
            for tensor in net.parameters():
                tensor.grad = None
            torch.stack(objective).sum().backward()  # runs share no weights: each gets its own gradient
            for run in active:
                if run.tech.penalties:
                    penalty_sums[run.index] += _add_penalty_gradient(net, run) * y.shape[1]
            with torch.no_grad():
                for run in active:
                    _step(net, run)
            loss_sums += torch.stack(data_losses) * y.shape[1]
            correct += (logits.detach().argmax(-1) == y).sum(-1)
            for run in active:
                run.step += 1
        val_losses, val_accuracies = _evaluate_stack(net, data.x_val, data.y_val)
        seconds = (time.perf_counter() - epoch_started) / len(active)
        # .tolist() syncs with the GPU: once per epoch.
        loss_list, correct_list, penalty_list = loss_sums.tolist(), correct.tolist(), penalty_sums.tolist()
        for run in active:
            with torch.no_grad():
                end_penalty = (sum(p(net.hidden_kernels(run.index)) for p in run.tech.penalties).item()
                               if run.tech.penalties else 0.0)
            record = EpochRecord(
                epoch=epoch, train_loss=loss_list[run.index] / n, train_accuracy=correct_list[run.index] / n,
                val_loss=val_losses[run.index], val_accuracy=val_accuracies[run.index], lr=lr_at_start[run.index],
                seconds=seconds, train_penalty=penalty_list[run.index] / n, penalty=end_penalty,
            )
            run.history.append(record)
            if on_epoch is not None:
                on_epoch(run.index, record)
            _after_epoch(net, run, record, data, started)
    for run in runs:
        if run.active:
            _finish(net, run, data, started)
    return [run.outcome for run in runs]


def _add_penalty_gradient(net: StackedMLP, run: _Run) -> torch.Tensor:
    """Differentiate the run's penalties on its own slices and add into the stacked gradient.

    Autograd through a slice w[r] of the stacked weights would allocate and zero a gradient the
    size of the whole stack for every run and layer (measured: a quarter of the step time); the
    sum of the two gradients is the same as autograd's over data loss + penalty."""
    kernels = [w.detach()[run.index].requires_grad_() for w in net.weights[:-1]]
    with torch.enable_grad():
        penalty = sum(p(kernels) for p in run.tech.penalties)
        penalty.backward()
    with torch.no_grad():
        for stacked, kernel in zip(net.weights[:-1], kernels):
            stacked.grad[run.index] += kernel.grad
    return penalty.detach()


def _inputs(data: DeviceData, batch: torch.Tensor, run: _Run) -> torch.Tensor:
    x = data.x_train[batch]
    return run.tech.augment(x, data.image_shape, run.augmentation) if run.tech.augment is not None else x


def _step(net: StackedMLP, run: _Run) -> None:
    """The run's own update, with exactly the reference loop's hooks and torch.optim optimizer."""
    for view, source in zip(run.params, run.sources):
        view.grad = source.grad[run.index]
    kernels = [kernel.detach() for kernel in net.hidden_kernels(run.index)]
    for hook in run.tech.before_step:
        hook(kernels, run.lr)
    run.optimizer.step()
    for hook in run.tech.after_step:
        hook(kernels, run.lr)


@torch.no_grad()
def _evaluate_stack(net: StackedMLP, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-run mean cross-entropy and accuracy, evaluation mode, on inputs every run shares."""
    rows = max(256, EVAL_ROWS // net.runs)
    loss_sum = torch.zeros(net.runs, device=x.device)
    correct = torch.zeros(net.runs, device=x.device, dtype=torch.int64)
    for start in range(0, x.shape[0], rows):
        logits = net.forward(x[start:start + rows], False)
        target = y[start:start + rows]
        losses = F.cross_entropy(logits.transpose(1, 2), target.expand(net.runs, -1), reduction="none")
        loss_sum += losses.sum(-1)
        correct += (logits.argmax(-1) == target).sum(-1)
    count = x.shape[0]
    return [v / count for v in loss_sum.tolist()], [c / count for c in correct.tolist()]


def _after_epoch(net: StackedMLP, run: _Run, record: EpochRecord, data: DeviceData, started: float) -> None:
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


def _finish(net: StackedMLP, run: _Run, data: DeviceData, started: float) -> None:
    """Freeze the run: its weights into its own model, then test it exactly as the reference does."""
    run.active = False
    if run.best_state is not None and run.status == COMPLETED:
        net.load_into(run.model, run.best_state, run.best_steps)
    else:
        net.load_into(run.model, net.state(run.index), run.step)
    stopper = run.tech.early_stopping
    run.outcome = tested_outcome(
        run.model, data, variant=run.variant, seed=run.seed, status=run.status, history=run.history,
        # Runs of a stack share the clock: each is charged its share of the stack's time so far.
        seconds=(time.perf_counter() - started) / net.runs, engine="fast", diverged_at=run.diverged_at,
        best_epoch=stopper.best_epoch if stopper is not None else None, stopped_epoch=run.stopped_epoch,
    )
