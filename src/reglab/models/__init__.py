"""Architectures behind one registered interface (models/registry.py): `mlp` and `cnn`.

The engines, the scheduler and the summary ask a variant's architecture, never a model class:

    model = models.build(variant, image_shape, classes, generator(seed, "init"))
    model.regularized_kernels(); model.summary(); model.set_dropout_generator(g)

Module attributes load lazily: the study loader (reglab.config) imports the registry without torch.
"""

from __future__ import annotations

from typing import Any

from reglab.models.registry import Architecture, ModelKey, SummaryRow, architectures, lookup

__all__ = ["Architecture", "ModelKey", "SummaryRow", "architectures", "lookup", "build", "summary",
           "MLP", "build_mlp", "summarize"]


def build(variant, image_shape: tuple[int, int], classes: int, init_generator) -> Any:
    """The variant's network, its weights drawn from `init_generator` (None: left uninitialised)."""
    return lookup(variant.model).build(variant, tuple(image_shape), classes, init_generator)


def summary(variant, image_shape: tuple[int, int], classes: int) -> list[SummaryRow]:
    """Keras's model.summary() rows for the variant on images of this shape."""
    from reglab.engine.seeding import generator

    return build(variant, image_shape, classes, generator(0, "init")).summary()


def __getattr__(name: str) -> Any:
    if name in ("MLP", "build_mlp", "summarize"):
        from reglab.models import mlp

        return getattr(mlp, name)
    raise AttributeError(name)
