"""Figures of what the networks look at (issue 27): the first layer's units of an MLP drawn as
images, and the stored attribution maps of each variant (mean |map| over seeds) for a few test
images. Both read stored results only: the weights of the first seed, explanations/*.npz."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from reglab.analysis.analyze import Analysis
from reglab.report.explain_text import s
from reglab.report.figures import short
from reglab.store.files import Damaged, RunFiles, read_npz_bytes

UNITS = 12  # first-layer units drawn per variant
EXAMPLES = 5  # test images whose maps are drawn


def image_shape(analysis: Analysis) -> tuple[int, int] | None:
    shape = analysis.collected.data.get("image_shape")
    return (int(shape[0]), int(shape[1])) if shape and len(shape) == 2 else None


def first_units(analysis: Analysis, lang: str) -> Figure | None:
    """Each MLP variant's first dense kernel, units 0..UNITS-1 of its first seed, as images: the
    same units start from the same initial weights in every variant of one architecture (the seed
    draws them), so a row shows what each technique made of the same starting templates. A
    symmetric colour scale per row (red +, blue −)."""
    shape = image_shape(analysis)
    if shape is None:
        return None
    rows = [(v, v.layer_samples["dense_1"]) for v in analysis.variants
            if "dense_1" in v.layer_samples and "conv2d_1" not in v.layer_samples
            and v.layer_samples["dense_1"].shape[1] == shape[0] * shape[1]]
    if not rows:
        return None
    columns = min(UNITS, min(kernel.shape[0] for _, kernel in rows))
    figure = Figure(figsize=(0.62 * columns + 1.8, 0.66 * len(rows) + 0.9), layout="constrained")
    axes = figure.subplots(len(rows), columns, squeeze=False)
    for r, (v, kernel) in enumerate(rows):
        units = kernel[:columns]
        limit = float(np.abs(units).max()) or 1.0
        for c in range(columns):
            ax = axes[r][c]
            ax.imshow(units[c].reshape(shape), cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(short(v.name, 14), rotation=0, ha="right", va="center", fontsize=8)
    figure.suptitle(s(lang, "fig_units_title"))
    return figure


def attribution_maps(analysis: Analysis, lang: str, method: str) -> Figure | None:
    """Mean |attribution| over seeds for the first EXAMPLES explained images, one row per variant,
    the images themselves on top. Each panel is scaled to its own maximum: the figure compares
    where a network looks, not how strongly (the statistics table compares the amounts)."""
    explained = analysis.collected.explanations
    shape = image_shape(analysis)
    images = analysis.collected.test_images
    if shape is None or images is None or not isinstance(explained, dict) or \
            method not in (explained.get("methods") or {}) or not isinstance(explained.get("images"), list):
        return None
    chosen = [i for i in explained["images"][:EXAMPLES] if isinstance(i, int) and 0 <= i < len(images)]
    rows = []
    files = RunFiles(analysis.collected.root)
    folder = analysis.collected.root / "explanations" / method
    # The folders are numbered by the study's order (stored_maps), which a thinned sweep's drawn
    # variants do not keep.
    order = {v.name: i for i, v in enumerate(analysis.collected.variants)}
    for v in analysis.variants:
        index = order.get(v.name, -1)
        maps = []
        for seed in v.completed:
            path = folder / f"{index:02d}-{_slug(v.name)}" / f"seed-{seed}.npz"
            try:
                bundle = read_npz_bytes(files.read_sealed(path))
            except Damaged:
                continue
            if bundle.get("maps") is not None and bundle["maps"].shape[0] >= len(chosen):
                maps.append(np.abs(bundle["maps"][: len(chosen)]))
        if maps:
            rows.append((v.name, np.mean(maps, axis=0)))
    if not rows or not chosen:
        return None
    figure = Figure(figsize=(0.95 * len(chosen) + 1.8, 0.95 * (len(rows) + 1) + 0.6), layout="constrained")
    axes = figure.subplots(len(rows) + 1, len(chosen), squeeze=False)
    for c, image_index in enumerate(chosen):
        axes[0][c].imshow(images[image_index].reshape(shape), cmap="gray_r")
    axes[0][0].set_ylabel(s(lang, "maps_input"), rotation=0, ha="right", va="center", fontsize=8)
    for r, (name, mean) in enumerate(rows, start=1):
        for c in range(len(chosen)):
            axes[r][c].imshow(mean[c].reshape(shape), cmap="magma", vmin=0, vmax=float(mean[c].max()) or 1.0)
        axes[r][0].set_ylabel(short(name, 14), rotation=0, ha="right", va="center", fontsize=8)
    for row in axes:
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    figure.suptitle(s(lang, "fig_maps_title", method=s(lang, f"method_{method}")))
    return figure


def _slug(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:60]
