"""What a study's runs need in memory, checked before anything is built (torch-free).

A run holds its weights, their gradients, the optimizer's state (Adam: two moments), a copy of
the best weights (early stopping) and a checkpoint's serialized copy: about six float32 copies of
its parameters, measured within 10% for the MLPs here. Parameters and activations are
the variant's architecture's to count (models/registry.py: `parameters`, `activations`). On the CPU one run trains per core at once.
A study whose largest run cannot fit is refused with the fix, instead of the operating system
killing it mid-way (`hidden = [65536, 65536]` asked for 16 GiB per copy).
"""

from __future__ import annotations

import os

COPIES = 6
BYTES_PER_NUMBER = 4  # float32
IMAGE_SHAPES = {"digits": (8, 8)}  # by dataset; 28x28 images otherwise
CLASSES = 10


def parameters(variant, image_shape: tuple[int, int], classes: int = CLASSES) -> int:
    """The variant's trainable numbers, as its architecture counts them (models/registry.py)."""
    return variant.architecture.parameters(variant, tuple(image_shape), classes)


def bytes_needed(variant, image_shape: tuple[int, int]) -> int:
    # Each layer's outputs per example: forward values, their gradients, masks.
    activations = 3 * variant.batch_size * variant.architecture.activations(variant, tuple(image_shape), CLASSES)
    return BYTES_PER_NUMBER * (COPIES * parameters(variant, image_shape) + activations)


def available_bytes() -> int | None:
    """Memory the system can give without swapping (Linux's MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def problems(variants, dataset: str, runs_at_once: int, available: int | None = None) -> list[tuple[int, str]]:
    """(variant index, message) for each variant whose runs cannot fit in memory."""
    available = available_bytes() if available is None else available
    if available is None:
        return []
    shape = IMAGE_SHAPES.get(dataset, (28, 28))
    out = []
    for index, variant in enumerate(variants):
        need = bytes_needed(variant, shape) * runs_at_once
        if need > available:
            out.append((index, f"hidden {list(variant.hidden)} has {parameters(variant, shape):,} "
                               f"parameters; training {runs_at_once} such run{'s' if runs_at_once > 1 else ''} at once "
                               f"needs about {_gib(need)} of memory (weights, gradients, optimizer state and copies), "
                               f"and {_gib(available)} is available. Fix: smaller hidden widths"))
    return out


def _gib(count: int) -> str:
    return f"{count / 2**30:.1f} GiB"
