"""Final weights: the share of near-zero weights per layer (what L1 does) and weight histograms.

Only kernels count: the 2-D arrays of a state_dict (each Linear's [out, in]) and the 4-D ones
(each Conv2d's [out, in, kh, kw]); biases and normalization scales are 1-D and no penalty of
reglab's touches them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# |w| below this counts as zero. Adam moves every weight by about lr (1e-3 by default) per step
# whatever its gradient, so a weight that L1 pulls to zero hovers within about lr of it rather than
# landing on exactly 0.0; at Glorot initialisation about 1-2% of weights are this small.
NEAR_ZERO = 1e-3
HISTOGRAM_BINS = 81


KERNEL_KINDS = {2: "dense", 4: "conv2d"}  # a kernel's number of dimensions -> its layer's name in the summary
# A recurrent layer's two kernels (models/recurrent.py), by their state_dict names: 2-D, but not dense.
RECURRENT_KINDS = {"weight_ih": "rnn_input", "weight_hh": "rnn_state"}


def kernels(weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The kernels in layer order (the stored order is the model's), named conv2d_1, ..., dense_1,
    dense_2, ... as the model summary names them; a recurrent layer's input and recurrent kernels
    rnn_input_1 and rnn_state_1 (one per layer and direction)."""
    named, counts = {}, {}
    for key, value in weights.items():
        kind = RECURRENT_KINDS.get(key.rsplit(".", 1)[-1]) or KERNEL_KINDS.get(np.ndim(value))
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
            named[f"{kind}_{counts[kind]}"] = np.asarray(value, dtype=np.float32)
    return named


def keras_shape(kernel: np.ndarray) -> tuple[int, ...]:
    """A kernel's shape as Keras writes it: a convolution's (kh, kw, in, out), a dense layer's
    (in, out). PyTorch stores [out, in, kh, kw] and [out, in]."""
    return (*kernel.shape[2:], *kernel.shape[1::-1])


def first_filters(weights: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """The first convolution's filters [out, kh, kw] (single-channel input), or None without one."""
    first = next((k for name, k in kernels(weights).items() if name == "conv2d_1"), None)
    return first[:, 0] if first is not None and first.shape[1] == 1 else None


def near_zero_share(values: np.ndarray, threshold: float = NEAR_ZERO) -> float:
    return float(np.mean(np.abs(values) < threshold)) if values.size else float("nan")


def layer_shares(weights: Mapping[str, np.ndarray], threshold: float = NEAR_ZERO) -> dict[str, float]:
    return {name: near_zero_share(kernel, threshold) for name, kernel in kernels(weights).items()}


def hidden_share(weights: Mapping[str, np.ndarray], threshold: float = NEAR_ZERO) -> float:
    """Over every hidden kernel together (all but the output layer's), the ones L1/L2 penalise."""
    hidden = list(kernels(weights).values())[:-1]
    if not hidden:
        return float("nan")
    return near_zero_share(np.concatenate([k.ravel() for k in hidden]), threshold)


def all_kernel_values(weights: Mapping[str, np.ndarray]) -> np.ndarray:
    values = [k.ravel() for k in kernels(weights).values()]
    return np.concatenate(values) if values else np.zeros(0, np.float32)


def histogram_edges(samples: list[np.ndarray], bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Shared, symmetric bins for every variant so that histograms compare; the range covers
    99.9% of the largest spread so that a few outliers do not squash the rest into one bar.
    An odd number of bins puts one bin around zero, where L1's spike is."""
    spreads = [float(np.quantile(np.abs(s), 0.999)) for s in samples if s.size]
    limit = max(spreads, default=1.0) or 1.0
    return np.linspace(-limit, limit, bins + 1)


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    # Values past the range go into the outer bins rather than vanishing.
    return np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)[0]


def hidden_norm(weights: Mapping[str, np.ndarray]) -> float:
    """sqrt(Σ w²) over the hidden kernels: what L2 and weight decay shrink (EpochRecord.weight_norm)."""
    hidden = list(kernels(weights).values())[:-1]
    return float(np.sqrt(sum(float(np.sum(k.astype(np.float64) ** 2)) for k in hidden))) if hidden else float("nan")


def largest_unit_norm(weights: Mapping[str, np.ndarray]) -> float:
    """The largest norm of one unit's incoming weights (a kernel's row [out, in], or a filter [out,
    in, kh, kw]) over the hidden kernels: what a max-norm constraint caps."""
    hidden = list(kernels(weights).values())[:-1]
    return max((float(np.linalg.norm(k.astype(np.float64).reshape(k.shape[0], -1), axis=1).max())
                for k in hidden if k.size), default=float("nan"))


def hidden_vector(weights: Mapping[str, np.ndarray]) -> np.ndarray:
    """Every hidden kernel's weights as one float64 vector (for distances between runs)."""
    hidden = list(kernels(weights).values())[:-1]
    return np.concatenate([k.astype(np.float64).ravel() for k in hidden]) if hidden else np.zeros(0)
