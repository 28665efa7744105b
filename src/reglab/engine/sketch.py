"""A count sketch of a run's hidden kernels, recorded at every epoch end by both engines, so that
the distance between two runs' weights over training can be read from stored results alone
(analysis/trajectories.py): runs of a pair train in different units, often different
processes, and keeping every epoch's weights would cost the whole network per epoch.

Each weight index i (over the hidden kernels, flattened and concatenated in order) is hashed to
one of SKETCH_BUCKETS buckets h(i) with a sign s(i) = ±1, and the sketch is Σ_{i: h(i)=b} s(i)·w_i
per bucket b. The hash comes from a fixed seed, never the run's: every run of one architecture
uses the same one, so the sketch is linear in the weights and sketch(a) − sketch(b) is the sketch
of a − b, whose norm estimates ||a − b|| (E||Sx||² = ||x||², relative standard deviation of the
squared norm at most sqrt(2/K): about 9% at K = 256, so about 4.4% on the norm; docs/report.md).
Drawing the hash costs nothing the run draws: no random stream of the run moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

from reglab.store.records import SKETCH_BUCKETS

SKETCH_SEED = 20261130  # fixed, independent of every run's seed: the same hash for every run


def _draw(size: int, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """The hash, drawn by numpy's PCG64 from the fixed seed (every device and platform gets the
    very same): the slot of each index [size] (a random permutation of 0..size-1) and its sign
    [size] ±1. An index's bucket is its slot mod K: the indices are dealt out in a random order, K at
    a time, so the buckets are balanced (each gets ceil(size/K) or one fewer) and two indices share
    one with probability at most 1/K, which is all the count sketch's variance bound asks
    (analysis/trajectories.py)."""
    rng = np.random.default_rng(SKETCH_SEED)
    slot = rng.permutation(size)
    sign = np.where(rng.integers(0, 2, size=size) == 1, 1.0, -1.0).astype(np.float32)
    return slot, sign


def hash_of(size: int, buckets: int = SKETCH_BUCKETS) -> tuple[np.ndarray, np.ndarray]:
    """(bucket of each weight index [size], its sign [size]): the hash as the definition reads."""
    slot, sign = _draw(size, buckets)
    return slot % buckets, sign


@lru_cache(maxsize=16)
def _gather(size: int, buckets: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The hash as a gather: for each slot, the index of the (signed, zero-padded) vector in it, in
    bucket-major order ([rows, K]: one sum over rows gives the K bucket sums), and the signs with a
    zero appended for the empty slots. A gather and a sum run at memory speed: index_add_ into 256
    buckets took 10-20 ms for the tutorial's 200,000 hidden weights on a loaded CPU."""
    slot, sign = _draw(size, buckets)
    source = np.full(-(-size // buckets) * buckets, size, dtype=np.int64)  # past the weights: the appended zero
    source[slot] = np.arange(size)
    return torch.from_numpy(source).to(device), torch.from_numpy(np.append(sign, np.float32(0))).to(device)


@torch.no_grad()
def weight_sketch(kernels: Sequence[torch.Tensor], *, stacked: bool = False,
                  buckets: int = SKETCH_BUCKETS) -> torch.Tensor:
    """The count sketch of one run's hidden kernels [K], or of each run of a stack [R, K] when the
    kernels are stacked ([R, ...]): a copy, a gather and a sum over the weights, once per epoch.
    Both engines call this."""
    flat = [k.detach().reshape(k.shape[0], -1) if stacked else k.detach().reshape(1, -1) for k in kernels]
    runs, device = flat[0].shape[0], flat[0].device
    size = sum(f.shape[1] for f in flat)
    source, sign = _gather(size, buckets, str(device))
    signed = torch.cat([*(f.float() for f in flat), torch.zeros(runs, 1, device=device)], dim=1).mul_(sign)
    out = signed.index_select(1, source).view(runs, -1, buckets).sum(1)
    return out if stacked else out[0]
