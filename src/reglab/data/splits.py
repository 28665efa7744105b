"""Train / validation / test arrays as a study consumes them.

The sizes a study asks for are upper bounds. With a big enough dataset the split is the
tutorial's, with no shuffling: train = the first `train` training images, validation = the
next `validation` ones (x_train[:10000], x_train[10000:12000]), test = the first `test` test
images. When a dataset has no test set of its own (digits) or is too small, the sizes are
scaled down in proportion and drawn with a stratified split, so every class is present in
every part and small data still gives an honest test score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from .errors import DataError
from .load import Dataset


@dataclass(frozen=True, eq=False)
class Splits:
    x_train: np.ndarray  # float32 (n, H*W), pixels / pixel_max, so in [0, 1]
    y_train: np.ndarray  # int64 (n,)
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, int]
    class_names: tuple[str, ...]
    notes: tuple[str, ...]  # what was used, in words, for the report


def make_splits(
    dataset: Dataset, *, train: int, validation: int, test: int, split_seed: int = 0
) -> Splits:
    requested = (train, validation, test)
    for label, n in zip(("train", "validation", "test"), requested):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise DataError(f"{label} size must be a positive whole number, got {n!r}")
    asked = "/".join(map(str, requested))
    images, labels = dataset.train_images, dataset.train_labels
    n_train_pool = len(images)

    if dataset.test_images is None:
        # No test set of its own: one stratified three-way split of everything.
        sizes = _fit(requested, n_train_pool)
        tr, va, te = _stratified(labels, sizes, split_seed, dataset.name)
        parts = ((images[tr], labels[tr]), (images[va], labels[va]), (images[te], labels[te]))
        notes = (
            f"{dataset.name} has {n_train_pool} images and no separate test set: using "
            f"{sizes[0]} train / {sizes[1]} validation / {sizes[2]} test (requested {asked}), "
            f"stratified, split_seed={split_seed}",
        )
    else:
        test_images, test_labels = dataset.test_images, dataset.test_labels
        n_test = min(test, len(test_images))
        test_part = (test_images[:n_test], test_labels[:n_test])
        test_note = f"test = test images [0:{n_test}]" + (
            f" (only {len(test_images)} available, requested {test})" if n_test < test else ""
        )
        if train + validation <= n_train_pool:
            end = train + validation
            parts = (
                (images[:train], labels[:train]),
                (images[train:end], labels[train:end]),
                test_part,
            )
            notes = (
                f"{dataset.name}: train = training images [0:{train}], "
                f"validation = [{train}:{end}], " + test_note,
            )
        else:
            sizes = _fit((train, validation), n_train_pool)
            tr, va = _stratified(labels, sizes, split_seed, dataset.name)
            parts = ((images[tr], labels[tr]), (images[va], labels[va]), test_part)
            notes = (
                f"{dataset.name} has {n_train_pool} training images: using {sizes[0]} train / "
                f"{sizes[1]} validation (requested {train}/{validation}), stratified, "
                f"split_seed={split_seed}; " + test_note,
            )

    (xtr, ytr), (xva, yva), (xte, yte) = (
        (_flatten(x, dataset.pixel_max), np.asarray(y, dtype=np.int64)) for x, y in parts
    )
    return Splits(xtr, ytr, xva, yva, xte, yte, dataset.image_shape, dataset.class_names, notes)


def _flatten(images: np.ndarray, pixel_max: float) -> np.ndarray:
    x = images.reshape(len(images), -1).astype(np.float32)
    x /= np.float32(pixel_max)  # in float32, as the tutorial's x.astype('float32') / 255
    return x


def _fit(requested: tuple[int, ...], available: int) -> tuple[int, ...]:
    """The requested sizes if they fit, else scaled in proportion to fill `available`.

    Largest remainders decide the rounding, so the parts add up to exactly `available`.
    """
    total = sum(requested)
    if total <= available:
        return requested
    exact = [n * available / total for n in requested]
    sizes = [math.floor(e) for e in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - sizes[i], reverse=True)
    for i in by_remainder[: available - sum(sizes)]:
        sizes[i] += 1
    return tuple(sizes)


def _stratified(
    labels: np.ndarray, sizes: tuple[int, ...], seed: int, name: str
) -> tuple[np.ndarray, ...]:
    """Index arrays of the given sizes, each with every class in proportion."""
    n_classes = len(np.unique(labels))
    if min(sizes) < n_classes:
        raise DataError(
            f"{name}: cannot give every one of its {n_classes} classes a place in splits of "
            f"{'/'.join(map(str, sizes))} images",
            "ask for larger train, validation and test sizes",
        )
    from sklearn.model_selection import train_test_split  # here: a second to import

    index = np.arange(len(labels))
    parts = []
    try:
        for i, size in enumerate(sizes[:-1]):
            # Take this part from what is left; keep exactly enough for the parts after it.
            take, index = train_test_split(
                index, train_size=size, test_size=sum(sizes[i + 1 :]),
                stratify=labels[index], random_state=seed,
            )
            parts.append(np.sort(take))
    except ValueError as e:  # a class too rare to spread over every part
        raise DataError(f"{name}: stratified split failed: {e}", "ask for larger sizes") from None
    parts.append(np.sort(index))
    return tuple(parts)
