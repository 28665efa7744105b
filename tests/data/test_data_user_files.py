"""NumPy arrays from Python, .npz and .npy files, and an image folder of digits saved as PNG, all
written by the tests; and each kind of bad input refused with the fix."""

from __future__ import annotations

import re

import numpy as np
import pytest

from reglab.config import DataSpec
from reglab.data import DataError, resolve_dataset
from reglab.data.prepared import PrepareContext, array_digest, prepare_data


@pytest.fixture(scope="module")
def digits():
    dataset, _ = resolve_dataset("digits")
    return dataset.train_images, dataset.train_labels


def _arrays(data, train=600, validation=200, test=300, **keys):
    return prepare_data(DataSpec("arrays", train, validation, test, **keys), PrepareContext(arrays=data))


def test_one_set_of_image_arrays_is_split_as_digits_is(digits):
    images, labels = digits
    ours = _arrays({"x": images, "y": labels}, 500, 200, 300).splits
    builtin = prepare_data(DataSpec("digits", 500, 200, 300)).splits
    # Same stratified draw (same labels, split_seed 0): the same rows; uint8 pixels are / 255, digits' / 16.
    assert (ours.y_train == builtin.y_train).all() and (ours.y_test == builtin.y_test).all()
    np.testing.assert_array_equal(ours.x_train * np.float32(255), np.rint(builtin.x_train * 16).astype(np.float32))
    assert ours.image_shape == (8, 8) and ours.kind == "images"


def test_flat_arrays_are_a_numeric_table_with_given_test_set(digits):
    images, labels = digits
    x = images.reshape(len(images), -1).astype(np.float64)
    prepared = _arrays({"x_train": x[:1200], "y_train": labels[:1200], "x_test": x[1200:], "y_test": labels[1200:]},
                       train=800, validation=300, test=10000)
    splits, fit = prepared.splits, prepared.info["preprocessing"]
    assert splits.kind == "table" and len(splits.y_test) == 597 and (splits.y_test == labels[1200:]).all()
    assert len(splits.y_train) == 800 and len(splits.y_val) == 300  # drawn from the 1,200 training rows only
    assert prepared.info["fingerprint"] == array_digest(x[:1200], labels[:1200], x[1200:], labels[1200:])
    means = np.array([c["mean"] for c in fit["columns"]])
    np.testing.assert_allclose(splits.x_test[:, 20] * fit["columns"][20]["scale"] + means[20], x[1200:, 20], atol=1e-4)


def test_npz_and_npy_files(tmp_path, digits):
    images, labels = digits
    np.savez(tmp_path / "d.npz", x_train=images[:1000], y_train=labels[:1000], x_val=images[1000:1200],
             y_val=labels[1000:1200])
    prepared = prepare_data(DataSpec("auto", 700, 150, 250, path=str(tmp_path / "d.npz")))
    assert (len(prepared.splits.y_train), len(prepared.splits.y_val), len(prepared.splits.y_test)) == (700, 150, 250)
    assert (prepared.splits.y_val == labels[1000:1150]).all()
    assert prepared.info["source"]["sha256"] == __import__("hashlib").sha256((tmp_path / "d.npz").read_bytes()).hexdigest()
    np.save(tmp_path / "d.npy", np.c_[images.reshape(-1, 64), labels])
    assert prepare_data(DataSpec("auto", 700, 150, 250, path=str(tmp_path / "d.npy"))).splits.image_shape == (1, 64)


def test_an_image_folder_of_digits_saved_as_png(tmp_path, digits):
    from PIL import Image

    images, labels = digits
    names = ["zero", "one", "two"]
    keep = np.flatnonzero(labels < 3)[:150]
    for i in keep:
        folder = tmp_path / "img" / names[labels[i]]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((images[i] * 15).astype(np.uint8)).save(folder / f"{i:04d}.png")
    (tmp_path / "img" / "README.txt").write_text("not an image: ignored")
    prepared = prepare_data(DataSpec("auto", 90, 30, 30, path=str(tmp_path / "img")))
    splits = prepared.splits
    assert splits.class_names == ("one", "two", "zero") and splits.image_shape == (8, 8)
    originals = {tuple((images[i] * 15).ravel()): names[labels[i]] for i in keep}
    for row, label in zip(np.rint(splits.x_train * 255).astype(int), splits.y_train):
        assert originals[tuple(row)] == splits.class_names[label]  # each pixel back, under its folder's name
    assert prepared.info["source"]["files"] == 150
    resized = prepare_data(DataSpec("auto", 90, 30, 30, path=str(tmp_path / "img"), image_size=(16, 12)))
    assert resized.splits.image_shape == (16, 12)


@pytest.mark.parametrize("data, expected", [
    ({"x": np.zeros((10, 3)), "y": np.zeros(9)}, "10 rows of features but 9 labels"),
    ({"x_train": np.zeros((40, 3)), "y_train": np.arange(40) % 2, "x_test": np.zeros((10, 4)),
      "y_test": np.arange(10) % 2}, r"rows differ in shape \(train \(3,\), test \(4,\)\)"),
    ({"x_train": np.zeros((40, 3))}, "x_train is given without y_train"),
    ({"x": np.zeros((40, 3)), "y": np.zeros((40, 2))}, "not one label per row"),
    ({"x": np.full((40, 3), np.nan), "y": np.arange(40) % 2}, r"missing value.*missing = \"impute\""),
    ({"x": np.zeros((40, 2, 2, 3)), "y": np.arange(40) % 2}, r"shape \(40, 2, 2, 3\).*convert to grey"),
    ([1, 2, 3], "expected a dict of arrays"),
], ids=["lengths", "shapes", "x-without-y", "one-hot-labels", "nan", "colour", "not-arrays"])
def test_bad_arrays_are_refused_with_the_fix(fault_log, request, data, expected):
    with pytest.raises(DataError) as caught:
        _arrays(data, 20, 10, 10)
    assert re.search(expected, str(caught.value), re.S) and "\nFix: " in str(caught.value), str(caught.value)
    fault_log(f"arrays from Python: {request.node.callspec.id.replace('-', ' ')}", 1, "a data error with the fix")


def test_bad_image_folders_are_refused_with_the_fix(tmp_path, fault_log):
    from PIL import Image

    empty = tmp_path / "empty"
    (empty / "cats").mkdir(parents=True)
    (empty / "cats" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"(?s)no images found in its sub-folders \(cats\).*Fix: put the images"):
        prepare_data(DataSpec("auto", path=str(empty)))
    mixed = tmp_path / "mixed"
    for name, size in (("a", (8, 8)), ("b", (9, 8))):
        (mixed / name).mkdir(parents=True)
        for i in range(3):
            Image.new("L", size).save(mixed / name / f"{i}.png")
    with pytest.raises(DataError, match=r"(?s)differ in size.*image_size = \[H, W\]"):
        prepare_data(DataSpec("auto", path=str(mixed)))
    (mixed / "b" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DataError, match=r"(?s)1.png: not a readable image.*Fix: replace or remove"):
        prepare_data(DataSpec("auto", path=str(mixed), image_size=(8, 8)))
    fault_log("image folders: no images, images of two sizes, a corrupt PNG", 3, "a data error with the fix each")
