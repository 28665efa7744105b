"""IDX reading and writing: round trips, real files, and one exact message per fault."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest
from data_helpers import shared_dir
from hypothesis import given, settings
from hypothesis import strategies as st

from reglab.data import IdxError, parse_idx, read_idx, write_idx
from reglab.data.idx import encode_idx, read_payload
from reglab.data.sources import FASHION_MNIST, MNIST

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
SHAPES = [(7,), (3, 5), (4, 3, 2), (2, 1, 3, 2)]


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip(tmp_path, dtype, shape, compress):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    back = read_idx(write_idx(tmp_path / "a", array, compress=compress))
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_gzip_is_detected_by_content_not_name(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    gz_named_raw = write_idx(tmp_path / "raw.gz", array, compress=False)
    raw_named_gz = write_idx(tmp_path / "packed.idx", array, compress=True)
    np.testing.assert_array_equal(read_idx(gz_named_raw), array)
    np.testing.assert_array_equal(read_idx(raw_named_gz), array)


def test_big_endian_on_disk():
    assert encode_idx(np.array([1, 256], dtype=np.int32)) == (
        b"\x00\x00\x0c\x01" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x01" + b"\x00\x00\x01\x00"
    )


def _header(code: int, *dims: int) -> bytes:
    return bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _header(0x08, 10000, 28, 28) + bytes(1234),
            "t10k-images-idx3-ubyte.gz: truncated: header says 10000x28x28 = 7840000 bytes of "
            "uint8, file has 1234 after the 16-byte header",
        ),
        (
            _header(0x0C, 2, 3) + bytes(24 + 5),
            "t10k-images-idx3-ubyte.gz: 5 trailing bytes: header says 2x3 = 24 bytes of int32, "
            "file has 29 after the 12-byte header",
        ),
        (
            b"\x08\x03\x00\x00" + bytes(20),
            "t10k-images-idx3-ubyte.gz: not an IDX file: magic number starts with 0x0803, "
            "expected 0x0000",
        ),
        (
            _header(0x07, 2) + bytes(2),
            "t10k-images-idx3-ubyte.gz: unknown IDX data type code 0x07 (known: 0x08 uint8, "
            "0x09 int8, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64)",
        ),
        (
            _header(0x08, 10000, 28, 28)[:10],
            "t10k-images-idx3-ubyte.gz: truncated header: 3 dimensions need 16 bytes, file has 10",
        ),
        (b"", "t10k-images-idx3-ubyte.gz: too short for an IDX header: 0 bytes, need at least 4"),
        (b"\x00\x00\x08\x00", "t10k-images-idx3-ubyte.gz: IDX header declares 0 dimensions"),
    ],
    ids=["truncated", "trailing", "magic", "dtype", "short-header", "empty", "no-dims"],
)
def test_malformed_idx_messages(data, message, fault_log):
    with pytest.raises(IdxError) as e:
        parse_idx(data, "t10k-images-idx3-ubyte.gz")
    assert str(e.value) == message
    fault_log("dataset file: " + message.split(": ", 1)[1].split(", ")[0], 1,
              "a data error naming the file and the problem")


def test_truncated_gzip(tmp_path, fault_log):
    fault_log("dataset file: gzip stream cut in half", 1, "a data error: truncated gzip stream")
    packed = gzip.compress(encode_idx(np.zeros((50, 28, 28), np.uint8)))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(IdxError, match=r"^train-images-idx3-ubyte\.gz: truncated gzip stream"):
        read_idx(path)


def test_corrupt_gzip(tmp_path, fault_log):
    fault_log("dataset file: gzip with a flipped CRC byte", 1, "a data error: corrupt gzip data")
    packed = bytearray(gzip.compress(encode_idx(np.arange(1000, dtype=np.int32))))
    packed[-8] ^= 0xFF  # the CRC32 of the payload
    path = tmp_path / "labels.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(IdxError, match=r"^labels\.gz: corrupt gzip data: CRC check failed"):
        read_idx(path)


def test_missing_file_is_an_idx_error(tmp_path):
    with pytest.raises(IdxError, match="nothing.gz: cannot read"):
        read_idx(tmp_path / "nothing.gz")


def test_any_bytes_give_an_array_or_an_idx_error(fault_log):
    tried = []

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=64))
    def check(data):
        tried.append(data)
        try:
            parse_idx(data, "x")
        except IdxError:
            pass

    check()
    assert tried  # its own row of the fault table, whatever ran before it
    fault_log("dataset file: random bytes (hypothesis)", len(tried), "an array or a data error, nothing else")


# Real files beside the repository: shapes, label range and the pinned payload hashes.


def test_real_fashion_mnist():
    folder = shared_dir("fashion-mnist")
    for spec in FASHION_MNIST.files:
        path = folder / spec.filename
        payload = read_payload(path)
        assert hashlib.sha256(payload).hexdigest() == spec.payload_sha256, spec.filename
        array = parse_idx(payload, path.name)
        n = 60000 if spec.role.startswith("train") else 10000
        if spec.role.endswith("images"):
            assert array.shape == (n, 28, 28) and array.dtype == np.uint8
        else:
            assert array.shape == (n,) and array.min() == 0 and array.max() == 9


def test_real_mnist_t10k_matches_payload_and_archive_hashes():
    folder = shared_dir("mnist-t10k")
    for role in ("t10k-images", "t10k-labels"):
        spec = MNIST.file(role)
        data = (folder / spec.filename).read_bytes()
        assert hashlib.md5(data).hexdigest() == spec.archive_md5
        assert hashlib.sha256(data).hexdigest() == spec.archive_sha256
        assert hashlib.sha256(gzip.decompress(data)).hexdigest() == spec.payload_sha256
