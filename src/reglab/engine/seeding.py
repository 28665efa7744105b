"""Per-run random streams derived from the run's seed.

Each stream (initial weights, data order, dropout masks) has its own generator seeded from
(seed, stream), so that changing a variant's dropout does not shift its data order, and every
variant sees the same batches in the same order for the same seed: comparisons are paired.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

STREAMS = {"init": 0, "data_order": 1, "dropout": 2, "augmentation": 3, "lr_find": 4}


def stream_number(stream: str) -> int:
    """The built-in streams keep their numbers; a technique's own stream (Technique.stream) gets one
    from its name, the same on every machine and in every process (crc32, not Python's hash)."""
    return STREAMS[stream] if stream in STREAMS else (1 << 32) + zlib.crc32(stream.encode())


def stream_seed(seed: int, stream: str) -> int:
    # SeedSequence hashes (seed, stream) into well-mixed, independent 63-bit seeds.
    state = np.random.SeedSequence([seed, stream_number(stream)]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def generator(seed: int, stream: str, device: torch.device | str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(stream_seed(seed, stream))
