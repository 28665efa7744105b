"""What `StudyResult.explain` returns: the maps of a few inputs, drawn inline in Jupyter."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Explanation:
    variant: str
    seed: int
    method: str
    features: np.ndarray  # (N, D): what the network was given
    targets: np.ndarray  # (N,): the class each map explains
    maps: np.ndarray  # (N, D) attributions, float32
    image_shape: tuple[int, int]
    class_names: tuple[str, ...] = ()

    def figure(self, limit: int = 10):
        """Each input above its |map| (scaled to its own maximum), at most `limit` of them."""
        from matplotlib.figure import Figure

        count = min(limit, len(self.maps))
        figure = Figure(figsize=(1.1 * max(count, 1) + 0.4, 2.6), layout="constrained")
        axes = figure.subplots(2, max(count, 1), squeeze=False)
        for c in range(count):
            axes[0][c].imshow(self.features[c].reshape(self.image_shape), cmap="gray_r")
            target = int(self.targets[c])
            axes[0][c].set_title(self.class_names[target] if target < len(self.class_names) else str(target),
                                 fontsize=8)
            magnitude = np.abs(self.maps[c]).reshape(self.image_shape)
            axes[1][c].imshow(magnitude, cmap="magma", vmin=0, vmax=float(magnitude.max()) or 1.0)
        for row in axes:
            for ax in row:
                ax.set_xticks([])
                ax.set_yticks([])
        figure.suptitle(f"{self.variant} (seed {self.seed}): {self.method}", fontsize=9)
        return figure

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.figure().savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()
