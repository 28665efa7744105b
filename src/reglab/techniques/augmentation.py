"""Image data augmentation as one batched tensor operation on the device (airbench style: no
DataLoader, no per-image Python loop). Images arrive flattened, (B, H*W), float in [0, 1].

Conventions, in pixel coordinates (x to the right, y downwards, origin at the image centre):
- a positive angle turns the content counter-clockwise as displayed, as torchvision's `rotate`;
  +90 degrees equals `torch.rot90(img, 1, dims=(-2, -1))`;
- a positive translation moves the content right (dx) and down (dy);
- a factor > 1 enlarges the content about the image centre.

Names, parameters and descriptions are declared without torch in catalog.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from reglab.techniques.hooks import Context, Hooks

Augment = Callable[[Tensor, tuple[int, int], torch.Generator], Tensor]


def affine_theta(angle_deg: Tensor, factor: Tensor, dx: Tensor, dy: Tensor,
                 image_shape: tuple[int, int]) -> Tensor:
    """(B, 2, 3) matrices for `affine_grid`. dx, dy: translation as a fraction of W, H.

    affine_grid maps each OUTPUT position to the INPUT position it samples, so theta is the
    inverse of the forward transform out = A·in + t, i.e. in = A⁻¹(out - t). Normalised
    coordinates run over [-1, 1] in both axes, so for H != W the off-diagonal terms are rescaled
    by H/W and W/H to keep the rotation a rotation in pixels rather than a shear.
    """
    h, w = image_shape
    a = torch.deg2rad(angle_deg)
    cos, sin = torch.cos(a) / factor, torch.sin(a) / factor
    # Forward A = f·[[cos, sin], [-sin, cos]] (counter-clockwise on screen, y down); this is A⁻¹.
    inv = torch.stack([torch.stack([cos, -sin * h / w], -1), torch.stack([sin * w / h, cos], -1)], -2)
    t = torch.stack([2 * dx, 2 * dy], -1)  # fraction of the size -> normalised units (width 2)
    return torch.cat([inv, -(inv @ t.unsqueeze(-1))], -1)


def affine_matrices(batch: int, image_shape: tuple[int, int], params: dict[str, Any],
                    generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Tensor:
    """Draw one random transform per image. Always exactly one draw, rand(batch, 4), whatever
    parameters are zero, so the generator advances the same way for every setting."""
    u = 2 * torch.rand(batch, 4, generator=generator, device=generator.device, dtype=dtype) - 1
    shift = float(params.get("shift", 0.0))
    return affine_theta(u[:, 2] * float(params.get("rotation", 0.0)),
                        1 + u[:, 3] * float(params.get("scale", 0.0)),
                        u[:, 0] * shift, u[:, 1] * shift, image_shape)


def warp(x: Tensor, theta: Tensor, image_shape: tuple[int, int]) -> Tensor:
    """Apply one affine matrix per image: bilinear, zeros outside, align_corners=False (so
    pixel centres sit at ±(1 - 1/W) and a 90-degree turn of a square image maps centres onto
    centres exactly)."""
    h, w = image_shape
    images = x.reshape(-1, 1, h, w)
    grid = F.affine_grid(theta.to(x.dtype), [images.shape[0], 1, h, w], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False).reshape(x.shape)


def augment(x: Tensor, image_shape: tuple[int, int], params: dict[str, Any],
            generator: torch.Generator) -> Tensor:
    """Randomly shift, rotate and scale each image of x (B, H*W), add Gaussian noise, clamp.

    Cost: one affine_grid + one grid_sample for the whole batch (about 4 reads per output
    pixel) and, with noise, one randn of the batch's size; no host sync. Random order: the
    warp's rand(B, 4) first, then the noise's randn(B, H*W); a part that is off draws nothing.
    Missing keys count as 0 (off); the registry always passes all four.
    """
    warp_on = any(float(params.get(k, 0.0)) != 0 for k in ("shift", "rotation", "scale"))
    noise = float(params.get("noise", 0.0))
    if not warp_on and noise == 0:
        return x.clone()  # a new tensor, so callers may write into it, with x's exact values
    out = x
    if warp_on:
        out = warp(x, affine_matrices(x.shape[0], image_shape, params, generator, x.dtype), image_shape)
    if noise:
        out = out + noise * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    # Bilinear with zero padding already stays in [0, 1]; the clamp is for the noise.
    return out.clamp(0.0, 1.0)


class Augmentation(Hooks):
    """The runtime object: each training batch warped from the technique's own random stream."""

    def __init__(self, params: dict[str, Any]):
        self.params = params

    def transform_batch(self, x: Tensor, y: Tensor, ctx: Context) -> tuple[Tensor, Tensor]:
        return augment(x, ctx.image_shape, self.params, self.generator), y
