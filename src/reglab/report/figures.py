"""The report's figures: matplotlib Figures drawn on the Agg canvas (no pyplot, no GUI state),
Japanese text in IPAexGothic from matplotlib-fontja.

A study can have a dozen variants, so each concept is one figure: small multiples with a panel per
variant, or one axis with a row per variant. Every function returns None when there is nothing to draw.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from io import BytesIO
from typing import Any

import matplotlib
import matplotlib_fontja  # noqa: F401  registers IPAexGothic with matplotlib's font manager
import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from reglab.analysis import trajectories as T
from reglab.analysis import weights as W
from reglab.analysis.analyze import Analysis, VariantAnalysis
from reglab.analysis.statistics import BETTER, INCONCLUSIVE, WORSE
from reglab.report.i18n import class_names, t

JAPANESE_FONT = "IPAexGothic"
DPI = 100
PANEL = (3.0, 2.35)  # inches per small-multiple panel
COLUMNS = 4
VERDICT_COLOURS = {BETTER: "#1a9850", WORSE: "#d73027"}


def style(lang: str) -> dict[str, Any]:
    # Font fallback per glyph (matplotlib >= 3.6): a Japanese variant name renders in an English report too.
    families = [JAPANESE_FONT, "DejaVu Sans"] if lang == "ja" else ["DejaVu Sans", JAPANESE_FONT]
    return {
        "font.family": families, "font.size": 9.5, "axes.titlesize": 10, "axes.labelsize": 9.5,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
        "legend.frameon": False, "image.interpolation": "nearest",
    }


def png(make: Callable[[Analysis, str], Figure | None], analysis: Analysis, lang: str) -> bytes | None:
    with matplotlib.rc_context(style(lang)):
        figure = make(analysis, lang)
        if figure is None:
            return None
        buffer = BytesIO()
        # zlib level 1: a quarter of the figures' CPU time went into level 6's compression, for
        # files 13% smaller (measured on the regularization study's 12 figures).
        figure.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
        return buffer.getvalue()


# ----------------------------------------------------------------------------------- helpers


def short(name: object, limit: int = 26) -> str:
    """A user's string as figure text: shortened, and with "$" escaped so that matplotlib shows it
    instead of reading mathtext (a name like "$x$" would otherwise render as maths, or fail)."""
    text = str(name)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def colours(analysis: Analysis) -> dict[str, Any]:
    names = [v.name for v in analysis.variants]
    if len(names) <= 10:
        palette = list(matplotlib.colormaps["tab10"].colors)
    else:  # tab20's strong colours first, its pale partners only past ten variants
        pairs = matplotlib.colormaps["tab20"].colors
        palette = list(pairs[0::2]) + list(pairs[1::2])
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def _grid(count: int, *, sharey: bool, labels: tuple[str, str], header: str = "") -> tuple[Figure, list[Any]]:
    """Small multiples, a panel per variant, with axis labels for the whole figure and room at the
    top for a legend or title. Laid out by hand: constrained layout measures every tick label of
    every panel and doubled the time of a 13-variant report."""
    columns = min(COLUMNS, count)
    rows = math.ceil(count / columns)
    width, height = PANEL[0] * columns + 0.7, PANEL[1] * rows + 1.1
    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(left=0.75 / width, right=1 - 0.15 / width, bottom=0.75 / height, top=1 - 0.75 / height,
                           wspace=0.22, hspace=0.62)
    axes = figure.subplots(rows, columns, sharey=sharey, squeeze=False).ravel().tolist()
    for unused in axes[count:]:
        unused.remove()
    figure.supxlabel(labels[0], y=0.15 / height, va="bottom")
    figure.supylabel(labels[1], x=0.1 / width, ha="left")
    if header:
        figure.suptitle(header, y=1 - 0.12 / height, va="top")
    return figure, axes[:count]


def _top_legend(figure: Figure, handles: list[Line2D]) -> None:
    height = figure.get_figheight()
    figure.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.08 / height), ncols=len(handles))


def _with_history(analysis: Analysis) -> list[VariantAnalysis]:
    return [v for v in analysis.variants if v.curves["val_loss"].n.size and v.curves["val_loss"].n.max() > 0]


def _onset_label(v: VariantAnalysis, lang: str) -> str:
    spread = v.onset
    if not spread.turned:
        return ""
    # As in the findings: "± 0" says nothing.
    epoch = f"{spread.mean:.0f}" + (f"±{spread.std:.0f}" if spread.std is not None and round(spread.std) > 0 else "")
    return t(lang, "fig_onset_short", epoch=epoch, turned=spread.turned, runs=spread.runs)


# ----------------------------------------------------------------------------------- curves


def learning_curves_loss(analysis: Analysis, lang: str) -> Figure | None:
    return _learning_curves(analysis, lang, "loss")


def learning_curves_accuracy(analysis: Analysis, lang: str) -> Figure | None:
    return _learning_curves(analysis, lang, "accuracy")


def _learning_curves(analysis: Analysis, lang: str, metric: str) -> Figure | None:
    variants = _with_history(analysis)
    if not variants:
        return None
    colour = colours(analysis)
    figure, axes = _grid(len(variants), sharey=True, labels=(
        t(lang, "fig_epoch"), t(lang, "fig_loss" if metric == "loss" else "fig_accuracy")))
    for ax, v in zip(axes, variants):
        for split, line in (("train", "--"), ("val", "-")):
            band = v.curves[f"{split}_{metric}"]
            x = np.arange(len(band.mean))
            ax.plot(x, band.mean, line, color=colour[v.name], lw=1.6)
            ax.fill_between(x, band.low, band.high, color=colour[v.name], alpha=0.18, lw=0)
        if v.onset.turned:
            if v.onset.first != v.onset.last:
                ax.axvspan(v.onset.first, v.onset.last, color="0.5", alpha=0.15, lw=0)
            ax.axvline(v.onset.mean, color="0.15", ls=":", lw=1.4)
        label = _onset_label(v, lang)
        ax.set_title(short(v.name) + (f"\n{label}" if label else "\n "), fontsize=9.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if metric == "loss":
        # Logarithmic: the first epochs' large losses would otherwise flatten the late epochs, where
        # overfitting shows.
        axes[0].set_yscale("log")
        axes[0].yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 3.0)))
        axes[0].yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        axes[0].yaxis.set_minor_locator(ticker.NullLocator())  # minor log ticks on a dozen panels cost seconds
    else:
        # Low enough that every curve's last epochs show; a slow start may leave the axis below.
        finals = [v.curves[k].mean[np.isfinite(v.curves[k].mean)][-1:] for v in variants
                  for k in ("train_accuracy", "val_accuracy")]
        lowest = min((float(f[0]) for f in finals if f.size), default=0.0)
        axes[0].set_ylim(max(0.0, lowest - 0.08), 1.0)
    _top_legend(figure, [Line2D([], [], color="0.3", ls="--", label=t(lang, "fig_train")),
                         Line2D([], [], color="0.3", ls="-", label=t(lang, "fig_validation")),
                         Line2D([], [], color="0.15", ls=":", label=t(lang, "fig_onset"))])
    return figure


def generalization_gap(analysis: Analysis, lang: str) -> Figure | None:
    variants = _with_history(analysis)
    if not variants:
        return None
    colour = colours(analysis)
    figure, axes = _grid(len(variants), sharey=True, labels=(t(lang, "fig_epoch"), t(lang, "fig_gap")))
    for ax, v in zip(axes, variants):
        base = analysis.variant(v.baseline) if v.baseline else None
        if base is not None and base.curves["loss_gap"].mean.size:
            ax.plot(np.arange(len(base.curves["loss_gap"].mean)), base.curves["loss_gap"].mean,
                    "--", color="0.55", lw=1.2)
        band = v.curves["loss_gap"]
        x = np.arange(len(band.mean))
        ax.plot(x, band.mean, color=colour[v.name], lw=1.6)
        ax.fill_between(x, band.low, band.high, color=colour[v.name], alpha=0.18, lw=0)
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_title(short(v.name), fontsize=9.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
    _top_legend(figure, [Line2D([], [], color="0.55", ls="--", label=t(lang, "fig_baseline"))])
    return figure


# ----------------------------------------------------------------------------------- accuracy


def test_accuracy(analysis: Analysis, lang: str) -> Figure | None:
    variants = [v for v in analysis.variants if v.metrics["test_accuracy"].n]
    if not variants:
        return None
    colour = colours(analysis)
    has_comparisons = bool(analysis.comparisons.get("test_accuracy"))
    figure = Figure(figsize=(11, 0.42 * len(variants) + 1.5), layout="constrained")
    axes = figure.subplots(1, 2 if has_comparisons else 1, sharey=True, squeeze=False).ravel()
    y = np.arange(len(variants))[::-1]
    left = axes[0]
    for row, v in zip(y, variants):
        acc = v.metrics["test_accuracy"].scaled(100)
        seeds = np.array(list(v.per_seed["test_accuracy"].values())) * 100
        jitter = np.linspace(-0.15, 0.15, len(seeds)) if len(seeds) > 1 else np.zeros(1)
        left.scatter(seeds, row + jitter, s=10, color=colour[v.name], alpha=0.55, lw=0)
        if acc.low is not None:
            left.errorbar(acc.mean, row, xerr=[[acc.mean - acc.low], [acc.high - acc.mean]], fmt="o",
                          color=colour[v.name], capsize=3, ms=6)
        else:
            left.plot(acc.mean, row, "o", color=colour[v.name], ms=6)
    # Marked in words: IPAexGothic has no bold weight.
    left.set_yticks(y, [short(v.name) + ("" if v.baseline else t(lang, "fig_baseline_marker"))
                        for v in variants])
    left.set_xlabel(t(lang, "fig_test_accuracy"))
    if has_comparisons:
        right = axes[1]
        right.axvline(0, color="0.3", lw=0.9)
        for row, v in zip(y, variants):
            c = analysis.comparison("test_accuracy", v.name)
            if c is None or c.difference.mean is None:
                continue
            d = c.difference.scaled(100)
            face = VERDICT_COLOURS.get(c.verdict, "0.55")
            edge = "0.3" if c.verdict == INCONCLUSIVE else face
            if d.low is not None:
                right.errorbar(d.mean, row, xerr=[[d.mean - d.low], [d.high - d.mean]], fmt="none",
                               ecolor=edge, capsize=3)
            right.plot(d.mean, row, "o", ms=7, mfc="white" if c.verdict == INCONCLUSIVE else face, mec=edge)
        right.set_xlabel(t(lang, "fig_difference"))
    return figure


# ----------------------------------------------------------------------------------- learning rate


def learning_rate(analysis: Analysis, lang: str) -> Figure | None:
    groups: dict[tuple[float, ...], list[str]] = {}
    for v in analysis.variants:
        if v.lr:
            groups.setdefault(tuple(v.lr), []).append(v.name)
    if not groups:
        return None
    colour = colours(analysis)
    figure = Figure(figsize=(11, 3.6 + 0.22 * len(groups)), layout="constrained")
    ax = figure.subplots()
    for i, (lr, names) in enumerate(groups.items()):
        label = textwrap.fill(", ".join(short(n) for n in names), 80)
        ax.plot(np.arange(len(lr)), lr, drawstyle="steps-post", marker="o", ms=3.5, lw=1.8,
                color=colour[names[0]], label=label, alpha=0.9, zorder=3 + i)
    values = [x for lr in groups for x in lr if x > 0]
    if values:  # a schedule multiplies the rate: a log axis shows each step at its true ratio
        ax.set_yscale("log")
        ax.set_ylim(min(values) / 2.5, max(values) * 2.5)
        distinct = sorted(set(values))
        if len(distinct) <= 8:  # label the rates the runs used rather than powers of ten
            ax.set_yticks(distinct, [f"{v:g}" for v in distinct])
            ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel(t(lang, "fig_epoch"))
    ax.set_ylabel(t(lang, "fig_lr"))
    ax.xaxis.get_major_locator().set_params(integer=True)
    figure.legend(loc="outside lower center", ncols=2 if len(groups) > 3 else 1, fontsize=8.5)
    return figure


# ----------------------------------------------------------------------------------- errors


def _focus(analysis: Analysis) -> VariantAnalysis | None:
    return analysis.variant(analysis.focus) if analysis.focus else None


def confusion(analysis: Analysis, lang: str) -> Figure | None:
    focus = _focus(analysis)
    if focus is None or focus.confusion is None:
        return None
    cm = focus.confusion.astype(float)
    share = 100 * cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    names = [short(n, 14) for n in shown_class_names(analysis, lang)]
    size = max(4.5, 0.42 * len(names) + 2.2)
    figure = Figure(figsize=(size + 1.2, size), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
    ax.grid(False)
    if len(names) <= 20:
        for (i, j), value in np.ndenumerate(share):
            if value >= 0.5:
                ax.text(j, i, f"{value:.0f}" if value >= 1 else "<1", ha="center", va="center", fontsize=8,
                        color="white" if value > 60 else "0.1")
    rotate = max(len(n) for n in names) > 2
    ax.set_xticks(range(len(names)), names, rotation=45 if rotate else 0, ha="right" if rotate else "center")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel(t(lang, "fig_predicted"))
    ax.set_ylabel(t(lang, "fig_true"))
    ax.set_title(t(lang, "fig_confusion_title", variant=short(focus.name, 40)))
    figure.colorbar(image, ax=ax, shrink=0.8)
    return figure


def shown_class_names(analysis: Analysis, lang: str) -> list[str]:
    return class_names(analysis.class_names, analysis.collected.data.get("dataset"), lang)


def per_class_f1(analysis: Analysis, lang: str) -> Figure | None:
    variants = [v for v in analysis.variants if v.per_class]
    if not variants or not analysis.class_names:
        return None
    f1 = np.array([v.per_class["f1"] for v in variants])
    names = [short(n, 14) for n in shown_class_names(analysis, lang)]
    figure = Figure(figsize=(max(7.0, 0.75 * len(names) + 3.0), 0.4 * len(variants) + 2.0), layout="constrained")
    ax = figure.subplots()
    low = float(np.floor(np.nanmin(f1) * 20) / 20)
    image = ax.imshow(f1, cmap="viridis", vmin=min(low, 0.95), vmax=1.0, aspect="auto")
    ax.grid(False)
    if len(names) <= 20:
        middle = (min(low, 0.95) + 1.0) / 2
        for (i, j), value in np.ndenumerate(f1):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7.5,
                    color="white" if value < middle else "0.1")
    rotate = max(len(n) for n in names) > 2
    ax.set_xticks(range(len(names)), names, rotation=45 if rotate else 0, ha="right" if rotate else "center")
    ax.set_yticks(range(len(variants)), [short(v.name) for v in variants])
    ax.set_title(t(lang, "fig_f1_title"))
    figure.colorbar(image, ax=ax, shrink=0.8)
    return figure


def gallery_indices(analysis: Analysis, limit: int = 20) -> tuple[int | None, list[int]]:
    """Misclassified test images of the focus variant's first seed, taking the most frequent
    confusions in turn so that the gallery shows the pairs of the table, then any others."""
    focus = _focus(analysis)
    labels = analysis.collected.test_labels
    if focus is None or not focus.predictions or labels is None:
        return None, []
    seed = min(focus.predictions)
    predicted = focus.predictions[seed]
    wrong = np.flatnonzero(predicted != labels)
    queues = [list(wrong[(labels[wrong] == p["true"]) & (predicted[wrong] == p["predicted"])])
              for p in analysis.confused_pairs()]
    chosen: list[int] = []
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(int(queue.pop(0)))
    chosen += [int(i) for i in wrong if i not in chosen][: limit - len(chosen)]
    return seed, chosen


def _pictures(analysis: Analysis) -> np.ndarray | None:
    """The test images, or None where the data are a table's rows (no picture to show)."""
    return None if analysis.collected.data.get("kind") == "table" else analysis.collected.test_images


def misclassified(analysis: Analysis, lang: str) -> Figure | None:
    seed, indices = gallery_indices(analysis)
    images = _pictures(analysis)
    if seed is None or not indices or images is None:
        return None
    return _image_grid(analysis, lang, indices, analysis.variant(analysis.focus).predictions[seed], 10)


def sample_predictions(analysis: Analysis, lang: str) -> Figure | None:
    focus = _focus(analysis)
    if focus is None or not focus.predictions or _pictures(analysis) is None:
        return None
    count = min(10, len(analysis.collected.test_labels))
    return _image_grid(analysis, lang, list(range(count)), focus.predictions[min(focus.predictions)], 5)


def _image_grid(analysis: Analysis, lang: str, indices: list[int], predicted: np.ndarray, columns: int) -> Figure:
    images, labels = analysis.collected.test_images, analysis.collected.test_labels
    names = shown_class_names(analysis, lang)
    rows = math.ceil(len(indices) / columns)
    width = 1.2 if columns == 10 else 1.7
    figure = Figure(figsize=(width * columns, (width + 0.5) * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, index in zip(axes, indices):
        ax.imshow(images[index], cmap="gray")
        true, guess = int(labels[index]), int(predicted[index])
        text = t(lang, "fig_label_pair", true=short(_name(names, true), 12), predicted=short(_name(names, guess), 12))
        ax.set_title(text, fontsize=8 if columns == 10 else 9.5, color="0.1" if true == guess else "#c0392b")
    return figure


def _name(names: list[str], index: int) -> str:
    return names[index] if 0 <= index < len(names) else str(index)


# ----------------------------------------------------------------------------------- weights


def layer_labels(v: VariantAnalysis, lang: str) -> dict[str, str]:
    """A CNN study's layer names, in layer order: "conv 1 (3×3×1×32)", "dense 1 (3136×128)",
    "output (128×10)", with each kernel's shape as Keras writes it (conv: height×width×input
    channels×filters; dense: inputs×outputs). An MLP in such a study is named the same way."""
    names = list(v.layer_samples)
    labels = {}
    for position, name in enumerate(names):
        shape = "×".join(str(d) for d in W.keras_shape(v.layer_samples[name]))
        kind, number = name.rsplit("_", 1)
        if position == len(names) - 1:
            labels[name] = t(lang, "fig_output_layer", shape=shape)
        else:
            key = {"conv2d": "fig_conv_layer", "rnn_input": "fig_rnn_input_layer", "rnn_state": "fig_rnn_state_layer"}
            labels[name] = t(lang, key.get(kind, "fig_dense_layer"), i=number, shape=shape)
    return labels


def weight_histograms(analysis: Analysis, lang: str) -> Figure | None:
    if analysis.per_layer:
        return _layer_histograms(analysis, lang)
    variants = [v for v in analysis.variants if v.name in analysis.histograms]
    if not variants:
        return None
    colour = colours(analysis)
    figure, axes = _grid(len(variants), sharey=True, labels=(t(lang, "fig_weight"), t(lang, "fig_count")),
                         header=t(lang, "fig_histogram_title"))
    edges = analysis.histogram_edges
    for ax, v in zip(axes, variants):
        ax.stairs(analysis.histograms[v.name], edges, fill=True, color=colour[v.name], alpha=0.8)
        ax.set_yscale("log")
        ax.yaxis.set_minor_locator(ticker.NullLocator())
        ax.set_ylim(bottom=0.8)
        share = v.hidden_sparsity.mean if v.hidden_sparsity and v.hidden_sparsity.mean is not None else None
        subtitle = t(lang, "fig_near_zero", share=f"{share * 100:.1f}") if share is not None else " "
        ax.set_title(f"{short(v.name)}\n{subtitle}", fontsize=9.5)
    return figure


def _layer_histograms(analysis: Analysis, lang: str) -> Figure | None:
    """A study with a CNN: a row per variant, a panel per layer (conv and dense kernels differ in
    scale, so pooled they hide each other). A layer of one name and shape has the same bins in
    every row, so a column compares variants."""
    variants = [v for v in analysis.variants if v.name in analysis.layer_histograms]
    if not variants:
        return None
    colour = colours(analysis)
    columns = max(len(analysis.layer_histograms[v.name]) for v in variants)
    width, height = PANEL[0] * columns + 1.6, PANEL[1] * len(variants) + 1.1
    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(left=1.55 / width, right=1 - 0.15 / width, bottom=0.75 / height, top=1 - 0.75 / height,
                           wspace=0.22, hspace=0.75)
    axes = figure.subplots(len(variants), columns, squeeze=False)
    for row, v in zip(axes, variants):
        labels = layer_labels(v, lang)
        counts = analysis.layer_histograms[v.name]
        for ax, (name, values) in zip(row, counts.items()):
            edges = analysis.layer_edges[(name, W.keras_shape(v.layer_samples[name]))]
            ax.stairs(values, edges, fill=True, color=colour[v.name], alpha=0.8)
            ax.set_yscale("log")
            ax.yaxis.set_minor_locator(ticker.NullLocator())
            ax.set_ylim(bottom=0.8)
            share = v.sparsity.get(name)
            subtitle = (t(lang, "fig_near_zero", share=f"{share.mean * 100:.1f}")
                        if share is not None and share.mean is not None else " ")
            ax.set_title(f"{labels[name]}\n{subtitle}", fontsize=9)
        for unused in row[len(counts):]:
            unused.remove()
        row[0].set_ylabel(short(v.name, 16), rotation=0, ha="right", va="center", fontsize=9.5, labelpad=12)
    figure.supxlabel(t(lang, "fig_weight"), y=0.15 / height, va="bottom")
    figure.supylabel(t(lang, "fig_count"), x=0.1 / width, ha="left")
    figure.suptitle(t(lang, "fig_histogram_title"), y=1 - 0.12 / height, va="top")
    return figure


def sparsity(analysis: Analysis, lang: str) -> Figure | None:
    variants = [v for v in analysis.variants if v.sparsity]
    if not variants:
        return None
    if analysis.per_layer:
        return _layer_sparsity(analysis, variants, lang)
    hidden = max(len(v.sparsity) for v in variants) - 1
    columns = [t(lang, "fig_hidden", i=i + 1) for i in range(hidden)] + [t(lang, "fig_output")]
    table = np.full((len(variants), len(columns)), np.nan)
    for row, v in enumerate(variants):
        shares = [s.mean for s in v.sparsity.values()]
        # Hidden layers from the left, the output layer in the last column, whatever the depth.
        table[row, : len(shares) - 1] = shares[:-1]
        table[row, -1] = shares[-1]
    figure = Figure(figsize=(max(6.0, 1.2 * len(columns) + 3.5), 0.4 * len(variants) + 1.8), layout="constrained")
    ax = figure.subplots()
    image = _share_table(ax, table * 100, columns, variants, max(10.0, np.nanmax(table * 100)))
    ax.set_title(t(lang, "fig_sparsity_title", threshold=f"{W.NEAR_ZERO:g}"))
    figure.colorbar(image, ax=ax, shrink=0.8)
    return figure


def _layer_sparsity(analysis: Analysis, variants: list[VariantAnalysis], lang: str) -> Figure:
    """A study with a CNN: one table per architecture (the same layers), its columns the layers
    named with their kernel shapes, so that a column never mixes a convolution with a dense layer."""
    groups: dict[tuple[str, ...], list[VariantAnalysis]] = {}
    for v in variants:
        labels = layer_labels(v, lang)
        groups.setdefault(tuple(labels.get(name, name) for name in v.sparsity), []).append(v)
    tables = {columns: np.array([[s.mean if s.mean is not None else np.nan for s in v.sparsity.values()]
                                 for v in members], dtype=float) * 100 for columns, members in groups.items()}
    top = max(10.0, max(float(np.nanmax(table)) if np.isfinite(table).any() else 0.0 for table in tables.values()))
    widest = max(len(columns) for columns in groups)
    figure = Figure(figsize=(max(6.0, 1.7 * widest + 3.5), 0.4 * len(variants) + 1.3 * len(groups) + 0.6),
                    layout="constrained")
    axes = figure.subplots(len(groups), 1, squeeze=False, height_ratios=[len(m) for m in groups.values()])[:, 0]
    for ax, (columns, members) in zip(axes, groups.items()):
        image = _share_table(ax, tables[columns], list(columns), members, top)
    figure.suptitle(t(lang, "fig_sparsity_title", threshold=f"{W.NEAR_ZERO:g}"))
    figure.colorbar(image, ax=list(axes), shrink=0.8)
    return figure


def _share_table(ax: Any, table: np.ndarray, columns: list[str], variants: list[VariantAnalysis], top: float) -> Any:
    """Near-zero shares (%) as a heat map with the numbers written in, rows the variants."""
    image = ax.imshow(np.ma.masked_invalid(table), cmap="Purples", vmin=0, vmax=top, aspect="auto")
    ax.grid(False)
    for (i, j), value in np.ndenumerate(table):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=8.5,
                    color="white" if value > 0.6 * top else "0.1")
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(variants)), [short(v.name) for v in variants])
    return image


def conv_filters(analysis: Analysis, lang: str) -> Figure | None:
    """Each CNN variant's first-layer filters (first seed) as small images, one row per variant:
    what the network looks for in the pixels. One symmetric colour scale per row (red +, blue −)."""
    variants = [v for v in analysis.variants if v.first_filters is not None]
    if not variants:
        return None
    columns = min(16, max(len(v.first_filters) for v in variants))
    rows = sum(-(-min(len(v.first_filters), 32) // columns) for v in variants)
    figure = Figure(figsize=(0.55 * columns + 1.6, 0.6 * rows + 0.8), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    row = 0
    for v in variants:
        filters = v.first_filters[:32]
        limit = float(np.abs(filters).max()) or 1.0
        for index in range(-(-len(filters) // columns) * columns):
            ax = axes[row + index // columns][index % columns]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if index < len(filters):
                ax.imshow(filters[index], cmap="RdBu_r", vmin=-limit, vmax=limit)
            else:
                ax.set_axis_off()
        axes[row][0].set_ylabel(short(v.name, 14), rotation=0, ha="right", va="center", fontsize=8)
        row += -(-len(filters) // columns)
    figure.suptitle(t(lang, "fig_filters_title"))
    return figure


def weight_norms(analysis: Analysis, lang: str) -> Figure | None:
    """The weight-decay lesson: per pair (a decoupled-decay variant and its L2 baseline), the
    hidden-weight norm over the epochs of both, and how far apart their final weights ended."""
    pairs = [(analysis.variant(name), analysis.variant(analysis.variant(name).baseline))
             for name in analysis.pair_distances if analysis.pair_distances[name]]
    pairs = [(v, b) for v, b in pairs if v is not None and b is not None
             and np.isfinite(v.curves["weight_norm"].mean).any() and np.isfinite(b.curves["weight_norm"].mean).any()]
    if not pairs:
        return None
    colour = colours(analysis)
    figure, axes = _grid(len(pairs), sharey=False, labels=(t(lang, "fig_epoch"), t(lang, "fig_weight_norm")),
                         header=t(lang, "fig_weight_norm_title"))
    for ax, (v, base) in zip(axes, pairs):
        for member, line, width in ((base, "-", 3.2), (v, "--", 1.6)):  # the baseline wide, so an equal line shows on it
            band = member.curves["weight_norm"]
            ax.plot(np.arange(len(band.mean)), band.mean, line, lw=width, color=colour[member.name],
                    alpha=0.55 if member is base else 1.0, label=short(member.name, 18))
        distance = float(np.mean(list(analysis.pair_distances[v.name].values())))
        ax.set_title(f"{short(v.name, 18)} / {short(base.name, 18)}\n"
                     + t(lang, "fig_distance", distance=f"{distance * 100:.2g}%"), fontsize=9)
        ax.legend(fontsize=8, loc="best")
        ax.xaxis.get_major_locator().set_params(integer=True)
    return figure


def pair_distance(analysis: Analysis, lang: str) -> Figure | None:
    """The weight-decay lesson over training: for each pair (a decoupled-decay variant and its L2
    baseline), the distance between the two runs' hidden weights at every epoch's end, relative
    to the baseline's norm, from their weight sketches: the mean over seeds and their range. One
    axis for every pair, so that the pair that stays on zero and the pair that parts show together."""
    pairs = {name: T.band_over_seeds(per_seed) for name, per_seed in analysis.pair_trajectories.items() if per_seed}
    pairs = {name: b for name, b in pairs.items() if np.isfinite(b.mean).any() and analysis.variant(name)}
    if not pairs or not analysis.sketch_buckets:
        return None
    colour = colours(analysis)
    figure = Figure(figsize=(8.5, 4.2 + 0.2 * len(pairs)), layout="constrained")
    ax = figure.subplots()
    for name, band in pairs.items():
        epochs = np.arange(len(band.mean))
        last = band.mean[np.isfinite(band.mean)][-1]
        label = t(lang, "fig_pair_label", variant=short(name, 20), baseline=short(analysis.variant(name).baseline, 20),
                  last=f"{last * 100:.2g}%")
        ax.fill_between(epochs, band.low * 100, band.high * 100, color=colour[name], alpha=0.18, lw=0)
        # Not clipped: a pair that stays at float rounding lies on the axis, and must still show.
        ax.plot(epochs, band.mean * 100, marker="o", ms=3, lw=1.8, color=colour[name], label=label, clip_on=False,
                zorder=3)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(t(lang, "fig_epoch"))
    ax.set_ylabel(t(lang, "fig_pair_distance"))
    ax.set_title(t(lang, "fig_pair_distance_title"))
    ax.xaxis.get_major_locator().set_params(integer=True)
    figure.legend(loc="outside lower center", ncols=1, fontsize=8.5)
    return figure


# The figures in the order the report shows them: file name -> drawing function.
FIGURES: dict[str, Callable[[Analysis, str], Figure | None]] = {
    "test_accuracy": test_accuracy,
    "learning_curves_loss": learning_curves_loss,
    "learning_curves_accuracy": learning_curves_accuracy,
    "generalization_gap": generalization_gap,
    "learning_rate": learning_rate,
    "confusion_matrix": confusion,
    "per_class_f1": per_class_f1,
    "misclassified": misclassified,
    "sample_predictions": sample_predictions,
    "sparsity": sparsity,
    "weight_histograms": weight_histograms,
    "conv_filters": conv_filters,
    "pair_distance": pair_distance,
    "weight_norms": weight_norms,
}


# ----------------------------------------------------------------------------------- all at once

# The figures are independent, and drawing them is most of a report's time (about 3 s of CPU for
# 13 variants against 1 s for imports, analysis and HTML together): on a machine with more than
# one core they are drawn in forked processes that inherit the analysis (nothing is pickled but
# the PNG bytes coming back). REGLAB_REPORT_WORKERS=1 draws them in this process.
MAX_WORKERS = 4
_SHARED: tuple[Analysis, str] | None = None


def render_all(analysis: Analysis, lang: str, workers: int | None = None) -> dict[str, bytes | None]:
    """Every figure of FIGURES as PNG bytes (None where there is nothing to draw), in FIGURES' order."""
    global _SHARED
    names = list(FIGURES)
    analysis = analysis.as_drawn()  # a large sweep's per-variant figures: its landmarks only
    workers = report_workers(len(names)) if workers is None else workers
    if workers > 1:
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor

        from reglab.child_processes import die_with_parent

        _SHARED = (analysis, lang)
        try:
            # Each worker dies with this process, even one killed with SIGKILL (child_processes.py).
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                     initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
                return dict(zip(names, pool.map(_render_shared, names)))
        except OSError:  # no process could be forked (limits, memory): draw them here
            pass
        finally:
            _SHARED = None
    return {name: png(FIGURES[name], analysis, lang) for name in names}


def report_workers(figures: int) -> int:
    import multiprocessing
    import os

    import threading

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1  # spawning would re-import everything and pickle the analysis: slower than drawing here
    if threading.active_count() > 1:
        return 1  # a fork copies one thread only: a lock another thread holds (a Jupyter kernel's) stays held
    configured = os.environ.get("REGLAB_REPORT_WORKERS", "")
    if configured.isdigit() and int(configured) > 0:
        return min(int(configured), figures)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_WORKERS, figures))


def _render_shared(name: str) -> bytes | None:
    assert _SHARED is not None, "render_all sets the analysis before forking"
    analysis, lang = _SHARED
    return png(FIGURES[name], analysis, lang)
