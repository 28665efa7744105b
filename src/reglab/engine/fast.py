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
from reglab.engine import step_graph
from reglab.engine.seeding import generator
from reglab.engine.step_graph import StepGraph
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

    index: int  # its place in the stack
    position: int  # its place in the caller's list of members
    variant: VariantSpec
    seed: int
    model: MLP  # carries the run's layer structure; its weights are filled in when the run ends
    tech: Techniques
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


def _optimizer_key(variant: VariantSpec, tech: Techniques, position: int) -> tuple:
    """Runs with equal keys take the same update at every step, so one torch.optim optimizer can
    update all of them at once. A schedule that watches the validation loss gives every run a
    learning rate of its own, and so a key of its own."""
    return (variant.optimizer, variant.schedule, position if hasattr(tech.schedule, "observe") else None)


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
            run.lr = lr
        _set_lr(self.optimizer, lr)


class _StackPenalty:
    """Every run's penalties at once: λ1·Σ|w| + λ2·Σw² over its hidden kernels, with per-run
    strengths (0 for a run without). The same formulas as techniques.penalties.Penalty, whose
    values the reference loop adds one run at a time (tests/engine/test_fast.py compares them)."""

    def __init__(self, runs: list[_Run], device: torch.device):
        def strength(run: _Run, kind: str) -> float:
            return sum(getattr(penalty, kind) for penalty in run.tech.penalties)

        l1 = [strength(run, "l1") for run in runs]
        l2 = [strength(run, "l2") for run in runs]
        self.any = any(l1) or any(l2)
        self.l1 = torch.tensor(l1, device=device) if any(l1) else None
        self.l2 = torch.tensor(l2, device=device) if any(l2) else None
        # Multiplying by 2 is exact: 2λ2 here is the alpha the reference's add_ takes.
        self.l2_twice = self.l2 * 2 if self.l2 is not None else None
        self.unpenalised = torch.tensor([not (a or b) for a, b in zip(l1, l2)], device=device)

    def add_gradient(self, kernels: Sequence[torch.Tensor], grads: Sequence[torch.Tensor] | None) -> torch.Tensor:
        """grads[i] += d(penalty)/d(kernels[i]) for every run (unless grads is None); per-run values [R]."""
        value = torch.zeros(kernels[0].shape[0], device=kernels[0].device)
        for i, w in enumerate(kernels):
            runs = w.shape[0]
            flat = w.reshape(runs, -1)
            if self.l1 is not None:
                sign = torch.sign(flat)
                value += self.l1 * torch.linalg.vecdot(flat, sign)
                if grads is not None:
                    grads[i].addcmul_(sign.view_as(w), self.l1.view(runs, 1, 1))
            if self.l2 is not None:
                value += self.l2 * torch.linalg.vecdot(flat, flat)
                if grads is not None:
                    grads[i].addcmul_(w, self.l2_twice.view(runs, 1, 1))
        # A run without penalties has none, even when its weights are no longer finite (0·inf).
        return value.masked_fill_(self.unpenalised, 0.0)


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

    def hidden_kernels(self) -> list[torch.Tensor]:
        """The stacked kernels the penalties act on: every layer's but the output's, [R, out, in]."""
        return [w.detach() for w in self.weights[:-1]]

    def hidden_gradients(self) -> list[torch.Tensor]:
        return [w.grad for w in self.weights[:-1]]

    def run_hidden_kernels(self, r: int) -> list[torch.Tensor]:
        """Run r's hidden kernels, as views into the stack (constraints change them in place)."""
        return [w.detach()[r] for w in self.weights[:-1]]

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
        drawing = [r for r, gen in enumerate(generators) if gen is not None and self.host_rates[r][i] > 0]
        # 1 keeps every unit: runs without dropout here, or finished.
        noise = (torch.empty if len(drawing) == R else torch.ones)((R, B, W), device=h.device, dtype=h.dtype)
        for r in drawing:
            # The reference draws rand(x.shape) from the run's own generator: the same numbers here.
            torch.rand((B, W), generator=generators[r], device=h.device, dtype=h.dtype, out=noise[r])
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
    techniques = [Techniques(v, v.optimizer["lr"]) for v in variants]
    # Runs that share an optimizer group sit side by side in the stack (a stable order: the same
    # members always stack the same way, so a stack trained again rounds the same).
    keys = [_optimizer_key(v, t, position) for position, (v, t) in enumerate(zip(variants, techniques))]
    first_seen = {key: i for i, key in reversed(list(enumerate(keys)))}
    order = sorted(range(len(members)), key=lambda position: first_seen[keys[position]])
    models = _initial_models(data, [members[p] for p in order])
    net = StackedMLP(models, [variants[p] for p in order], device)
    runs = []
    for index, (position, model) in enumerate(zip(order, models)):
        variant, seed = members[position]
        runs.append(_Run(index, position, variant, seed, model, techniques[position],
                         generator(seed, "dropout", device), generator(seed, "augmentation", device)))
    members_of: dict[tuple, list[_Run]] = {}
    for run in runs:
        members_of.setdefault(keys[run.position], []).append(run)
    groups = [_OptimizerGroup.build(group, net.sources(models[0])) for group in members_of.values()]
    if net.hand_derived:
        for group in groups:
            group.attach_gradients()  # the gradient buffers live as long as the stack
    penalty = _StackPenalty(runs, device)
    hooked = [run for run in runs if run.tech.before_step or run.tech.after_step]

    # One data-order stream per seed: every run of that seed draws the very same permutations.
    seeds = sorted({seed for _, seed in members})
    orders = {seed: generator(seed, "data_order") for seed in seeds}
    seed_row = torch.tensor([seeds.index(run.seed) for run in runs], device=device)
    augmented = [run for run in runs if run.tech.augment is not None]
    n, batch_size = data.x_train.shape[0], variants[0].batch_size
    shared_input = len(seeds) == 1 and not augmented
    smoothing = (torch.tensor([run.tech.label_smoothing for run in runs], dtype=torch.float32, device=device)
                 if any(run.tech.label_smoothing for run in runs) else None)
    sums = loss_sums, penalty_sums, correct = (torch.zeros(len(runs), device=device),
                                               torch.zeros(len(runs), device=device),
                                               torch.zeros(len(runs), device=device, dtype=torch.int64))

    def compute_gradients(rows: torch.Tensor, generators: Sequence[torch.Generator | None]) -> None:
        """A step up to the optimizers: the batch of each run's rows [R or 1, B], the gradient of
        every run's objective in the stacked .grad tensors, the epoch's running sums."""
        x, y = _batch(data, rows, augmented, shared_input, net.runs)
        if net.hand_derived:
            logits, tape = net.forward_for_backward(x, generators)
            data_losses, d_logits = _loss_gradient(logits, y, smoothing)
            net.backward(d_logits, tape)
        else:
            logits = net.forward(x, True, generators)
            data_losses = _autograd_backward(net, runs, logits, y)
            for group in groups:
                group.attach_gradients()
        with torch.no_grad():
            if penalty.any:
                penalty_sums.add_(penalty.add_gradient(net.hidden_kernels(), net.hidden_gradients()) * y.shape[1])
            loss_sums.add_(data_losses * y.shape[1])
            correct.add_((logits.argmax(-1) == y).sum(-1))

    # On CUDA the step is captured once and replayed (engine/step_graph.py). Not for autograd's
    # networks, augmentation (its own random draws) or a checkpointed run (generator states).
    graphs = step_graph.available(device) and net.hand_derived and not augmented and checkpoint is None
    graph: StepGraph | None = None
    first_epoch = 0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        first_epoch = saved["epoch"]
        started -= saved["seconds"]  # the run is charged for its earlier attempts too
        _restore_run(net, runs[0], groups[0], orders[seeds[0]], saved)

    for epoch in range(first_epoch, max(v.epochs for v in variants)):
        active = [run for run in runs if run.active]
        if not active:
            break
        epoch_started = time.perf_counter()
        for group in groups:
            group.set_lr(epoch)
        lr_at_start = {run.index: run.lr for run in active}
        # Each run's permutation of the examples, as rows of indices: [R, n].
        permutations = torch.stack([torch.randperm(n, generator=orders[seed]) for seed in seeds]).to(device)
        run_order = permutations if shared_input else permutations.index_select(0, seed_row)
        for total in sums:
            total.zero_()
        for start in range(0, n, batch_size):
            for group in groups:
                if group.per_step_schedule:
                    group.set_lr(epoch)
            rows = run_order[:, start:start + batch_size]
            if graph is None and graphs and start > 0 and rows.shape[1] == batch_size:
                # Captured after one eager step, which initialises what capture cannot (cuBLAS, ...).
                graph = StepGraph(compute_gradients, rows, [run.dropout for run in runs])
            if graph is not None and rows.shape[1] == batch_size:
                graph.replay(rows)
            else:
                compute_gradients(rows, [run.dropout if run.active else None for run in runs])
            with torch.no_grad():
                for run in hooked:
                    if run.active:
                        for hook in run.tech.before_step:
                            hook(net.run_hidden_kernels(run.index), run.lr)
                for group in groups:
                    if any(run.active for run in group.runs):
                        group.optimizer.step()
                for run in hooked:
                    if run.active:
                        for hook in run.tech.after_step:
                            hook(net.run_hidden_kernels(run.index), run.lr)
            for run in runs:  # the finished too: a group's schedule may be read off any of its runs
                run.step += 1
        val_losses, val_accuracies = _evaluate_stack(net, data.x_val, data.y_val)
        seconds = (time.perf_counter() - epoch_started) / len(active)
        with torch.no_grad():
            end_penalties = penalty.add_gradient(net.hidden_kernels(), None) if penalty.any else penalty_sums
        # .tolist() syncs with the GPU: once per epoch.
        loss_list, correct_list = loss_sums.tolist(), correct.tolist()
        penalty_list, end_penalty_list = penalty_sums.tolist(), end_penalties.tolist()
        for run in active:
            record = EpochRecord(
                epoch=epoch, train_loss=loss_list[run.index] / n, train_accuracy=correct_list[run.index] / n,
                val_loss=val_losses[run.index], val_accuracy=val_accuracies[run.index], lr=lr_at_start[run.index],
                seconds=seconds, train_penalty=penalty_list[run.index] / n, penalty=end_penalty_list[run.index],
            )
            run.history.append(record)
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


def _initial_models(data: DeviceData, members: Sequence[tuple[VariantSpec, int]]) -> list[MLP]:
    """Each member's model on the data's device, with the weights the reference loop starts from.
    Variants with the same init_key() start from the same weights for a seed: those are drawn once
    (on the CPU, where drawing them costs more than the whole step of a stack) and copied."""
    device = data.x_train.device
    drawn: dict[tuple, MLP] = {}
    models = []
    for variant, seed in members:
        key = (variant.init_key(), seed)
        first = drawn.get(key)
        if first is None:
            model = drawn[key] = build_mlp(variant, data.input_dim, data.classes, generator(seed, "init")).to(device)
        else:
            # Same architecture and init in one stack: same tensors in the same order, copied on the device.
            model = build_mlp(variant, data.input_dim, data.classes, None).to_empty(device=device)
            with torch.no_grad():
                for target, source in zip(model.state_dict().values(), first.state_dict().values(), strict=True):
                    target.copy_(source)
        models.append(model)
    return models


def _batch(data: DeviceData, rows: torch.Tensor, augmented: list[_Run], shared_input: bool,
           runs: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The step's inputs and labels from each run's rows of indices [R or 1, B]: x [B, in] when
    every run sees the same batch, else [R, B, in] gathered at once; y [R, B]."""
    if shared_input:
        x, y = data.training_batch(rows[0])
        return x, y.expand(runs, -1)
    flat = rows.reshape(-1)
    x = data.x_train.index_select(0, flat).view(runs, rows.shape[1], -1)
    y = data.y_train.index_select(0, flat).view(runs, rows.shape[1])
    for run in augmented:  # as the reference: augmented from the run's own generator
        x[run.index] = run.tech.augment(x[run.index], data.image_shape, run.augmentation)
    return x, y


def _run_state(net: StackedMLP, run: _Run, group: _OptimizerGroup, order: torch.Generator, epoch: int,
               started: float) -> dict:
    """A single-run stack's checkpoint: everything the next epoch depends on (see engine/checkpoint.py)."""
    return {
        "epoch": epoch + 1, "step": run.step, "seconds": time.perf_counter() - started,
        "history": [asdict(e) for e in run.history], "stack": net.state(run.index),
        "optimizer": group.optimizer.state_dict(),
        "generators": {"data_order": order.get_state(), "dropout": run.dropout.get_state(),
                       "augmentation": run.augmentation.get_state()},
        "techniques": run.tech.state_dict(), "best_state": run.best_state, "best_steps": run.best_steps,
    }


def _restore_run(net: StackedMLP, run: _Run, group: _OptimizerGroup, order: torch.Generator, saved: dict) -> None:
    net.restore(run.index, saved["stack"])
    group.optimizer.load_state_dict(saved["optimizer"])
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
