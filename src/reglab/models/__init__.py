"""Architectures behind one registered interface (models/registry.py): `mlp` and `cnn`.

The engines, the scheduler and the summary ask a variant's architecture, never a model class:

    model = models.build(variant, image_shape, classes, generator(seed, "init"))
    model.regularized_kernels(); model.summary(); model.set_dropout_generator(g)

Module attributes load lazily: the study loader (reglab.config) imports the registry without torch.
"""

from __future__ import annotations

from typing import Any

from reglab.errors import ConfigError
from reglab.models import catalog  # noqa: F401  (importing it registers the architectures)
from reglab.models.registry import Architecture, ModelKey, SummaryRow, architectures, lookup

__all__ = ["Architecture", "ModelKey", "SummaryRow", "architectures", "lookup", "build", "summary", "summaries",
           "check_fits", "MLP", "build_mlp", "summarize"]


def build(variant, image_shape: tuple[int, int], classes: int, init_generator) -> Any:
    """The variant's network, its weights drawn from `init_generator` (None: left uninitialised)."""
    return lookup(variant.model).build(variant, tuple(image_shape), classes, init_generator)


def summary(variant, image_shape: tuple[int, int], classes: int) -> list[SummaryRow]:
    """Keras's model.summary() rows for the variant on images of this shape. The weights are left
    uninitialised: a summary counts them, and drawing them would need the engine's seeding."""
    return build(variant, image_shape, classes, None).summary()


def check_fits(study, image_shape: tuple[int, int]) -> None:
    """Before anything trains: every variant's network fits the data's images (a CNN's convolutions
    and pooling shrink them), else a ConfigError that names the variant and the fix."""
    problems = []
    for index, variant in enumerate(study.variants):
        message = variant.architecture.fits(variant, tuple(image_shape))
        if message:
            problems.append(f"variants[{index}] ({variant.name!r}): {message}")
    if problems:
        raise ConfigError(study.source or study.name, problems)


def summaries(study, input_dim: int | None = None) -> list[tuple[str, int, list[SummaryRow]]]:
    """(variant name, inputs, its layers as its architecture summarizes them), like Keras's
    model.summary(); the inputs default to 64 for digits, else 784 (28 x 28 images). A CNN needs
    square images: a ConfigError says so for another number of inputs."""
    import math

    input_dim = input_dim or (64 if study.data.dataset == "digits" else 784)
    side = math.isqrt(input_dim)
    square = side * side == input_dim
    image_shape = (side, side) if square else (1, input_dim)
    imaged = sorted({v.model for v in study.variants if v.architecture.needs_images})
    if not square and imaged:
        raise ConfigError("--input-dim", [f"{input_dim} inputs are not a square image, and {', '.join(imaged)} "
                                          "needs one: give a square number such as 64 (8x8) or 784 (28x28)"])
    check_fits(study, image_shape)
    return [(variant.name, input_dim, summary(variant, image_shape, 10)) for variant in study.variants]


def __getattr__(name: str) -> Any:
    if name in ("MLP", "build_mlp", "summarize"):
        from reglab.models import mlp

        return getattr(mlp, name)
    raise AttributeError(name)
