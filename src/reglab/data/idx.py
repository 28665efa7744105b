"""IDX files (the MNIST family's format), read and written with numpy.

Format (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"): two zero bytes, a type
code, the number of dimensions, then one big-endian uint32 per dimension, then the values,
big-endian, row-major. Files usually come gzip-compressed; we recognise gzip by its magic
bytes rather than by the ".gz" suffix, because users rename files and Debian ships both.

Everything that can be wrong with a file raises `IdxError` naming the file and the exact
fault, since "cannot reshape array of size 1234" is not something a user can act on.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from .errors import IdxError

GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> (big-endian numpy dtype, name used in messages).
_DTYPES: dict[int, tuple[str, str]] = {
    0x08: (">u1", "uint8"),
    0x09: (">i1", "int8"),
    0x0B: (">i2", "int16"),
    0x0C: (">i4", "int32"),
    0x0D: (">f4", "float32"),
    0x0E: (">f8", "float64"),
}
_CODES = {np.dtype(big).newbyteorder("="): code for code, (big, _) in _DTYPES.items()}
_KNOWN = ", ".join(f"0x{code:02x} {name}" for code, (_, name) in _DTYPES.items())


# The largest IDX payload reglab reads: EMNIST's biggest file is 0.7 GB; a header that declares more
# is refused before anything is allocated (a 3 MB gzip can inflate to 3 GB of zeros).
MAX_PAYLOAD = 2 << 30
MAX_DIMENSIONS = 8  # images are 3, labels 1; numpy itself stops at 64
_CHUNK = 1 << 22


def decompress_if_gzip(data: bytes, name: str) -> bytes:
    """The IDX bytes inside `data`: gunzipped when it starts with the gzip magic. Inflated in
    chunks, never past the size its IDX header declares (nor MAX_PAYLOAD)."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return _gunzip_bounded(data, name)
    except EOFError as e:
        raise IdxError(
            f"{name}: truncated gzip stream ({len(data)} bytes; the file was probably cut off "
            f"while downloading or copying): {e}"
        ) from None
    except (gzip.BadGzipFile, zlib.error, OSError) as e:
        reason = "CRC check failed" if "incorrect data check" in str(e) else str(e)  # zlib's words for it
        raise IdxError(f"{name}: corrupt gzip data: {reason}") from None


def _gunzip_bounded(data: bytes, name: str) -> bytes:
    out = bytearray()
    limit = MAX_PAYLOAD
    rest = data
    while rest:  # a gzip file may hold several members, one after another
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pending = rest
        while not inflater.eof:
            chunk = inflater.decompress(pending, _CHUNK)
            pending = inflater.unconsumed_tail
            out += chunk
            if limit == MAX_PAYLOAD and len(out) >= 4 and len(out) >= 4 + 4 * out[3]:
                limit = min(limit, _declared_size(bytes(out[:4 + 4 * out[3]]), name))
            if len(out) > limit:
                raise IdxError(f"{name}: inflates to more than the {limit:,} bytes its IDX header declares")
            if not chunk and not pending:
                raise EOFError("the stream ends before its end marker")
        rest = inflater.unused_data.lstrip(b"\x00")  # gzip allows zero padding after a member
    return bytes(out)


def _declared_size(header: bytes, name: str) -> int:
    """Header plus values, as an IDX header declares them; IdxError when over MAX_PAYLOAD."""
    ndim = header[3]
    if not 0 < ndim <= MAX_DIMENSIONS or header[2] not in _DTYPES:
        return MAX_PAYLOAD  # parse_idx explains what is wrong
    shape = [int.from_bytes(header[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    size = 4 + 4 * ndim + math.prod(shape) * np.dtype(_DTYPES[header[2]][0]).itemsize
    if size > MAX_PAYLOAD:
        raise IdxError(f"{name}: its header declares {'x'.join(map(str, shape))} values ({size:,} bytes), more than "
                       f"any dataset reglab reads ({MAX_PAYLOAD:,} bytes)")
    return size


def parse_idx(data: bytes, name: str) -> np.ndarray:
    """Parse uncompressed IDX bytes into a writable native-endian array.

    `name` only appears in error messages (usually the file name).
    """
    if len(data) < 4:
        raise IdxError(f"{name}: too short for an IDX header: {len(data)} bytes, need at least 4")
    if data[0] != 0 or data[1] != 0:
        raise IdxError(
            f"{name}: not an IDX file: magic number starts with 0x{data[0]:02x}{data[1]:02x}, "
            "expected 0x0000"
        )
    code, ndim = data[2], data[3]
    if code not in _DTYPES:
        raise IdxError(f"{name}: unknown IDX data type code 0x{code:02x} (known: {_KNOWN})")
    if ndim == 0:
        raise IdxError(f"{name}: IDX header declares 0 dimensions")
    if ndim > MAX_DIMENSIONS:
        raise IdxError(f"{name}: IDX header declares {ndim} dimensions; datasets have 1 (labels) or 3 (images)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(
            f"{name}: truncated header: {ndim} dimensions need {header} bytes, file has {len(data)}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    big, type_name = _DTYPES[code]
    expected = math.prod(shape) * np.dtype(big).itemsize
    actual = len(data) - header
    if actual != expected:
        dims = "x".join(map(str, shape))
        said = f"header says {dims} = {expected} bytes of {type_name}"
        if actual < expected:
            raise IdxError(
                f"{name}: truncated: {said}, file has {actual} after the {header}-byte header"
            )
        raise IdxError(
            f"{name}: {actual - expected} trailing bytes: {said}, file has {actual} "
            f"after the {header}-byte header"
        )
    values = np.frombuffer(data, dtype=big, offset=header).reshape(shape)
    # astype copies: callers get a writable array in native byte order whatever the type.
    return values.astype(values.dtype.newbyteorder("="))


def read_payload(path: str | Path) -> bytes:
    """The uncompressed IDX bytes of a file, gzip or raw."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise IdxError(f"{path.name}: cannot read {path}: {e.strerror or e}") from None
    return decompress_if_gzip(data, path.name)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw, into a numpy array."""
    path = Path(path)
    return parse_idx(read_payload(path), path.name)


def encode_idx(array: np.ndarray) -> bytes:
    """The uncompressed IDX bytes for `array`."""
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype} (it stores: {_KNOWN})")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX stores 1 to 255 dimensions, array has {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + np.ascontiguousarray(array, dtype=_DTYPES[code][0]).tobytes()


def write_idx(path: str | Path, array: np.ndarray, compress: bool) -> Path:
    """Write `array` as an IDX file, gzip-compressed when `compress` (used by tests, fixtures)."""
    path = Path(path)
    data = encode_idx(array)
    if compress:
        # mtime=0: the same array always gives the same bytes, so checksums are stable.
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path
