"""A count sketch of a run's hidden kernels, recorded at every epoch end by both engines, so that
the distance between two runs' weights over training can be read from stored results alone
(analysis/pair_trajectories.py): runs of a pair train in different units, often different
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


@lru_cache(maxsize=16)
def _hash(size: int, buckets: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(bucket of each index [size] int64, its sign [size] float32 ±1), drawn on the host by numpy's
    PCG64 so that every device and platform gets the very same hash."""
    rng = np.random.default_rng(SKETCH_SEED)
    bucket = rng.integers(0, buckets, size=size, dtype=np.int64)
    sign = np.where(rng.integers(0, 2, size=size) == 1, 1.0, -1.0).astype(np.float32)
    return torch.from_numpy(bucket).to(device), torch.from_numpy(sign).to(device)


@torch.no_grad()
def weight_sketch(kernels: Sequence[torch.Tensor], *, stacked: bool = False,
                  buckets: int = SKETCH_BUCKETS) -> torch.Tensor:
    """The count sketch of one run's hidden kernels [K], or of each run of a stack [R, K] when the
    kernels are stacked ([R, ...]). One index_add per kernel: about 2 ms for 400,000 weights on
    one CPU core, once per epoch. Both engines call this, row by row the same summation order."""
    flat = [k.detach().reshape(k.shape[0], -1) if stacked else k.detach().reshape(1, -1) for k in kernels]
    size = sum(f.shape[1] for f in flat)
    device = flat[0].device
    bucket, sign = _hash(size, buckets, str(device))
    out = torch.zeros(flat[0].shape[0], buckets, device=device, dtype=torch.float32)
    offset = 0
    for f in flat:
        width = f.shape[1]
        out.index_add_(1, bucket[offset:offset + width], f.float() * sign[offset:offset + width])
        offset += width
    return out if stacked else out[0]
