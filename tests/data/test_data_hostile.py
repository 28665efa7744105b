"""Hostile dataset files (issue 12): decompression bombs, no images, images of no pixels, a header
of 255 dimensions. Each is refused with a data error naming the file, before memory is spent."""

from __future__ import annotations

import gzip
import resource

import numpy as np
import pytest
from data_helpers import make_arrays, write_set

from reglab.data import DataError, IdxError, load_dataset
from reglab.data.idx import MAX_PAYLOAD, decompress_if_gzip, parse_idx


def _header(code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)


def test_a_gzip_bomb_is_refused_before_it_inflates(tmp_path, fault_log):
    # 3 GiB of zeros declared, compressed to a few MB: refused by its header, without inflating it.
    declared = _header(0x08, (60000, 224, 224))
    bomb = gzip.compress(declared + bytes(64 << 20), compresslevel=9)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(IdxError, match="header declares 60000x224x224"):
        decompress_if_gzip(bomb, "train-images-idx3-ubyte.gz")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 64, f"inflating the bomb took {grown_mib:.0f} MiB"
    fault_log(f"a gzip IDX of {len(bomb) // 1024} kB declaring 3 GB", 1,
              "a data error from its header, before anything is inflated")


def test_a_gzip_that_inflates_past_its_header_is_refused():
    liar = gzip.compress(_header(0x08, (2, 4, 4)) + bytes(10 << 20))
    with pytest.raises(IdxError, match="inflates to more than the 48 bytes its IDX header declares"):
        decompress_if_gzip(liar, "t10k-images-idx3-ubyte.gz")


def test_several_gzip_members_are_one_payload():
    payload = _header(0x08, (1, 2, 2)) + bytes([1, 2, 3, 4])
    joined = gzip.compress(payload[:7]) + gzip.compress(payload[7:])
    assert decompress_if_gzip(joined, "x") == payload
    assert parse_idx(payload, "x").shape == (1, 2, 2)


@pytest.mark.parametrize("ndim", [9, 64, 255])
def test_a_header_of_many_dimensions_is_refused(ndim, fault_log):
    with pytest.raises(IdxError, match=f"declares {ndim} dimensions"):
        parse_idx(_header(0x08, (1,) * ndim) + b"\0", "labels")
    if ndim == 255:
        fault_log("dataset file: an IDX header of 9, 64 or 255 dimensions", 3, "a data error naming the file")


def test_the_payload_limit_is_stated():
    assert MAX_PAYLOAD >= 1 << 30  # EMNIST's largest file (0.7 GB) must fit


@pytest.mark.parametrize("change, what", [
    (lambda a: a.update({"t10k-images": a["t10k-images"][:0], "t10k-labels": a["t10k-labels"][:0]}), "0 test images"),
    (lambda a: a.update({k: np.zeros((len(a[k]), 0, 0), np.uint8) for k in ("train-images", "t10k-images")}),
     "0x0 images"),
])
def test_no_images_or_images_of_no_pixels_are_refused(tmp_path, change, what, fault_log):
    arrays = make_arrays()
    change(arrays)
    write_set(tmp_path / "d", arrays)
    with pytest.raises(DataError, match="no images, or images of no pixels"):
        load_dataset("mnist", data_dir=tmp_path / "d", allow_download=False)
    fault_log(f"dataset files: {what}", 1, "a data error naming the files and the problem")
