"""The learning-rate range test (Smith 2015, "Cyclical learning rates"; fastai's `lr_find`).

The rate grows exponentially from `start` to `end` over mini-batches of the training split, on a
copy of the model (the caller's weights are never touched), while an exponentially smoothed,
bias-corrected loss is recorded; the test stops once that loss exceeds `diverge` times its
minimum (or is not finite). Several rules suggest a rate from the curve, and none is always right:

- steepest: where the smoothed loss falls fastest per decade of rate (fastai's `steep`);
- minimum/10: a tenth of the rate at the lowest smoothed loss (fastai's `minimum`, Smith's advice
  to stay below where the loss bottoms out);
- valley: fastai's `valley` (fastai/callback/schedule.py), exactly: the longest strictly
  decreasing subsequence of the smoothed loss is found (O(n^2)); with `end` the first index where
  it is longest and `length` its length, fastai takes `start = end - length` (index arithmetic,
  not the subsequence's first point: a subsequence that winds through the flat start of the curve
  does not drag the suggestion there) and suggests index start + int(third) + int(third / 2),
  third = (end - start) / 3: about half way down that stretch.

As fastai's lr_find, every rule reads the points after the first tenth of the test's steps and
before its last five (the smoothing warms up; the end is where it diverges).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

RULES = ("steepest", "minimum/10", "valley")
DEFAULT_START, DEFAULT_END, DEFAULT_STEPS = 1e-7, 10.0, 100
# fastai smooths with β = 0.98, an average over about 50 steps: on its 100-step test that is four
# decades of rate, and its minimum trailed the raw loss's by more than a decade on digits. Here the
# average spans half a decade of rate, whatever the number of steps: β = 1 - 1/(steps per half decade).
SMOOTHING_DECADES = 0.5
DIVERGE = 4.0  # fastai stops at 4x the best smoothed loss
SKIP_END = 5  # fastai's lr_find: recorder.lrs[num_it // 10 : -5]


@dataclass
class RangeTest:
    lrs: list[float]
    losses: list[float]  # the raw mini-batch losses
    smoothed: list[float]
    stop: str  # "diverged" (loss above DIVERGE x its minimum, or not finite) or "end" (reached `end`)
    suggestions: dict[str, float] = field(default_factory=dict)
    smoothing: float = 0.9
    variant: Any = None  # the study's variant it tested (reglab.lr_find sets it)
    paths: list[Path] = field(default_factory=list)  # lr_find.json and the figures, when written

    def to_json(self) -> dict[str, Any]:
        return {"lrs": self.lrs, "losses": [x if math.isfinite(x) else None for x in self.losses],
                "smoothed": [x if math.isfinite(x) else None for x in self.smoothed], "stop": self.stop,
                "suggestions": self.suggestions,
                "rules": {"steepest": "most negative slope of the smoothed loss against log10(lr)",
                          "minimum/10": "the rate at the lowest smoothed loss, divided by 10",
                          "valley": "fastai's valley: start + int(third) + int(third / 2) along the longest "
                                    "decreasing stretch, start = its end - its length, third = (end - start) / 3"},
                "smoothing": self.smoothing, "diverge_factor": DIVERGE}


def range_test(model: torch.nn.Module, make_optimizer: Callable[[Any], torch.optim.Optimizer],
               x: torch.Tensor, y: torch.Tensor, *, batch_size: int, generator: torch.Generator,
               loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
               start: float = DEFAULT_START, end: float = DEFAULT_END, steps: int = DEFAULT_STEPS,
               smoothing: float | None = None, diverge: float = DIVERGE) -> RangeTest:
    """Runs the test on a deep copy of `model`; `make_optimizer(parameters)` builds the optimizer
    whose rate is set before every step. The batches come from `generator`: seeded, reproducible."""
    if not 0 < start < end or steps < 2:
        raise ValueError(f"the range test needs 0 < start < end and steps >= 2, got {start}, {end}, {steps}")
    trial = copy.deepcopy(model)
    trial.train()
    optimizer = make_optimizer(trial.parameters())
    ratio = (end / start) ** (1 / (steps - 1))
    if smoothing is None:
        smoothing = smoothing_for(start, end, steps)
    lrs, losses, smoothed = [], [], []
    average, best, stop = 0.0, math.inf, "end"
    batches: list[torch.Tensor] = []
    for step in range(steps):
        if not batches:  # a fresh permutation each pass over the training split
            batches = list(torch.randperm(x.shape[0], generator=generator).to(x.device).split(batch_size))[::-1]
        batch = batches.pop()
        lr = start * ratio ** step
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = loss_fn(trial(x.index_select(0, batch)), y.index_select(0, batch))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())  # one sync per step: the test is a hundred steps
        average = smoothing * average + (1 - smoothing) * value
        debiased = average / (1 - smoothing ** (step + 1))
        lrs.append(lr)
        losses.append(value)
        smoothed.append(debiased)
        if not math.isfinite(debiased) or debiased > diverge * best:
            stop = "diverged"
            break
        best = min(best, debiased)
    result = RangeTest(lrs, losses, smoothed, stop, smoothing=smoothing)
    result.suggestions = suggest(lrs, smoothed, steps)
    return result


def smoothing_for(start: float, end: float, steps: int) -> float:
    per_half_decade = (steps - 1) / math.log10(end / start) * SMOOTHING_DECADES
    return min(0.98, max(0.5, 1 - 1 / max(per_half_decade, 1.0)))


def suggest(lrs: list[float], smoothed: list[float], steps: int | None = None) -> dict[str, float]:
    """Each rule's rate, from fastai's window: after the first tenth of the `steps` asked for
    (default: the points given) and before the last SKIP_END, up to the first non-finite loss."""
    steps = len(smoothed) if steps is None else steps
    window = list(zip(lrs, smoothed))[steps // 10:len(smoothed) - SKIP_END]
    finite = next((i for i, (_, v) in enumerate(window) if not math.isfinite(v)), len(window))
    window = window[:finite]
    if len(window) < 3:
        return {}
    lr = np.array([a for a, _ in window])
    loss = np.array([b for _, b in window])
    slopes = np.gradient(loss, np.log10(lr))
    return {"steepest": float(lr[int(np.argmin(slopes))]),
            "minimum/10": float(lr[int(np.argmin(loss))] / 10),
            "valley": float(lr[valley_index(list(loss))])}


def valley_index(losses: list[float]) -> int:
    """fastai's `valley` (fastai/callback/schedule.py), line for line: the index it suggests."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n  # the longest strictly decreasing subsequence ending at each index
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    # fastai indexes with this directly; a stretch from index 0 gives -1 there, which Python
    # reads as the last point: here the first.
    return max(0, max_start + int(sections) + int(sections / 2))


# ------------------------------------------------------------------------------- for a study


def study_range_test(study: Any, variant_name: str | None, *, seed: int = 0, data_dir: Path | None = None,
                     allow_download: bool = True, device: str = "auto", start: float = DEFAULT_START,
                     end: float = DEFAULT_END, steps: int = DEFAULT_STEPS) -> tuple[Any, RangeTest]:
    """The range test of one variant of a study (default: its first) on the study's training split,
    with the variant's architecture, initial weights for `seed`, optimizer and batch size. Nothing
    is written: no run store is opened."""
    from reglab.data.prepared import PrepareContext, prepare_data
    from reglab.engine.seeding import generator
    from reglab.engine.devices import resolve_device
    from reglab.errors import ConfigError
    from reglab import models
    from reglab.techniques import registry

    names = [v.name for v in study.variants]
    if variant_name is None:
        variant = study.variants[0]
    elif variant_name in names:
        variant = study.variant(variant_name)
    else:
        import difflib
        close = difflib.get_close_matches(variant_name, names, n=1)
        raise ConfigError("--variant", [f"{variant_name!r} is not a variant of {study.name}"
                                        + (f" (did you mean {close[0]!r}?)" if close else "")
                                        + f". Its variants: {', '.join(names[:12])}{' ...' if len(names) > 12 else ''}"])
    torch_device = resolve_device(device)
    splits = prepare_data(study.data, PrepareContext(data_dir, allow_download)).splits
    x = torch.tensor(splits.x_train, dtype=torch.float32, device=torch_device)
    y = torch.tensor(splits.y_train, dtype=torch.int64, device=torch_device)
    model = models.build(variant, splits.image_shape, len(splits.class_names), generator(seed, "init")).to(torch_device)
    if hasattr(model, "set_dropout_generator"):
        model.set_dropout_generator(generator(seed, "dropout", torch_device))
    optimizer = registry.lookup("optimizer", variant.optimizer.name)
    params = dict(variant.optimizer.params)
    result = range_test(model, lambda p: optimizer.build(params, p), x, y, batch_size=variant.batch_size,
                        generator=generator(seed, "lr_find"), start=start, end=end, steps=steps)
    return variant, result


STRINGS = {
    "title": ("Learning-rate range test: {variant} ({optimizer}, batch {batch}, seed {seed})",
              "学習率レンジテスト: {variant}（{optimizer}、バッチ {batch}、シード {seed}）"),
    "x": ("learning rate (log scale)", "学習率（対数目盛）"),
    "y": ("training loss", "訓練損失"),
    "raw": ("loss per mini-batch", "ミニバッチごとの損失"),
    "smooth": ("smoothed (β = {beta})", "平滑化 (β = {beta})"),
    "current": ("the study's rate: {lr}", "スタディの学習率: {lr}"),
    "stop_diverged": ("stopped: the smoothed loss passed {k}x its minimum", "停止: 平滑化損失が最小値の {k} 倍を超えた"),
    "stop_end": ("reached the end of the range without diverging", "発散せずに範囲の終わりに到達"),
    "steepest": ("steepest descent", "最も急な下降"),
    "minimum/10": ("minimum / 10", "最小値 / 10"),
    "valley": ("valley (fastai)", "谷 (fastai)"),
    "note": ("Rules differ and none is always right (Smith 2015); try a few values near the suggestions.",
             "規則によって提案は異なり、常に正しい規則はありません (Smith 2015)。提案の近くをいくつか試してください。"),
}


def text(lang: str, key: str, **values: object) -> str:
    en, ja = STRINGS[key]
    return (ja if lang == "ja" else en).format(**values)


def figure_png(result: RangeTest, variant: Any, seed: int, lang: str) -> bytes:
    import io

    import matplotlib
    from matplotlib.figure import Figure

    from reglab.report.figures import DPI, style

    with matplotlib.rc_context(style(lang)):
        fig = Figure(figsize=(8.0, 4.6))
        ax = fig.subplots()
        fig.subplots_adjust(left=0.09, right=0.97, top=0.83, bottom=0.13)
        ax.set_xscale("log")
        ax.plot(result.lrs, result.losses, color="#bbbbbb", lw=0.8, label=text(lang, "raw"))
        ax.plot(result.lrs, result.smoothed, color="#1f77b4", lw=2, label=text(lang, "smooth", beta=f"{result.smoothing:.2f}"))
        finite = [v for v in result.smoothed if math.isfinite(v)]
        raw = [v for v in result.losses[:-1] if math.isfinite(v)]
        if finite:  # the diverging tail would squash the curve: show up to a little above the start
            top = max(finite[: max(len(finite) // 4, 1)] + [min(finite) * 1.5])
            ax.set_ylim(min(finite + raw) * 0.9 - 0.02 * top, top * 1.15)
        markers = {"steepest": ("#d62728", "v"), "minimum/10": ("#2ca02c", "o"), "valley": ("#9467bd", "s")}
        for rule, lr in result.suggestions.items():
            colour, marker = markers[rule]
            y = float(np.interp(math.log10(lr), np.log10(result.lrs), result.smoothed))
            ax.plot([lr], [y], marker=marker, color=colour, ms=9, ls="none",
                    label=f"{text(lang, rule)}: {lr:.1e}")
        current = variant.optimizer["lr"]
        ax.axvline(current, color="#555555", lw=1, ls=":", label=text(lang, "current", lr=f"{current:g}"))
        ax.set_xlabel(text(lang, "x"))
        ax.set_ylabel(text(lang, "y"))
        ax.legend(loc="lower left", fontsize=8.5)
        fig.suptitle(text(lang, "title", variant=variant.name, optimizer=variant.optimizer.name,
                          batch=variant.batch_size, seed=seed), x=0.09, ha="left", fontsize=11)
        stop = (text(lang, "stop_diverged", k=f"{DIVERGE:g}") if result.stop == "diverged" else text(lang, "stop_end"))
        fig.text(0.09, 0.855, f"{stop}.\n{text(lang, 'note')}", fontsize=8, color="#444444", va="bottom",
                 linespacing=1.4)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()


def write_range_test(out: Path, variant: Any, result: RangeTest, seed: int, langs: tuple[str, ...]) -> list[Path]:
    """lr_find.json and one figure per language (lr_find.png, lr_find-ja.png) into `out`."""
    from reglab.store.atomic import write_bytes, write_json

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "lr_find.json", {"variant": variant.name, "optimizer": variant.optimizer.as_dict(),
                                      "batch_size": variant.batch_size, "seed": seed, **result.to_json()})
    paths = [out / "lr_find.json"]
    for lang in langs:
        path = out / ("lr_find.png" if lang == langs[0] else f"lr_find-{lang}.png")
        write_bytes(path, figure_png(result, variant, seed, lang))
        paths.append(path)
    return paths
