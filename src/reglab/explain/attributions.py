"""Attributions of a trained network's outputs to its input features, through Captum (the PyTorch
interpretability library; the optional extra `reglab[explain]`).

    maps = attribute(model, features, targets, "saliency", image_shape=(8, 8))   # float32 (N, D)

Methods (Captum's classes, with the settings each is commonly run with):
- saliency: |∂ logit_target / ∂ x| (Simonyan et al. 2014; captum.attr.Saliency, abs=True);
- integrated_gradients: (x - 0) · ∫₀¹ ∂ logit_target(αx) / ∂x dα on a 32-step Gauss-Legendre
  grid, baseline the all-zero image (Sundararajan et al. 2017; captum.attr.IntegratedGradients);
- smoothgrad: the mean saliency of 16 noisy copies, noise σ = 15% of the input's range (Smilkov et
  al. 2017; captum.attr.NoiseTunnel over Saliency), drawn from a generator seeded by the caller so
  that a stored map is reproducible;
- occlusion: the fall of the target logit when a square patch is set to 0 (Zeiler & Fergus 2014;
  captum.attr.Occlusion), patch side a quarter of the image's, stride half the patch. It sees the
  features as an image; for a CNN, the classic view.

Every method explains the logit of `targets` (the true class, by the callers here), in eval mode.
"""

from __future__ import annotations

import numpy as np
import torch

from reglab.errors import ConfigError

METHODS = ("saliency", "integrated_gradients", "smoothgrad", "occlusion")
IG_STEPS = 32
SMOOTHGRAD_SAMPLES = 16
SMOOTHGRAD_NOISE = 0.15
CHUNK = 256  # images per Captum call: bounds memory (integrated gradients expands each by IG_STEPS)


def captum_attr():
    """captum.attr, or a ConfigError that says how to get it."""
    try:
        import captum.attr as attr
    except ImportError:
        raise ConfigError("explanations", ["Captum is not installed, and reglab computes attributions with it. "
                                           "Fix: pip install 'reglab[explain]' (or pip install captum)."]) from None
    return attr


class _AsImage(torch.nn.Module):
    """The model, fed images (N, 1, H, W) instead of flat features: what Occlusion slides over."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images.flatten(1))


def attribute(model: torch.nn.Module, features: np.ndarray | torch.Tensor, targets: np.ndarray | torch.Tensor,
              method: str, *, image_shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """float32 (N, D): the attribution of each feature of each row to its target's logit."""
    if method not in METHODS:
        raise ConfigError("--method", [f"{method!r} is not an attribution method. Fix: one of {', '.join(METHODS)}."])
    attr = captum_attr()
    model.eval()
    x_all = torch.as_tensor(np.asarray(features, dtype=np.float32))
    t_all = torch.as_tensor(np.asarray(targets, dtype=np.int64))
    out = []
    for start in range(0, len(x_all), CHUNK):
        x, t = x_all[start:start + CHUNK], t_all[start:start + CHUNK]
        out.append(_one_chunk(attr, model, x, t, method, tuple(image_shape), seed + start))
    if not out:
        return np.zeros((0, x_all.shape[1] if x_all.ndim == 2 else 0), np.float32)
    return np.concatenate(out).astype(np.float32)


def _one_chunk(attr, model, x, t, method, image_shape, seed) -> np.ndarray:
    if method == "saliency":
        maps = attr.Saliency(model).attribute(x.clone().requires_grad_(True), target=t, abs=True)
    elif method == "integrated_gradients":
        maps = attr.IntegratedGradients(model).attribute(x, baselines=torch.zeros_like(x), target=t,
                                                         n_steps=IG_STEPS, method="gausslegendre")
    elif method == "smoothgrad":
        spread = float(x.max() - x.min()) or 1.0
        # NoiseTunnel draws with torch's global generator: a fork keeps the caller's stream untouched.
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            maps = attr.NoiseTunnel(attr.Saliency(model)).attribute(
                x.clone().requires_grad_(True), nt_type="smoothgrad", nt_samples=SMOOTHGRAD_SAMPLES,
                stdevs=SMOOTHGRAD_NOISE * spread, target=t, abs=True)
    else:
        images = x.view(-1, 1, *image_shape)
        patch = max(1, image_shape[0] // 4)
        stride = max(1, patch // 2)
        maps = attr.Occlusion(_AsImage(model)).attribute(images, sliding_window_shapes=(1, patch, patch),
                                                         strides=(1, stride, stride), target=t, baselines=0.0)
        maps = maps.flatten(1)
    return maps.detach().numpy()
