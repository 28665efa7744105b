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
from .preprocessing import ImagePixels


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
    kind: str = "images"  # "images" (H x W pixels) or "table" (image_shape is (1, columns))
    task: str = "classification"


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

    # The stored fit's own transform (data.json keeps it): a prediction gets the features training had.
    pixels = ImagePixels(dataset.image_shape, dataset.pixel_max)
    (xtr, ytr), (xva, yva), (xte, yte) = (
        (pixels.transform(x), np.asarray(y, dtype=np.int64)) for x, y in parts
    )
    return Splits(xtr, ytr, xva, yva, xte, yte, dataset.image_shape, dataset.class_names, notes)


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
    index = np.arange(len(labels))
    parts = []
    for i, size in enumerate(sizes[:-1]):
        # Take this part from what is left; keep exactly enough for the parts after it.
        take, index = _stratified_shuffle_split(labels[index], index, size, sum(sizes[i + 1 :]), seed, name)
        parts.append(np.sort(take))
    parts.append(np.sort(index))
    return tuple(parts)


def _stratified_shuffle_split(
    labels: np.ndarray, index: np.ndarray, n_train: int, n_test: int, seed: int, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's `train_test_split(index, train_size=n_train, test_size=n_test,
    stratify=labels, random_state=seed)`, draw for draw (StratifiedShuffleSplit in
    sklearn/model_selection/_split.py, 1.4 to 1.9), so that splits stored before are drawn again;
    tests/data check it against scikit-learn itself. Written out because importing scikit-learn
    took 1 to 2 s of every run on digits, the default offline dataset."""
    classes, y_indices, class_counts = np.unique(labels, return_inverse=True, return_counts=True)
    if class_counts.min() < 2:
        raise DataError(f"{name}: stratified split failed: a class has fewer than 2 images left "
                        f"({', '.join(str(c) for c in classes[class_counts < 2])})", "ask for larger sizes")
    if min(n_train, n_test) < len(classes):
        raise DataError(f"{name}: stratified split failed: {min(n_train, n_test)} images cannot hold one of "
                        f"each of {len(classes)} classes", "ask for larger sizes")
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(seed)
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train: list[int] = []
    test: list[int] = []
    for i in range(len(classes)):
        permuted = class_indices[i].take(rng.permutation(class_counts[i]), mode="clip")
        train.extend(permuted[: n_i[i]])
        test.extend(permuted[n_i[i] : n_i[i] + t_i[i]])
    return index[rng.permutation(train)], index[rng.permutation(test)]


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """How many of n_draws to take from each class: the floor of its share, plus one for the
    classes with the largest remainders, ties broken at random (sklearn.utils.extmath)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            add_now = min(len(tied), need_to_add)
            floored[rng.choice(tied, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)
