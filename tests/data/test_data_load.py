"""Finding a dataset: --data-dir, Debian's package, the cache, a download, and `auto`'s
fallback to the embedded digits when none of those works."""

from __future__ import annotations

import numpy as np
import pytest
from data_helpers import gz_bytes, make_arrays, pin, shared_dir, write_set

from reglab.data import DataError, IdxError, list_datasets, load_dataset, paths, resolve_dataset
from reglab.data.sources import STANDARD_NAMES


def test_data_dir_with_generated_files(tmp_path):
    arrays = make_arrays(n_train=20, n_test=5, shape=(6, 7))
    write_set(tmp_path / "mine", arrays, compress=False)
    ds = load_dataset("mnist", data_dir=tmp_path / "mine", allow_download=False)
    assert ds.origin == f"--data-dir {tmp_path / 'mine'}"
    assert ds.verified is False, "not the published MNIST, but accepted as the user's own data"
    assert ds.train_images.shape == (20, 6, 7) and ds.train_images.dtype == np.uint8
    assert ds.train_labels.dtype == np.int64 and ds.test_labels.dtype == np.int64
    np.testing.assert_array_equal(ds.test_images, arrays["t10k-images"])
    assert ds.pixel_max == 255.0 and ds.class_names == tuple("0123456789")
    assert not ds.train_images.flags.writeable


def test_data_dir_that_matches_the_pins_is_verified(tmp_path, register):
    arrays = make_arrays()
    register(pin(arrays))
    write_set(tmp_path / "d", arrays)
    assert load_dataset("mnist", data_dir=tmp_path / "d").verified


def test_data_dir_missing_files_are_listed(tmp_path):
    paths_ = write_set(tmp_path / "d", make_arrays())
    paths_["train-labels"].unlink()
    paths_["t10k-images"].unlink()
    with pytest.raises(DataError) as e:
        load_dataset("mnist", data_dir=tmp_path / "d")
    assert str(e.value).startswith(
        f"{tmp_path / 'd'} lacks 2 of the 4 mnist files: train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz"
    )


def test_data_dir_that_does_not_exist(tmp_path):
    with pytest.raises(DataError, match="nowhere is not a directory"):
        load_dataset("mnist", data_dir=tmp_path / "nowhere")


def test_data_dir_with_a_broken_file(tmp_path):
    paths_ = write_set(tmp_path / "d", make_arrays(), compress=False)
    data = paths_["t10k-images"].read_bytes()
    paths_["t10k-images"].write_bytes(data[:-100])
    with pytest.raises(IdxError, match=r"t10k-images-idx3-ubyte: truncated: header says 10x28x28"):
        load_dataset("mnist", data_dir=tmp_path / "d")


def test_data_dir_with_mismatched_counts(tmp_path, fault_log):
    arrays = make_arrays()
    arrays["train-labels"] = arrays["train-labels"][:-1]
    write_set(tmp_path / "d", arrays)
    with pytest.raises(DataError, match="30 train images but 29 labels"):
        load_dataset("mnist", data_dir=tmp_path / "d")
    fault_log("dataset files: one label fewer than images", 1, "a data error saying the files do not belong together")


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update({"t10k-images": a["t10k-images"][:, :27, :27]}), "train images are (28, 28), test images (27, 27)"),
    (lambda a: a.update({"train-labels": a["train-labels"] + 10}), "train labels span"),
    (lambda a: a.update({"train-images": a["train-images"].reshape(30, -1)}), "train images must be uint8 (N, H, W)"),
], ids=["image-size", "label-range", "flat-images"])
def test_data_dir_with_wrongly_shaped_files(tmp_path, fault_log, change, message):
    arrays = make_arrays()
    change(arrays)
    write_set(tmp_path / "d", arrays)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_dataset("mnist", data_dir=tmp_path / "d")
    fault_log(f"dataset files: wrongly shaped ({message.split(':')[0]})", 1, "a data error naming the mismatch")


def test_debian_package_path(monkeypatch):
    folder = shared_dir("fashion-mnist")  # the files Debian's dataset-fashion-mnist installs
    monkeypatch.setitem(paths.SYSTEM_DIRS, "fashion-mnist", folder)
    ds = load_dataset("fashion-mnist", allow_download=False)
    assert ds.origin == f"Debian package {folder}"
    assert ds.verified
    assert ds.train_images.shape == (60000, 28, 28) and ds.test_images.shape == (10000, 28, 28)
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    info = {row.name: row for row in list_datasets()}["fashion-mnist"]
    assert info.system_dir == folder and not info.cached


def test_download_into_cache_then_load_from_cache(server, register):
    arrays = make_arrays()
    register(pin(arrays, mirrors=(server.serve("m", gz_bytes(arrays)),)))
    ds = load_dataset("mnist", progress=False)
    assert ds.origin == f"cache {paths.cache_dir('mnist')}" and ds.verified
    assert server.total() == 4
    again = load_dataset("mnist", allow_download=False)
    np.testing.assert_array_equal(again.train_images, ds.train_images)
    assert server.total() == 4
    assert {row.name: row for row in list_datasets()}["mnist"].cached


def test_corrupt_cache_without_download_is_an_error(server, register):
    arrays = make_arrays()
    register(pin(arrays, mirrors=(server.serve("m", gz_bytes(arrays)),)))
    load_dataset("mnist", progress=False)
    (paths.cache_dir("mnist") / STANDARD_NAMES["train-labels"]).write_bytes(b"junk")
    with pytest.raises(DataError, match="does not match the published mnist checksum"):
        load_dataset("mnist", allow_download=False)
    assert load_dataset("mnist", progress=False).verified  # repaired by a download
    assert server.total() == 5


def test_auto_falls_back_to_digits_with_a_reason(closed_port_url, register):
    register(pin(make_arrays(), mirrors=(closed_port_url,)))
    ds, notices = resolve_dataset("auto", progress=False)
    assert ds.name == "digits" and ds.origin == "scikit-learn embedded"
    assert ds.train_images.shape == (1797, 8, 8) and ds.pixel_max == 16.0
    assert ds.train_images.max() == 16 and ds.test_images is None
    (notice,) = notices
    assert "\n" not in notice
    assert "connection refused" in notice
    assert "`reglab data fetch mnist`" in notice and "--data-dir" in notice


def test_auto_uses_mnist_when_it_can(server, register):
    arrays = make_arrays()
    register(pin(arrays, mirrors=(server.serve("m", gz_bytes(arrays)),)))
    ds, notices = resolve_dataset("auto", progress=False)
    assert ds.name == "mnist" and notices == []


def test_auto_without_download_says_so():
    ds, (notice,) = resolve_dataset("auto", allow_download=False)
    assert ds.name == "digits" and "downloading is off" in notice


def test_named_dataset_is_never_swapped(closed_port_url, register):
    register(pin(make_arrays(), name="kmnist", mirrors=(closed_port_url,)))
    with pytest.raises(DataError) as e:
        resolve_dataset("kmnist", progress=False)
    message = str(e.value)
    assert message.startswith("kmnist is not in the cache and could not be downloaded (")
    assert "connection refused" in message
    assert "Fix: run `reglab data fetch kmnist` on a machine with internet" in message
    assert "--data-dir DIR" in message and "--dataset digits" in message


def test_own_data_gets_a_notice(tmp_path):
    write_set(tmp_path / "d", make_arrays())
    ds, (notice,) = resolve_dataset("mnist", data_dir=tmp_path / "d")
    assert not ds.verified and "do not match the published mnist checksums" in notice


def test_list_datasets_makes_no_request():
    rows = {row.name: row for row in list_datasets()}
    assert list(rows) == ["mnist", "fashion-mnist", "kmnist", "digits", "breast_cancer", "wine", "iris", "diabetes"]
    assert rows["wine"].embedded and "a table" in rows["wine"].availability
    assert "regression" in rows["diabetes"].availability
    assert rows["digits"].embedded and rows["digits"].availability == "embedded in scikit-learn"
    assert not rows["mnist"].cached
    assert "reglab data fetch mnist" in rows["mnist"].availability
    assert rows["kmnist"].description_ja


def test_another_datasets_files_under_the_wrong_name_are_refused_saying_what_they_are():
    folder = shared_dir("fashion-mnist")  # real Fashion-MNIST files: they match its published checksums
    with pytest.raises(DataError) as caught:
        load_dataset("kmnist", data_dir=folder, allow_download=False)
    assert "is fashion-mnist's train-images file" in caught.value.problem and "not kmnist's" in caught.value.problem
    assert "--dataset fashion-mnist" in caught.value.fix
