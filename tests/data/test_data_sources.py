"""The registry of data sources: the built-in datasets give the arrays and splits they gave before
the registry (pinned), scikit-learn's embedded tables are read whole and encoded from their
training rows, and names and paths find their source."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from data_helpers import shared_dir

from reglab.config import DataSpec
from reglab.data import SOURCES, DataError
from reglab.data.prepared import PrepareContext, prepare_data
from reglab.data.source_registry import IMAGES, TABLE, data_sources, for_path, lookup


def _splits_sha256(splits) -> str:
    digest = hashlib.sha256()
    for array in (splits.x_train, splits.y_train, splits.x_val, splits.y_val, splits.x_test, splits.y_test):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


# Computed with make_splits on main at 30f15f3, before the registry existed (/tmp script: resolve_dataset
# then make_splits, the six arrays' bytes hashed in this order). Equal hashes: the same arrays, bit for bit.
PINNED_DIGITS = {
    ((10000, 2000, 10000), 0): "1be57292f22eb09e469e8b64e9434a9daac600177a65506ac1570b59070e04f1",
    ((500, 200, 300), 3): "50f0c080a0a20a3e52a7e4b42b0604ac3c1728415a715b79527313a8f20142b3",
}
PINNED_FASHION = "aa8735059f4c73499172d9bb5dbe6bd4837005c6ee6e5bac9b4dfb8e9b99701e"  # 1000/200/500, split_seed 0


@pytest.mark.parametrize("sizes, seed", list(PINNED_DIGITS))
def test_digits_through_the_registry_are_the_arrays_of_before(sizes, seed):
    prepared = prepare_data(DataSpec("digits", *sizes, split_seed=seed))
    assert _splits_sha256(prepared.splits) == PINNED_DIGITS[(sizes, seed)]
    assert prepared.info["preprocessing"]["pixel_max"] == 16.0 and prepared.info["kind"] == IMAGES


def test_fashion_mnist_through_the_registry_is_the_split_of_before():
    folder = shared_dir("fashion-mnist")
    prepared = prepare_data(DataSpec("fashion-mnist", 1000, 200, 500), PrepareContext(data_dir=folder))
    assert _splits_sha256(prepared.splits) == PINNED_FASHION


def test_every_builtin_dataset_is_a_registered_source():
    for name in SOURCES:
        assert lookup(name).kind == IMAGES and lookup(name).task == "classification"
    assert {lookup(n).kind for n in ("breast_cancer", "wine", "iris", "diabetes")} == {TABLE}
    assert all(s.summary_en and s.summary_ja for s in data_sources().values())


def test_paths_find_their_source(tmp_path):
    assert for_path(tmp_path).name == "image-folder"
    for name, source in (("a.csv", "csv"), ("a.CSV.gz", "csv"), ("a.parquet", "parquet"), ("a.npz", "npz"),
                         ("a.npy", "npy")):
        assert for_path(tmp_path / name).name == source
    with pytest.raises(DataError, match=r"(?s)\.xlsx file.*\.csv"):
        for_path(tmp_path / "a.xlsx")
    with pytest.raises(DataError, match="(?s)unknown dataset 'cifar'.*path ="):
        lookup("cifar")


def test_diabetes_is_refused_until_regression_lands(fault_log):
    with pytest.raises(DataError, match="regression task.*\nFix: use a classification dataset"):
        prepare_data(DataSpec("diabetes"))
    fault_log("data: a regression dataset (diabetes) in a classification lab", 1,
              "a data error saying it is regression and which datasets to use")


@pytest.mark.parametrize("name, loader", [("breast_cancer", "load_breast_cancer"), ("wine", "load_wine")])
def test_embedded_table_is_read_whole_and_encoded_from_its_training_rows(name, loader):
    from sklearn import datasets

    bunch = getattr(datasets, loader)()
    prepared = prepare_data(DataSpec(name, 100000, 100000, 100000))  # asks for more: every row is used
    splits, fit = prepared.splits, prepared.info["preprocessing"]
    assert len(splits.y_train) + len(splits.y_val) + len(splits.y_test) == len(bunch.target)
    assert list(splits.class_names) == [str(n) for n in bunch.target_names]
    assert np.bincount(np.concatenate([splits.y_train, splits.y_val, splits.y_test])).tolist() == \
        np.bincount(bunch.target).tolist()
    mean = np.array([c["mean"] for c in fit["columns"]])
    scale = np.array([c["scale"] for c in fit["columns"]])
    # Undo the encoding: each training row is a row of scikit-learn's table (float32 close), with its class.
    raw_train = splits.x_train.astype(np.float64) * scale + mean
    relative = np.abs(raw_train[:, None, :] - bunch.data[None, :, :]) / (np.abs(bunch.data).max(axis=0) + 1e-12)
    nearest = relative.max(axis=2).argmin(axis=1)
    assert relative.max(axis=2)[np.arange(len(nearest)), nearest].max() < 1e-5
    assert (bunch.target[nearest] == splits.y_train).all() and len(set(nearest.tolist())) == len(nearest)
    # The statistics are the training rows' (population std), not all rows'.
    chosen = bunch.data[nearest]
    np.testing.assert_allclose(mean, chosen.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(scale, chosen.std(axis=0), rtol=1e-9)
    assert not np.allclose(mean, bunch.data.mean(axis=0), rtol=1e-6)
