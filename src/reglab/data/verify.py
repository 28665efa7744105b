"""Checksums of a file as stored and of the IDX payload inside it, and whether they match.

One read and one decompression give both the digests and the payload, so verifying a
cached file costs nothing extra when it is about to be parsed anyway.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .errors import IdxError
from .idx import decompress_if_gzip
from .sources import FileSpec


@dataclass(frozen=True)
class Digests:
    payload_sha256: str
    archive_sha256: str
    archive_md5: str


def digest_bytes(data: bytes, name: str) -> tuple[Digests, bytes]:
    """Digests of `data` (a file's bytes) and its decompressed payload."""
    payload = decompress_if_gzip(data, name)
    digests = Digests(
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        archive_sha256=hashlib.sha256(data).hexdigest(),
        # usedforsecurity=False: md5 is only a published identifier here; FIPS builds allow it.
        archive_md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
    )
    return digests, payload


def matches(spec: FileSpec, d: Digests) -> bool:
    """True when any pinned hash of `spec` matches (see sources.py for why any one suffices)."""
    return (
        (spec.payload_sha256 is not None and d.payload_sha256 == spec.payload_sha256)
        or (spec.archive_sha256 is not None and d.archive_sha256 == spec.archive_sha256)
        or (spec.archive_md5 is not None and d.archive_md5 == spec.archive_md5)
    )


def mismatch_message(spec: FileSpec, d: Digests) -> str:
    """One line saying what was expected and what was found."""
    if spec.payload_sha256 is not None:
        return (
            f"{spec.filename}: checksum mismatch: decompressed payload sha256 is "
            f"{d.payload_sha256}, expected {spec.payload_sha256}"
        )
    return (
        f"{spec.filename}: checksum mismatch: sha256 is {d.archive_sha256}, "
        f"expected {spec.archive_sha256}"
    )


def check_file(path: Path, spec: FileSpec) -> tuple[bool, bytes | None, str]:
    """(valid, payload, why) for a file on disk; never raises for a bad file.

    `payload` is None when the file could not be read or decompressed; `why` says what is
    wrong in one line (empty when valid).
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        return False, None, f"{path.name}: cannot read {path}: {e.strerror or e}"
    try:
        d, payload = digest_bytes(data, path.name)
    except IdxError as e:
        return False, None, str(e)
    if matches(spec, d):
        return True, payload, ""
    return False, payload, mismatch_message(spec, d)
