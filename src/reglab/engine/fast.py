"""The fast engine: the runs of a stack (same architecture) train together as one program.

Weights of R runs live in stacked tensors ([R, out, in] per layer): one forward/backward serves
them all. When every run of the stack sees the same batch (same seed, no augmentation), the
first layer — most of the arithmetic — is a single wide matrix product; otherwise batched ones.

The backward pass is derived by hand for the networks that need nothing else (a Linear layer,
its activation and dropout): three matrix products per layer written into gradient buffers that
live as long as the stack, the activation's derivative through the very ATen formula autograd
uses, and nothing else per step. On the CPU that is what makes a single run fast (autograd's
bookkeeping, allocations and broadcasts cost a fifth of a step of the tutorial's model:
benchmarks/README.md). Networks with batch or layer normalization go through autograd.

Everything a run decides for itself stays per run and goes through the same code as the
reference loop: its own torch.optim optimizer (over views of the stacked weights), its schedule,
penalties, constraints, label smoothing, dropout masks drawn from its own generator with the
reference's shapes, early stopping and divergence. So the records equal the reference loop's up
to float32 rounding of the stacked products (tests/engine/test_fast.py measures it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from reglab.config import VariantSpec
from reglab.engine.checkpoint import Checkpointer
from reglab.engine.reference import DeviceData, RunOutcome, Techniques, _set_lr, tested_outcome
from reglab.engine.seeding import generator
from reglab.models import MLP, build_mlp
from reglab.store.records import COMPLETED, DIVERGED, EpochRecord
from reglab.techniques import registry

# What the fast engine knows how to stack. A variant using anything else trains in the reference loop.
SUPPORTED = {"penalty", "constraint", "loss", "layer", "augmentation", "training"}
EVAL_ROWS = 1 << 16  # rows x runs per evaluation chunk: bounds the activations' memory

# d(activation)/d(input) times the incoming gradient, by the ATen functions autograd itself calls
# for these activations (so the numbers are autograd's), from the output or the input.
ACTIVATION_BACKWARD: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "relu": lambda grad, output, _: torch.ops.aten.threshold_backward(grad, output, 0),
    "tanh": lambda grad, output, _: torch.ops.aten.tanh_backward(grad, output),
    "sigmoid": lambda grad, output, _: torch.ops.aten.sigmoid_backward(grad, output),
    "elu": lambda grad, _, pre: torch.ops.aten.elu_backward(grad, 1.0, 1, 1, False, pre),
    "gelu": lambda grad, _, pre: torch.ops.aten.gelu_backward(grad, pre),
}


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


@dataclass
class _Tape:
    """What the hand-derived backward needs from a training forward pass, per layer."""

    inputs: list[torch.Tensor] = field(default_factory=list)  # each layer's input: [B, in] shared, or [R, B, in]
    pre: list[torch.Tensor | None] = field(default_factory=list)  # hidden pre-activations (for elu, gelu)
    outputs: list[torch.Tensor] = field(default_factory=list)  # hidden activations, before dropout
    masks: list[torch.Tensor | None] = field(default_factory=list)  # scaled dropout masks


class StackedMLP:
    """The weights of R MLPs of one architecture, stacked, with a batched forward pass."""

    def __init__(self, models: Sequence[MLP], variants: Sequence[VariantSpec], device: torch.device):
        self.runs = len(models)
        linears = [m.linears() for m in models]
        norms = [[m for m in model.layers if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm))] for model in models]

        activation = variants[0].activation.name
        self.hand_derived = not norms[0] and activation in ACTIVATION_BACKWARD
        self.activation_backward = ACTIVATION_BACKWARD.get(activation)
        self.keep_pre = activation in ("elu", "gelu")
        self.relu = activation == "relu"  # applied in place: its derivative needs only its output

        def stack(tensors: list[torch.Tensor], trainable: bool) -> torch.Tensor:
            stacked = torch.stack([t.detach() for t in tensors]).to(device)
            return stacked.requires_grad_(trainable and not self.hand_derived)

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
        # 1 / (1 - rate) in double, then float32: the very scale the reference multiplies by.
        self.keep_scales = torch.tensor([[1.0 / (1.0 - rate) for rate in rates] for rates in self.host_rates],
                                        dtype=torch.float32, device=device)
        self.has_dropout = [any(rates[i] > 0 for rates in self.host_rates) for i in range(len(variants[0].hidden))]
        if self.hand_derived:
            # Written in place by every backward pass: no allocation, no zeroing.
            for tensor in self.parameters():
                tensor.grad = torch.zeros_like(tensor)

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
        """Run r's weights and running statistics, copied out of the stack."""
        return [t.detach()[r].clone() for t in self._tensors()]

    def restore(self, r: int, state: list[torch.Tensor]) -> None:
        """The inverse of state(): write run r's slices back into the stack."""
        for tensor, value in zip(self._tensors(), state, strict=True):
            tensor.detach()[r].copy_(value)

    def _tensors(self) -> list[torch.Tensor]:
        return self.parameters() + [t for pair in self.running for t in pair]

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
        h = x
        for i in range(len(self.weights)):
            h = self._linear(i, h)
            if i == len(self.weights) - 1:
                return h
            if self.norm_kind is not None and not self.norm_after:
                h = self._norm(i, h, training)
            h = self.activation(h)
            if self.norm_kind is not None and self.norm_after:
                h = self._norm(i, h, training)
            if training and self.has_dropout[i]:
                h = h * self._dropout_mask(i, h, dropout)
        return h

    def forward_for_backward(self, x: torch.Tensor, dropout: Sequence[torch.Generator | None]) -> tuple[torch.Tensor, _Tape]:
        """The training forward pass of a hand-derived stack, keeping what backward() needs."""
        tape = _Tape()
        h = x
        for i in range(len(self.weights)):
            tape.inputs.append(h)
            h = self._linear(i, h)
            if i == len(self.weights) - 1:
                return h, tape
            pre = h if self.keep_pre else None
            h = h.relu_() if self.relu else self.activation(h)
            mask = self._dropout_mask(i, h, dropout) if self.has_dropout[i] else None
            tape.pre.append(pre)
            tape.outputs.append(h)
            tape.masks.append(mask)
            if mask is not None:
                h = h * mask
        raise AssertionError("unreachable: the last layer returns")

    def backward(self, d_logits: torch.Tensor, tape: _Tape) -> None:
        """Writes the gradient of the runs' summed objectives into every stacked tensor's .grad.

        Per layer, as autograd does for Linear: dW = dᵀ·input, db = Σ_batch d, d_input = d·W;
        then through dropout (times its scaled mask) and the activation's derivative."""
        d = d_logits
        for i in reversed(range(len(self.weights))):
            weight, layer_input = self.weights[i], tape.inputs[i]
            runs, width, fan_in = weight.shape
            if layer_input.dim() == 2:  # the input every run shares: one wide product for all
                torch.mm(d.transpose(0, 1).reshape(-1, runs * width).t(), layer_input,
                         out=weight.grad.view(runs * width, fan_in))
            else:
                torch.bmm(d.transpose(1, 2), layer_input, out=weight.grad)
            torch.sum(d, dim=1, out=self.biases[i].grad)
            if i == 0:
                return
            d = torch.bmm(d, weight)
            if tape.masks[i - 1] is not None:
                d.mul_(tape.masks[i - 1])
            d = self.activation_backward(d, tape.outputs[i - 1], tape.pre[i - 1])

    def _linear(self, i: int, h: torch.Tensor) -> torch.Tensor:
        w, b = self.weights[i], self.biases[i]
        if h.dim() == 2:
            # One wide product for all runs: [B, in] x [in, R*out].
            out = torch.addmm(b.reshape(1, -1), h, w.reshape(-1, w.shape[-1]).t())
            return out.view(h.shape[0], self.runs, -1).transpose(0, 1)
        return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))

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

    def _dropout_mask(self, i: int, h: torch.Tensor, generators: Sequence[torch.Generator | None]) -> torch.Tensor:
        """Each run's dropout mask for hidden layer i, scaled by 1 / (1 - rate): [R, B, W]."""
        R, B, W = h.shape
        rates, scales = self.rates[:, i], self.keep_scales[:, i]
        noise = torch.empty((R, B, W), device=h.device, dtype=h.dtype)
        for r, gen in enumerate(generators):
            if gen is not None and self.host_rates[r][i] > 0:
                # The reference draws rand(x.shape) from the run's own generator: the same numbers here.
                torch.rand((B, W), generator=gen, device=h.device, dtype=h.dtype, out=noise[r])
            else:
                noise[r].fill_(1.0)  # keeps every unit: rate 0, or a run that has finished
        # As the reference: the mask scaled by 1 / (1 - rate), built in place.
        return noise.ge_(rates.view(R, 1, 1)).mul_(scales.view(R, 1, 1))


def _loss_gradient(logits: torch.Tensor, y: torch.Tensor, smoothing: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-run mean cross-entropy [R] (the recorded loss), and the gradient of the runs' summed
    objectives with respect to the logits: (softmax − target) / B, where the target is
    (1 − ε)·one_hot + ε/K with each run's label smoothing ε [R] (None: no run smooths), which is
    what F.cross_entropy differentiates to."""
    R, B, classes = logits.shape
    log_p = logits.log_softmax(-1)
    target = y.unsqueeze(-1)
    data_losses = -log_p.gather(-1, target).squeeze(-1).mean(-1)
    d = log_p.exp()
    if smoothing is None:
        d.scatter_add_(-1, target, torch.full((1, 1, 1), -1.0, device=d.device).expand(R, B, 1))
    else:
        d.scatter_add_(-1, target, (smoothing - 1).view(R, 1, 1).expand(R, B, 1))
        d.sub_((smoothing / classes).view(R, 1, 1))
    return data_losses, d.div_(B)


EpochCallback = Callable[[int, EpochRecord], None]


def train_stack(
    data: DeviceData, members: Sequence[tuple[VariantSpec, int]], *, on_epoch: EpochCallback | None = None,
    checkpoint: Checkpointer | None = None,
) -> list[RunOutcome]:
    """Train every (variant, seed) of `members` together; one RunOutcome per member, in order.

    A stack of one run (how the CPU trains) takes a `checkpoint` like the reference loop: its
    state is saved at epoch ends and training continues from a saved state. Bigger stacks (the
    GPU's) are trained whole again when a study resumes."""
    device = data.x_train.device
    variants = [v for v, _ in members]
    if len({stack_key(v) for v in variants}) != 1 or stack_key(variants[0]) is None:
        raise ValueError("train_stack needs variants with one (supported) stack_key")
    if checkpoint is not None and len(members) != 1:
        raise ValueError("only a stack of one run checkpoints")
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
    smoothing = (torch.tensor([run.tech.label_smoothing for run in runs], dtype=torch.float32, device=device)
                 if any(run.tech.label_smoothing for run in runs) else None)
    first_epoch = 0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        first_epoch = saved["epoch"]
        started -= saved["seconds"]  # the run is charged for its earlier attempts too
        _restore_run(net, runs[0], orders[seeds[0]], saved)

    for epoch in range(first_epoch, max(v.epochs for v in variants)):
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
                x, y = data.training_batch(batch)
                y = y.expand(net.runs, -1)
            else:
                x = torch.stack([_inputs(data, batches[run.seed], run) for run in runs])
                y = torch.stack([data.y_train.index_select(0, batches[run.seed]) for run in runs])
            generators = [run.dropout if run.active else None for run in runs]
            if net.hand_derived:
                logits, tape = net.forward_for_backward(x, generators)
                data_losses, d_logits = _loss_gradient(logits, y, smoothing)
                net.backward(d_logits, tape)
            else:
                logits = net.forward(x, True, generators)
                data_losses = _autograd_backward(net, runs, logits, y)
            for run in active:
                if run.tech.penalties:
                    # The run's kernels and its slices of the stacked gradient.
                    kernels = [kernel.detach() for kernel in net.hidden_kernels(run.index)]
                    grads = [w.grad[run.index] for w in net.weights[:-1]]
                    penalty_sums[run.index] += run.tech.add_penalty(kernels, grads) * y.shape[1]
            with torch.no_grad():
                for run in active:
                    _step(net, run)
            loss_sums += data_losses * y.shape[1]
            correct += (logits.detach().argmax(-1) == y).sum(-1)
            for run in active:
                run.step += 1
        val_losses, val_accuracies = _evaluate_stack(net, data.x_val, data.y_val)
        seconds = (time.perf_counter() - epoch_started) / len(active)
        # .tolist() syncs with the GPU: once per epoch.
        loss_list, correct_list, penalty_list = loss_sums.tolist(), correct.tolist(), penalty_sums.tolist()
        for run in active:
            with torch.no_grad():
                end_penalty = run.tech.penalty(net.hidden_kernels(run.index)).item() if run.tech.penalties else 0.0
            record = EpochRecord(
                epoch=epoch, train_loss=loss_list[run.index] / n, train_accuracy=correct_list[run.index] / n,
                val_loss=val_losses[run.index], val_accuracy=val_accuracies[run.index], lr=lr_at_start[run.index],
                seconds=seconds, train_penalty=penalty_list[run.index] / n, penalty=end_penalty,
            )
            run.history.append(record)
            _after_epoch(net, run, record, data, started)
        if checkpoint is not None and runs[0].active:
            checkpoint.maybe_save(lambda: _run_state(net, runs[0], orders[seeds[0]], epoch, started))
        if on_epoch is not None:
            for run in active:  # may raise to stop the study: after the checkpoint, never before
                on_epoch(run.index, run.history[-1])
    for run in runs:
        if run.active:
            _finish(net, run, data, started)
    return [run.outcome for run in runs]


def _run_state(net: StackedMLP, run: _Run, order: torch.Generator, epoch: int, started: float) -> dict:
    """A single-run stack's checkpoint: everything the next epoch depends on (see engine/checkpoint.py)."""
    return {
        "epoch": epoch + 1, "step": run.step, "seconds": time.perf_counter() - started,
        "history": [asdict(e) for e in run.history], "stack": net.state(run.index),
        "optimizer": run.optimizer.state_dict(),
        "generators": {"data_order": order.get_state(), "dropout": run.dropout.get_state(),
                       "augmentation": run.augmentation.get_state()},
        "techniques": run.tech.state_dict(), "best_state": run.best_state, "best_steps": run.best_steps,
    }


def _restore_run(net: StackedMLP, run: _Run, order: torch.Generator, saved: dict) -> None:
    net.restore(run.index, saved["stack"])
    run.optimizer.load_state_dict(saved["optimizer"])
    for stream, state in ((order, saved["generators"]["data_order"]), (run.dropout, saved["generators"]["dropout"]),
                          (run.augmentation, saved["generators"]["augmentation"])):
        stream.set_state(state)
    run.tech.load_state_dict(saved["techniques"])
    run.step, run.best_state, run.best_steps = saved["step"], saved["best_state"], saved["best_steps"]
    run.history = [EpochRecord(**e) for e in saved["history"]]


def _autograd_backward(net: StackedMLP, runs: list[_Run], logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The gradient through autograd (networks with normalization layers); per-run data losses [R]."""
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
    return torch.stack(data_losses)


def _inputs(data: DeviceData, batch: torch.Tensor, run: _Run) -> torch.Tensor:
    x = data.x_train.index_select(0, batch)
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
