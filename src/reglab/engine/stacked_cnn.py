"""Weights of R CNNs of one architecture in stacked tensors, with one batched forward pass.

The convolutions of all runs are one grouped convolution: the runs' feature maps sit side by side
as R·C channels of one batch ([B, R·C, H, W]) and the stacked kernels [R, out, in, kh, kw] are
R groups of one conv2d. Max-pooling and batch norm work per channel, so they need nothing else
(BatchNorm2d's running statistics of the runs are one [R·C] vector). After the flattening the
dense head is batched products, as in the stacked MLP. The backward pass is autograd's
(engine/fast.py): the point of stacking a CNN is the GPU, where one grouped convolution replaces
R launches.

Dropout draws each run's masks from its own generator with the reference's shapes ([B, C, 1, 1]
for spatial dropout, [B, W] for dense), in the reference's order, so the runs see the very masks
the reference loop draws. Runs of a stack share the network's layer structure (the same layers
in the same places; rates may differ), which engine/fast.py's stack key guarantees.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from reglab.config import VariantSpec
from reglab.engine.stacked_mlp import evaluate_stack
from reglab.models.cnn import CNN
from reglab.techniques.dropout import SeededDropout, SeededSpatialDropout

EVAL_ROWS = 1 << 15  # rows x runs per evaluation chunk: bounds the feature maps' memory


class StackedCNN:
    hand_derived = False  # autograd differentiates the stacked forward pass

    def __init__(self, models: Sequence[CNN], variants: Sequence[VariantSpec], device: torch.device):
        self.runs = len(models)
        self.template = models[0]
        self.image_shape = models[0].image_shape
        names = [name for name, _ in models[0].named_parameters()]
        self.params = {name: torch.stack([dict(m.named_parameters())[name].detach() for m in models])
                       .to(device).requires_grad_(True) for name in names}
        buffers = [name for name, b in models[0].named_buffers() if b.is_floating_point()]
        self.buffers = {name: torch.stack([dict(m.named_buffers())[name] for m in models]).to(device)
                        for name in buffers}
        by_identity = {id(p): name for name, p in models[0].named_parameters()}
        self.kernel_names = [by_identity[id(k)] for k in models[0].regularized_kernels()]
        # Per dropout layer, each run's rate: on the host (whether to draw) and on the device.
        self.rates: dict[str, tuple[list[float], torch.Tensor, torch.Tensor]] = {}
        for name, module in models[0].named_modules():
            if isinstance(module, SeededDropout):  # SeededSpatialDropout too
                host = [m.get_submodule(name).rate for m in models]
                self.rates[name] = (host, torch.tensor(host, dtype=torch.float32, device=device),
                                    torch.tensor([1.0 / (1.0 - r) for r in host], dtype=torch.float32, device=device))

    # --- the stacked tensors, as engine/fast.py asks for them

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def sources(self, model: CNN) -> list[torch.Tensor]:
        """The stacked tensor behind each of model.parameters(), in that order (the same names)."""
        return [self.params[name] for name, _ in model.named_parameters()]

    def hidden_kernels(self) -> list[torch.Tensor]:
        """The stacked kernels penalties act on: conv kernels and hidden dense kernels, [R, ...]."""
        return [self.params[name].detach() for name in self.kernel_names]

    def hidden_gradients(self) -> list[torch.Tensor]:
        return [self.params[name].grad for name in self.kernel_names]

    def run_hidden_kernels(self, r: int) -> list[torch.Tensor]:
        return [self.params[name].detach()[r] for name in self.kernel_names]

    def _tensors(self) -> list[torch.Tensor]:
        return [p.detach() for p in self.params.values()] + list(self.buffers.values())

    def state(self, r: int) -> list[torch.Tensor]:
        return [t[r].clone() for t in self._tensors()]

    def restore(self, r: int, state: list[torch.Tensor]) -> None:
        for tensor, value in zip(self._tensors(), state, strict=True):
            tensor[r].copy_(value)

    def load_into(self, model: CNN, state: list[torch.Tensor], steps: int) -> None:
        """Write a run's slices (from state()) into its own plain model."""
        targets = [p for _, p in model.named_parameters()] + [
            b for _, b in model.named_buffers() if b.is_floating_point()]
        with torch.no_grad():
            for target, value in zip(targets, state, strict=True):
                target.copy_(value)
            for module in model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.num_batches_tracked.fill_(steps)

    # --- the forward pass

    def forward(self, x: torch.Tensor, training: bool, dropout: Sequence[torch.Generator | None] = ()) -> torch.Tensor:
        """x: [B, H*W] shared by every run, or [R, B, H*W]. Returns logits [R, B, classes]."""
        R, (height, width) = self.runs, self.image_shape
        if x.dim() == 2:  # one input channel per run: the shared images repeated as R channels
            h = x.view(-1, 1, height, width).expand(-1, R, height, width)
        else:
            h = x.transpose(0, 1).reshape(-1, R, height, width)
        for index, module in enumerate(self.template.features):
            h = self._feature_layer(f"features.{index}", module, h, training, dropout)
        h = h.reshape(h.shape[0], R, -1).transpose(0, 1)  # [R, B, C*H*W]: each run's flattening
        for index, module in enumerate(self.template.head):
            h = self._head_layer(f"head.{index}", module, h, training, dropout)
        return h

    def _feature_layer(self, name: str, module: nn.Module, h: torch.Tensor, training: bool,
                       dropout: Sequence[torch.Generator | None]) -> torch.Tensor:
        R = self.runs
        if isinstance(module, nn.Conv2d):
            w, b = self.params[f"{name}.weight"], self.params[f"{name}.bias"]
            return F.conv2d(h, w.reshape(-1, *w.shape[2:]), b.reshape(-1), padding=module.padding, groups=R)
        if isinstance(module, nn.BatchNorm2d):
            return F.batch_norm(h, self.buffers[f"{name}.running_mean"].view(-1),
                                self.buffers[f"{name}.running_var"].view(-1),
                                self.params[f"{name}.weight"].reshape(-1), self.params[f"{name}.bias"].reshape(-1),
                                training, module.momentum, module.eps)
        if isinstance(module, nn.MaxPool2d):
            return F.max_pool2d(h, module.kernel_size)
        if isinstance(module, SeededSpatialDropout):
            if not training:
                return h
            B, channels = h.shape[0], h.shape[1] // R
            mask = self._mask(name, (B, channels, 1, 1), h, dropout)  # [R, B, C, 1, 1]
            return h * mask.transpose(0, 1).reshape(B, R * channels, 1, 1)
        return module(h)  # the activation, elementwise

    def _head_layer(self, name: str, module: nn.Module, h: torch.Tensor, training: bool,
                    dropout: Sequence[torch.Generator | None]) -> torch.Tensor:
        if isinstance(module, nn.Linear):
            w, b = self.params[f"{name}.weight"], self.params[f"{name}.bias"]
            return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        if isinstance(module, nn.BatchNorm1d):
            R, B, W = h.shape  # the runs side by side as R*W features of one batch
            flat = F.batch_norm(h.transpose(0, 1).reshape(B, R * W), self.buffers[f"{name}.running_mean"].view(-1),
                                self.buffers[f"{name}.running_var"].view(-1),
                                self.params[f"{name}.weight"].reshape(-1), self.params[f"{name}.bias"].reshape(-1),
                                training, module.momentum, module.eps)
            return flat.view(B, R, W).transpose(0, 1)
        if isinstance(module, SeededDropout):
            return h * self._mask(name, tuple(h.shape[1:]), h, dropout) if training else h
        return module(h)

    def _mask(self, name: str, shape: tuple[int, ...], like: torch.Tensor,
              generators: Sequence[torch.Generator | None]) -> torch.Tensor:
        """Each run's dropout mask of the reference's `shape`, scaled by 1 / (1 - rate): [R, *shape]."""
        host, rates, scales = self.rates[name]
        R = self.runs
        drawing = [r for r, gen in enumerate(generators) if gen is not None and host[r] > 0]
        noise = (torch.empty if len(drawing) == R else torch.ones)((R, *shape), device=like.device, dtype=like.dtype)
        for r in drawing:
            torch.rand(shape, generator=generators[r], device=like.device, dtype=like.dtype, out=noise[r])
        ones = (1,) * len(shape)
        return noise.ge_(rates.view(R, *ones)).mul_(scales.view(R, *ones))

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
        return evaluate_stack(self, x, y, EVAL_ROWS)
