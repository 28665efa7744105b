"""CutMix (Yun et al. 2019, "CutMix: Regularization Strategy to Train Strong Classifiers with
Localizable Features"): each step pastes a rectangle of another image of the batch into each
image, and mixes the labels in proportion to the pixels: lam = 1 - (box area)/(H*W). As the
paper's code: lam0 ~ Beta(alpha, alpha) once per batch, the box (H*sqrt(1-lam0)) x (W*sqrt(1-lam0))
centred on a uniform pixel and cut at the image's edges, lam recomputed from the box that remains,
partners a random permutation of the batch. The objective and what is recorded are mixup's
(techniques/mixup.py). Refused where the network does not see images as images (models/catalog.py).
Declared without torch in catalog.py.
"""

from __future__ import annotations

import math

import torch

from reglab.techniques.hooks import Context
from reglab.techniques.mixup import Mixup, beta


def box(lam: float, image_shape: tuple[int, int], cy: int, cx: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the pasted rectangle, as the paper's rand_bbox."""
    h, w = image_shape
    cut = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(h * cut), int(w * cut)
    return (min(max(cy - cut_h // 2, 0), h), min(max(cy + cut_h // 2, 0), h),
            min(max(cx - cut_w // 2, 0), w), min(max(cx + cut_w // 2, 0), w))


class CutMix(Mixup):
    def transform_batch(self, x: torch.Tensor, y: torch.Tensor, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = ctx.image_shape
        lam = beta(self.alpha, self.generator, x.device)
        order = torch.randperm(x.shape[0], generator=self.generator, device=x.device)
        centre = torch.randint(0, h * w, (), generator=self.generator, device=x.device).item()
        top, bottom, left, right = box(lam, (h, w), centre // w, centre % w)
        images = x.view(-1, h, w).clone()
        images[:, top:bottom, left:right] = x.view(-1, h, w)[order, top:bottom, left:right]
        self.mixed = (1.0 - (bottom - top) * (right - left) / (h * w), y[order])
        return images.view_as(x), y
