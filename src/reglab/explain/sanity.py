"""Checks of the explanations themselves, so that the report never shows maps that do not depend on
the model (Adebayo et al. 2018, "Sanity checks for saliency maps").

Model-parameter randomization (cascading): the network's parameterized layers are re-initialized
one at a time from the output down, and each stage's maps are compared with the trained network's
by Spearman's rank correlation of their absolute values, per image. An explanation that depends on
what the network learned must drift away from the trained maps as layers are randomized.
The rule reglab applies (ours; Adebayo et al. judge by eye and name no threshold): the method
*depends on the model* when the upper end of the 95% interval (over images) of the correlation
with the fully randomized network's maps is below RANDOMIZATION_LIMIT; *does not* when the lower
end is above it; otherwise *undecided*.

Deletion and insertion (Petsiuk et al. 2018, RISE): features are removed (set to 0) in order of
decreasing attribution in DELETION_STEPS equal steps and the target's softmax probability is
followed; the area under that curve is compared with the same deletion in a random order (paired
per image). A faithful map makes the probability fall sooner than chance: a smaller area. Insertion
starts from the all-zero input and adds the features in the same order: a larger area is faithful.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from reglab.analysis.statistics import t_interval

RANDOMIZATION_LIMIT = 0.5
DELETION_STEPS = 16

Explainer = Callable[[torch.nn.Module, np.ndarray, np.ndarray], np.ndarray]


def rank_correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's ρ of |a| and |b|, row by row (NaN for a constant row)."""
    out = np.full(len(a), np.nan)
    for i, (x, y) in enumerate(zip(np.abs(a), np.abs(b))):
        if np.ptp(x) > 0 and np.ptp(y) > 0:
            out[i] = stats.spearmanr(x, y).statistic
    return out


@dataclass(frozen=True)
class RandomizationStage:
    layers_randomized: int  # from the output down
    layer: str  # the last one randomized
    correlation: object  # Interval over images

    def to_json(self) -> dict[str, object]:
        return {"layers_randomized": self.layers_randomized, "layer": self.layer,
                "correlation": self.correlation.to_json()}


@dataclass(frozen=True)
class RandomizationTest:
    stages: list[RandomizationStage]
    verdict: str  # "depends_on_model", "independent_of_model" or "undecided"

    def to_json(self) -> dict[str, object]:
        return {"stages": [s.to_json() for s in self.stages], "verdict": self.verdict,
                "limit": RANDOMIZATION_LIMIT, "rule": "95% interval of Spearman's rho with the fully randomized "
                                                      "network's maps, over images, against the limit"}


def parameterized_layers(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """Leaf modules with parameters, in the order forward applies them (registration order)."""
    return [(name, m) for name, m in model.named_modules()
            if not list(m.children()) and any(True for _ in m.parameters(recurse=False))]


def randomization_test(model: torch.nn.Module, features: np.ndarray, targets: np.ndarray,
                       explain: Explainer, seed: int = 0) -> RandomizationTest:
    """The cascading randomization test of `explain` (model, features, targets) -> maps on `model`.
    The model is copied: the caller's weights are never touched."""
    import copy

    trained = explain(model, features, targets)
    randomized = copy.deepcopy(model).eval()
    layers = parameterized_layers(randomized)
    stages = []
    generator = torch.Generator().manual_seed(seed)
    for count, (name, layer) in enumerate(reversed(layers), start=1):
        with torch.no_grad():
            for p in layer.parameters(recurse=False):
                # A fresh draw at the trained parameter's own scale: Adebayo et al. re-initialize.
                scale = float(p.std()) if p.numel() > 1 and float(p.std()) > 0 else 1.0
                p.copy_(torch.randn(p.shape, generator=generator) * scale)
        rho = rank_correlations(trained, explain(randomized, features, targets))
        stages.append(RandomizationStage(count, name, t_interval(rho[np.isfinite(rho)], bounds=(-1.0, 1.0))))
    final = stages[-1].correlation if stages else None
    verdict = "undecided"
    if final is not None and final.high is not None:
        if final.high < RANDOMIZATION_LIMIT:
            verdict = "depends_on_model"
        elif final.low > RANDOMIZATION_LIMIT:
            verdict = "independent_of_model"
    return RandomizationTest(stages, verdict)


@dataclass(frozen=True)
class Faithfulness:
    deletion: object  # Interval of (AUC by attribution - AUC in random order), per image: < 0 is faithful
    insertion: object  # the same for insertion: > 0 is faithful
    deletion_curve: list[float]  # mean target probability after each step, attribution order
    random_deletion_curve: list[float]

    def to_json(self) -> dict[str, object]:
        return {"deletion_minus_random": self.deletion.to_json(), "insertion_minus_random": self.insertion.to_json(),
                "deletion_curve": self.deletion_curve, "random_deletion_curve": self.random_deletion_curve,
                "steps": DELETION_STEPS}


@torch.no_grad()
def _curve(model: torch.nn.Module, features: np.ndarray, targets: np.ndarray, order: np.ndarray,
           insert: bool) -> np.ndarray:
    """[N, steps + 1] target probabilities as features are deleted (or inserted) in `order` [N, D]."""
    n, d = features.shape
    x = torch.as_tensor(features, dtype=torch.float32)
    t = torch.as_tensor(targets, dtype=torch.int64)
    rows = torch.arange(n)[:, None]
    out = []
    for step in range(DELETION_STEPS + 1):
        k = round(d * step / DELETION_STEPS)
        mask = torch.zeros((n, d), dtype=torch.bool)
        mask[rows, torch.as_tensor(order[:, :k])] = True
        current = torch.where(mask, x, torch.zeros_like(x)) if insert else torch.where(mask, torch.zeros_like(x), x)
        out.append(torch.softmax(model(current), 1)[torch.arange(n), t].numpy())
    return np.stack(out, 1)


def faithfulness(model: torch.nn.Module, features: np.ndarray, targets: np.ndarray, maps: np.ndarray,
                 seed: int = 0) -> Faithfulness:
    """Deletion and insertion areas of `maps` against a random order, paired per image."""
    model.eval()
    by_attribution = np.argsort(-np.abs(maps), axis=1, kind="stable")
    rng = np.random.default_rng(seed)
    at_random = np.stack([rng.permutation(features.shape[1]) for _ in range(len(features))])
    area = {}
    for insert in (False, True):
        ours = _curve(model, features, targets, by_attribution, insert)
        chance = _curve(model, features, targets, at_random, insert)
        area[insert] = (np.trapezoid(ours, dx=1 / DELETION_STEPS, axis=1) - np.trapezoid(chance, dx=1 / DELETION_STEPS, axis=1),
                        ours.mean(0), chance.mean(0))
    deletion, insertion = area[False], area[True]
    return Faithfulness(t_interval(deletion[0], bounds=(-1.0, 1.0)), t_interval(insertion[0], bounds=(-1.0, 1.0)),
                        [float(v) for v in deletion[1]], [float(v) for v in deletion[2]])
