"""Weights of R MLPs of one architecture in stacked tensors ([R, out, in] per layer), with one
batched forward pass for all of them, and for the networks that need nothing else (Linear layers,
an activation, dropout) a backward pass derived by hand.

When every run of the stack sees the same batch (same seed, no augmentation), the first layer —
most of the arithmetic — is a single wide matrix product; otherwise batched ones.

The hand-derived backward pass: three matrix products per layer written into gradient buffers
that live as long as the stack, the activation's derivative through the very ATen formula autograd
uses, and nothing else per step. On the CPU that is what makes a single run fast (autograd's
bookkeeping, allocations and broadcasts cost a fifth of a step of the tutorial's model:
benchmarks/README.md); on CUDA its fixed buffers are what a captured graph replays into.
Networks with batch or layer normalization go through autograd (engine/fast.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from reglab.config import VariantSpec
from reglab.models.mlp import MLP
from reglab.techniques.dropout import SeededDropout
from reglab.techniques import registry
from reglab.techniques.soft_targets import loss_gradient  # noqa: F401  (the hand-derived objective; imported from here by tests)

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
        # After the activation when the layer before the first norm is not the Linear (the stack key
        # gives every run the same layer structure).
        layers = list(models[0].layers)
        first_norm = next((i for i, m in enumerate(layers) if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm))), None)
        self.norm_after = first_norm is not None and not isinstance(layers[first_norm - 1], nn.Linear)
        self.activation = registry.lookup("activation", variants[0].activation.name).build(
            dict(variants[0].activation.params))
        # Kept on the host too: deciding whether to draw must not wait on the GPU.
        self.host_rates = [_dropout_rates(m) for m in models]  # [R][hidden]
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

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
        return evaluate_stack(self, x, y, EVAL_ROWS)

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


def _dropout_rates(model: MLP) -> list[float]:
    """The rate of the dropout layer in each hidden block of `model` (0 where it has none)."""
    rates: list[float] = []
    for module in model.layers:
        if isinstance(module, nn.Linear):
            rates.append(0.0)
        elif isinstance(module, SeededDropout):
            rates[-1] = module.rate
    return rates[:-1]  # the output layer has no block


@torch.no_grad()
def evaluate_stack(stack, x: torch.Tensor, y: torch.Tensor, eval_rows: int) -> tuple[list[float], list[float]]:
    """Per-run mean cross-entropy and accuracy of a stack (its `runs` and `forward(x, training)`),
    evaluation mode, on inputs every run shares; about `eval_rows` rows x runs per chunk."""
    rows = max(256, eval_rows // stack.runs)
    loss_sum = torch.zeros(stack.runs, device=x.device)
    correct = torch.zeros(stack.runs, device=x.device, dtype=torch.int64)
    for start in range(0, x.shape[0], rows):
        logits = stack.forward(x[start:start + rows], False)
        target = y[start:start + rows]
        losses = F.cross_entropy(logits.transpose(1, 2), target.expand(stack.runs, -1), reduction="none")
        loss_sum += losses.sum(-1)
        correct += (logits.argmax(-1) == target).sum(-1)
    count = x.shape[0]
    return [v / count for v in loss_sum.tolist()], [c / count for c in correct.tolist()]
