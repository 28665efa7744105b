"""Mixup and CutMix against their papers' code: the mixed batch and the objective, written as
Zhang et al.'s and Yun et al.'s training loops write them, for the same lam, partners and box;
lam's distribution against scipy's Beta; what a run records stays cross-entropy on the true labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from reglab.config import parse_study
from reglab.errors import ConfigError
from reglab.techniques.cutmix import CutMix, box
from reglab.techniques.hooks import Context
from reglab.techniques.mixup import Mixup, beta

CTX = Context((4, 5), 3)


def batch():
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, 20, generator=g), torch.tensor([0, 1, 2, 0, 1, 2])


def test_beta_draws_follow_scipys_beta():
    g = torch.Generator().manual_seed(1)
    draws = [beta(0.4, g, torch.device("cpu")) for _ in range(800)]
    assert stats.kstest(draws, stats.beta(0.4, 0.4).cdf).pvalue > 1e-3


def test_mixup_is_the_papers_training_step():
    hook = Mixup({"alpha": 0.2})
    hook.generator = torch.Generator().manual_seed(5)
    replay = Mixup({"alpha": 0.2})
    replay.generator = torch.Generator().manual_seed(5)
    x, y = batch()
    lam, index = replay.pair(x, y)  # the same draws, to write the paper's loop with
    mixed, labels = hook.transform_batch(x, y, CTX)
    # Zhang et al.'s code: mixed_x = lam * x + (1 - lam) * x[index, :]
    torch.testing.assert_close(mixed, lam * x + (1 - lam) * x[index, :])
    assert torch.equal(labels, y)  # what the engine records against: the batch's own labels
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(2))
    # ... = lam * criterion(pred, y_a) + (1 - lam) * criterion(pred, y_b); also soft-target cross-entropy.
    expected = lam * F.cross_entropy(logits, y) + (1 - lam) * F.cross_entropy(logits, y[index])
    torch.testing.assert_close(hook.objective(logits, labels, CTX), expected)
    soft = lam * F.one_hot(y, 3).float() + (1 - lam) * F.one_hot(y[index], 3).float()
    torch.testing.assert_close(hook.objective(logits, labels, CTX), F.cross_entropy(logits, soft))
    assert 0 < lam < 1 and not torch.equal(index, torch.arange(6))


def rand_bbox(size, lam, cx, cy):
    """Yun et al.'s rand_bbox (github.com/clovaai/CutMix-PyTorch, train.py) with its centre given."""
    W, H = size[2], size[3]
    cut_rat = np.sqrt(1.0 - lam)
    cut_w, cut_h = int(W * cut_rat), int(H * cut_rat)
    bbx1, bby1 = np.clip(cx - cut_w // 2, 0, W), np.clip(cy - cut_h // 2, 0, H)
    bbx2, bby2 = np.clip(cx + cut_w // 2, 0, W), np.clip(cy + cut_h // 2, 0, H)
    return bbx1, bby1, bbx2, bby2


@pytest.mark.parametrize("lam, cy, cx", [(0.3, 2, 2), (0.7, 0, 4), (0.05, 3, 0)])
def test_cutmix_box_is_the_papers(lam, cy, cx):
    # The paper's code calls dims 2 and 3 of input.size() W and H and cuts input[:, :, bbx1:bbx2,
    # bby1:bby2]: its "x" runs along dim 2 (rows), its "y" along dim 3 (columns).
    rows_from, cols_from, rows_to, cols_to = rand_bbox((1, 1, 4, 5), lam, cx=cy, cy=cx)
    assert box(lam, (4, 5), cy, cx) == (rows_from, rows_to, cols_from, cols_to)


def test_cutmix_pastes_the_partners_pixels_and_mixes_labels_by_area():
    hook = CutMix({"alpha": 1.0})
    hook.generator = torch.Generator().manual_seed(3)
    x, y = batch()
    mixed, labels = hook.transform_batch(x, y, CTX)
    images, source = mixed.view(6, 4, 5), x.view(6, 4, 5)
    changed = (images != source).any(0)
    lam, partners = hook.mixed
    # A rectangle of pixels came from the partners, the rest is the image's own; lam is the own share.
    rows, cols = changed.nonzero(as_tuple=True)
    if len(rows):
        top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        assert changed[top:bottom, left:right].all() and changed.sum() == (bottom - top) * (right - left)
    assert lam == pytest.approx(1 - changed.sum().item() / 20) and math.isfinite(lam)
    assert torch.equal(labels, y) and partners.shape == y.shape


def test_cutmix_only_on_a_cnn_and_one_objective_at_a_time():
    with pytest.raises(ConfigError, match="CutMix pastes a rectangle"):
        parse_study('[[variants]]\nname = "a"\ncutmix = true\n', "s.toml")
    from reglab.engine.core import Techniques

    with pytest.raises(ConfigError, match="label_smoothing and mixup both replace the objective"):
        Techniques(parse_study('[[variants]]\nname = "a"\nmixup = 0.2\nlabel_smoothing = 0.1\n').variants[0], 0.01)
