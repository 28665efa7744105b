"""Splits: the tutorial's exact slices, and stratified, scaled-down splits for small data."""

from __future__ import annotations

import numpy as np
import pytest

from reglab.data import DataError, Dataset, load_dataset, make_splits


def _indexed(n_train: int, n_test: int | None, shape=(2, 3)) -> Dataset:
    """A dataset whose labels are the image's own index (test ones offset by 10**6)."""
    images = (np.arange(n_train * shape[0] * shape[1]) % 256).astype(np.uint8)
    test = None if n_test is None else np.zeros((n_test, *shape), np.uint8)
    return Dataset(
        name="indexed",
        train_images=images.reshape(n_train, *shape),
        train_labels=np.arange(n_train, dtype=np.int64),
        test_images=test,
        test_labels=None if n_test is None else np.arange(n_test, dtype=np.int64) + 10**6,
        pixel_max=255.0,
        class_names=tuple("0123456789"),
        origin="test",
        verified=True,
    )


def test_tutorial_split_is_first_10000_then_next_2000():
    ds = _indexed(13000, 10500)
    s = make_splits(ds, train=10000, validation=2000, test=10000)
    np.testing.assert_array_equal(s.y_train, np.arange(10000))
    np.testing.assert_array_equal(s.y_val, np.arange(10000, 12000))
    np.testing.assert_array_equal(s.y_test, np.arange(10000) + 10**6)
    assert s.notes == (
        "indexed: train = training images [0:10000], validation = [10000:12000], "
        "test = test images [0:10000]",
    )


def test_pixels_are_flattened_and_scaled_in_float32():
    ds = _indexed(50, 10)
    s = make_splits(ds, train=20, validation=5, test=10)
    assert s.x_train.shape == (20, 6) and s.x_train.dtype == np.float32
    assert s.y_train.dtype == np.int64 and s.image_shape == (2, 3)
    expected = ds.train_images[:20].reshape(20, 6).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(s.x_train, expected)
    assert s.x_train.flags.writeable, "a copy, not a view of the read-only dataset"


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_digits_adapts_with_a_note(digits):
    s = make_splits(digits, train=10000, validation=2000, test=10000)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (817, 163, 817)
    assert s.notes == (
        "digits has 1797 images and no separate test set: using 817 train / 163 validation / "
        "817 test (requested 10000/2000/10000), stratified, split_seed=0",
    )
    for y in (s.y_train, s.y_val, s.y_test):
        assert set(y.tolist()) == set(range(10)), "every class in every part"
    assert s.x_train.shape == (817, 64) and s.x_train.max() == 1.0  # 16 / pixel_max 16


def test_digits_parts_are_disjoint_and_cover_everything(digits):
    s = make_splits(digits, train=10000, validation=2000, test=10000)
    rows = np.concatenate([s.x_train, s.x_val, s.x_test])
    everything = digits.train_images.reshape(1797, 64).astype(np.float32) / 16
    order = np.lexsort(rows.T), np.lexsort(everything.T)
    np.testing.assert_array_equal(rows[order[0]], everything[order[1]])


def test_digits_split_depends_only_on_split_seed(digits):
    a = make_splits(digits, train=500, validation=100, test=500, split_seed=3)
    b = make_splits(digits, train=500, validation=100, test=500, split_seed=3)
    c = make_splits(digits, train=500, validation=100, test=500, split_seed=4)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    sizes = (len(a.y_train), len(a.y_val), len(a.y_test))
    assert sizes == (500, 100, 500), "sizes that fit are kept as asked"


def test_small_own_data_scales_train_and_validation_keeps_its_test_set():
    ds = _indexed(100, 30)
    ds = Dataset(**{**ds.__dict__, "train_labels": np.arange(100) % 10})
    s = make_splits(ds, train=80, validation=40, test=50)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (67, 33, 30)
    assert "only 30 available, requested 50" in s.notes[0]
    assert "using 67 train / 33 validation (requested 80/40), stratified" in s.notes[0]


@pytest.mark.parametrize("sizes", [(0, 1, 1), (1, -5, 1), (1, 1, True), (1.5, 1, 1)])
def test_sizes_must_be_positive_integers(digits, sizes):
    train, validation, test = sizes
    with pytest.raises(DataError, match="must be a positive whole number"):
        make_splits(digits, train=train, validation=validation, test=test)


def test_too_small_to_stratify(digits):
    with pytest.raises(DataError, match="cannot give every one of its 10 classes a place"):
        make_splits(digits, train=5, validation=5, test=5)


# The stratified split is scikit-learn's train_test_split written out (importing scikit-learn cost
# every run on digits 1-2 s): checked against scikit-learn itself, draw for draw, so that a split
# stored before is drawn again.
@pytest.mark.parametrize("counts, n_train, n_test, seed", [
    ([178, 182, 177, 183, 181, 182, 181, 179, 174, 180], 817, 980, 0),  # digits, the first cut
    ([178, 182, 177, 183, 181, 182, 181, 179, 174, 180], 817, 163, 7),  # leaves some out
    ([5, 5, 5, 5], 6, 14, 3),  # ties in every remainder: broken by the generator
    ([2, 3, 50, 7], 8, 20, 11),
    ([40, 1000, 13], 300, 700, 123),
])
def test_stratified_split_draws_what_scikit_learn_draws(counts, n_train, n_test, seed):
    from sklearn.model_selection import train_test_split

    from reglab.data.splits import _stratified_shuffle_split

    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    index = rng.permutation(len(labels)) + 1000  # a pool that is not 0..n-1, in no order
    ours = _stratified_shuffle_split(labels, index, n_train, n_test, seed, "test")
    theirs = train_test_split(index, train_size=n_train, test_size=n_test, stratify=labels, random_state=seed)
    for mine, reference in zip(ours, theirs):
        np.testing.assert_array_equal(mine, reference)


def test_digits_are_scikit_learns_digits(digits):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    np.testing.assert_array_equal(digits.train_images, bunch.images.astype(np.uint8))
    np.testing.assert_array_equal(digits.train_labels, bunch.target)
    assert digits.train_images.shape == (1797, 8, 8) and digits.train_labels.dtype == np.int64
