"""Figures of sweeps: a metric against the swept value for one factor, heatmaps for two.

One-factor: accuracy (training, validation, test) and loss (training, validation) against the
value, log axis for log ranges, mean with a 95% band over seeds that stays in range (the intervals
of analysis/sweeps.py), the recommended point marked, the one-SE band's bound drawn on the panel of
the choice metric and the regimes shaded. Two factors: validation accuracy and the generalisation gap per cell, the best
cell boxed; sweeps with the same two factors side by side (lr-and-decay's Adam + L2 | AdamW).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from reglab.analysis.sweeps import GOOD, MIN_SEEDS_ONE_SE, ONE_SE, OVERFITTING, UNDERFITTING, SweepAnalysis, _key
from reglab.report.figures import short
from reglab.report.sweep_text import factor_label, named_value, s, seeds_text, value_text

REGIME_COLOURS = {UNDERFITTING: "#fdd49e", GOOD: "#d9f0d3", OVERFITTING: "#c6dbef"}
LINES = {  # metric -> colour, style
    "train_accuracy": ("#1f77b4", "--"), "val_accuracy": ("#d62728", "-"), "test_accuracy": ("#555555", ":"),
    "train_loss": ("#1f77b4", "--"), "val_loss": ("#d62728", "-"),
}


def one_factor(sweep: SweepAnalysis, lang: str) -> Figure | None:
    factor = sweep.factors[0]
    points = [p for p in sweep.points if isinstance(p.values[factor], (int, float)) and p.stats]
    if len(sweep.factors) != 1 or len(points) < 2:
        return None
    x = np.array([float(p.values[factor]) for p in points])
    log = sweep.scales.get(factor) == "log" and bool(np.all(x > 0))
    positive = x[x > 0]
    # A list such as l2 = 0, 1e-5, 1e-4, 1e-3 (the reference at 0 beside a log range): linear near 0,
    # logarithmic above the smallest positive value, so that neither end is squashed.
    symlog = not log and x.min() == 0 and positive.size >= 2 and positive.max() >= 100 * positive.min()
    figure = Figure(figsize=(10.0, 3.9))
    axes = figure.subplots(1, 2)
    figure.subplots_adjust(left=0.07, right=0.98, top=0.80, bottom=0.16, wspace=0.22)
    panels = ((axes[0], ("train_accuracy", "val_accuracy", "test_accuracy"), 100.0, s(lang, "accuracy_axis")),
              (axes[1], ("train_loss", "val_loss"), 1.0, s(lang, "loss_axis")))
    chosen = sweep.point(sweep.chosen)
    for ax, metrics, scale, label in panels:
        if log:
            ax.set_xscale("log")
        elif symlog:
            ax.set_xscale("symlog", linthresh=float(positive.min()), linscale=0.5)
        edges = _edges(x, ax.xaxis.get_transform())
        for point, low, high in zip(points, edges[:-1], edges[1:]):
            if point.regime in REGIME_COLOURS:
                ax.axvspan(low, high, color=REGIME_COLOURS[point.regime], lw=0, zorder=0)
        for metric in metrics:
            colour, dash = LINES[metric]
            mean = np.array([_or_nan(p.stats.get(metric), "mean") for p in points]) * scale
            low = np.array([_or_nan(p.stats.get(metric), "low") for p in points]) * scale
            high = np.array([_or_nan(p.stats.get(metric), "high") for p in points]) * scale
            ax.plot(x, mean, dash, color=colour, marker="o", ms=3.5, lw=1.6, label=s(lang, metric))
            if np.any(np.isfinite(low)):
                ax.fill_between(x, low, high, color=colour, alpha=0.18, lw=0)
        if chosen is not None and sweep.decided:
            ax.axvline(float(chosen.values[factor]), color="black", lw=1.1, ls=(0, (4, 2)), zorder=3)
        best = sweep.point(sweep.best)
        if sweep.decided and best is not None and sweep.choose in metrics and sweep.choice.se:
            # The one-SE band's bound: every point whose mean lies on the good side of it is in the band.
            higher = sweep.choose == "val_accuracy"
            bound = (best.mean(sweep.choose) + (-1 if higher else 1) * sweep.choice.se) * scale
            ax.axhline(bound, color="#d62728", lw=0.9, ls=":", zorder=3)
            ax.annotate(s(lang, "se_line_acc" if higher else "se_line"), xy=(0.0, bound),
                        xycoords=("axes fraction", "data"), xytext=(3, -2), textcoords="offset points",
                        ha="left", va="top", fontsize=7.5, color="#d62728")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel(factor_label(factor, lang))
        ax.set_ylabel(label)
        ax.legend(loc="best", fontsize=8)
    if chosen is not None:
        axes[0].annotate(s(lang, "chosen_mark" if sweep.decided else "undecided_mark",
                           value=chosen.name.split("=", 1)[-1]),
                         xy=(float(chosen.values[factor]), 1.0), xycoords=("data", "axes fraction"),
                         # Not bold: IPAexGothic has none, and matplotlib logs its fallback (stray output
                         # in a notebook).
                         xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=8.5)
    handles = [Patch(color=REGIME_COLOURS[r], label=s(lang, r)) for r in (UNDERFITTING, GOOD, OVERFITTING)
               if any(p.regime == r for p in points)]
    key = ("sweep_title_undecided" if not sweep.decided else
           "sweep_title" if sweep.choice.rule == ONE_SE else "sweep_title_best")
    title = s(lang, key, name=short(sweep.name, 40), choose=s(lang, sweep.choose), n=_seeds(sweep),
              seeds=seeds_text(_seeds(sweep), lang), min=MIN_SEEDS_ONE_SE)
    figure.suptitle(title, x=0.07, y=0.97, ha="left", fontsize=11)
    if handles:
        figure.legend(handles=handles, loc="upper right", ncol=len(handles), bbox_to_anchor=(0.98, 0.925),
                      fontsize=8.5, frameon=False)
    return figure


def heatmaps(sweeps: list[SweepAnalysis], lang: str) -> Figure | None:
    """Two-factor sweeps side by side: validation accuracy on top, the generalisation gap below."""
    grids = [sw for sw in sweeps if len(sw.factors) == 2 and sw.points and sw.chosen is not None]
    if not grids:
        return None
    figure = Figure(figsize=(4.6 * len(grids) + 0.6, 7.6))
    axes = np.atleast_2d(figure.subplots(2, len(grids), squeeze=False))
    figure.subplots_adjust(left=0.12 if len(grids) == 1 else 0.08, right=0.97, top=0.90, bottom=0.09,
                           hspace=0.42, wspace=0.38)
    accuracy = [_matrix(sw, "val_accuracy") for sw in grids]
    gap = [_matrix(sw, "gap") for sw in grids]
    # One colour scale per row across sweeps, so that side by side reads as a comparison.
    for row, (mats, metric, cmap) in enumerate(((accuracy, "val_accuracy", "viridis"), (gap, "gap", "magma_r"))):
        values = np.concatenate([m[2].ravel() for m in mats])
        finite = values[np.isfinite(values)]
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        for column, (sweep, (rows, cols, matrix)) in enumerate(zip(grids, mats)):
            ax = axes[row, column]
            ax.grid(False)
            image = ax.imshow(matrix * 100, cmap=cmap, vmin=vmin * 100, vmax=vmax * 100, aspect="auto",
                              origin="lower")
            for (i, j), value in np.ndenumerate(matrix):
                if math.isfinite(value):
                    bright = (value - vmin) / ((vmax - vmin) or 1) > 0.6
                    dark = bright if cmap == "viridis" else not bright
                    ax.text(j, i, f"{value * 100:.1f}", ha="center", va="center", fontsize=7.5,
                            color="black" if dark else "white")
            best = sweep.point(sweep.chosen)
            if best is not None:
                i = rows.index(_key(best.values[sweep.factors[0]]))
                j = cols.index(_key(best.values[sweep.factors[1]]))
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="#00ff66" if cmap == "viridis"
                                       else "#0044ff", lw=2.6))
            ax.set_xticks(range(len(cols)), _tick_texts(sweep, 1, cols), rotation=30, fontsize=8)
            ax.set_yticks(range(len(rows)), _tick_texts(sweep, 0, rows), fontsize=8)
            ax.set_xlabel(factor_label(sweep.factors[1], lang))
            ax.set_ylabel(factor_label(sweep.factors[0], lang))
            ax.set_title(f"{short(sweep.name, 30)}: {s(lang, metric + '_cell')}", fontsize=9.5)
            colourbar = figure.colorbar(image, ax=ax, fraction=0.05, pad=0.03)
            colourbar.ax.tick_params(labelsize=7)
    figure.suptitle(s(lang, "heatmap_title", n=min(_seeds(sw) for sw in grids)), x=0.02, ha="left", fontsize=11)
    return figure


def _tick_texts(sweep: SweepAnalysis, index: int, axis: list[Any]) -> list[str]:
    factor = sweep.factors[index]
    texts = {_key(p.values[factor]): named_value(sweep, p, factor) for p in sweep.points}
    return [texts.get(v, value_text(v)) for v in axis]


def _matrix(sweep: SweepAnalysis, metric: str) -> tuple[list[Any], list[Any], np.ndarray]:
    rows, cols = sweep.axis(sweep.factors[0]), sweep.axis(sweep.factors[1])
    matrix = np.full((len(rows), len(cols)), np.nan)
    for point in sweep.points:
        mean = point.mean(metric)
        if mean is not None:
            matrix[rows.index(_key(point.values[sweep.factors[0]])), cols.index(_key(point.values[sweep.factors[1]]))] = mean
    return rows, cols, matrix


def _edges(x: np.ndarray, transform: Any) -> np.ndarray:
    """Boundaries halfway between neighbouring points where the axis draws them (in log space on a
    log axis), for shading."""
    t = transform.transform(x.astype(float).reshape(-1, 1)).ravel()
    mids = (t[:-1] + t[1:]) / 2
    first, last = t[0] - (mids[0] - t[0]), t[-1] + (t[-1] - mids[-1])
    edges = np.concatenate([[first], mids, [last]])
    return transform.inverted().transform(edges.reshape(-1, 1)).ravel()


def _or_nan(interval: Any, attribute: str) -> float:
    value = getattr(interval, attribute, None) if interval is not None else None
    return float("nan") if value is None else float(value)


def _seeds(sweep: SweepAnalysis) -> int:
    return max((len(p.per_seed.get("val_accuracy", {})) for p in sweep.points), default=0)
