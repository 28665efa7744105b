"""Every file access inside a run directory goes through here: confined, checksummed, bounded.

Three promises, kept in this one place rather than by each caller:

- **Confined.** Nothing is read, written or deleted through a symbolic link, and nothing outside
  the directory. Reading opens with O_NOFOLLOW and checks each folder on the way with lstat: a link
  is damage, never followed. Writing replaces a link (or a folder, or a file) that sits where the
  store's own file or folder belongs by the real thing: the link itself goes, its target is never
  touched. (The directory itself may be a link: the user named it.) This guards against a crafted
  or damaged directory, not against another process racing us inside it.
- **Checksummed.** Every file carries a SHA-256 of its content, written with it: JSON files as a
  last key `"sha256"` over the compact text of the rest; binary files (checkpoints) behind a short
  header; a run's .npz and the test split's are covered by the record that describes them
  (RunStore). A reader that finds a mismatch reports the file as damaged, so a damaged file costs
  its own recomputation and nothing else.
- **Bounded.** A file is read only up to a size that no real one reaches, and an .npz's declared
  sizes are checked before anything is inflated (a few MB of zip can declare gigabytes).

Non-finite numbers: JSON has none, so NaN and infinities are written as null (`json_safe`), and
the typed readers (store/readers.py) turn null back into NaN where a number is expected.

Every reader raises `Damaged` (with a one-line reason) and nothing else for whatever is on disk.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import math
import os
import shutil
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from reglab.store.atomic import json_safe, write_atomic

CHECKSUM_KEY = "sha256"
SEALED_MAGIC = b"reglab-sealed/1\n"  # + 64 hex digits of SHA-256 + "\n" + the payload
MAX_JSON_BYTES = 64 << 20  # a record of 10,000 epochs is about 3 MB
MAX_FILE_BYTES = 8 << 30  # checkpoints: far above any model reglab's memory check lets train
MAX_NPZ_BYTES = 4 << 30  # what an .npz may declare, inflated (MNIST's test split: 8 MB)


class Damaged(Exception):
    """A stored file that cannot be trusted: missing, unreadable, a link, the wrong checksum or shape."""

    def __init__(self, reason: str, missing: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _compact(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def seal_json(obj: dict[str, Any]) -> bytes:
    """The text of a JSON file the store writes: `obj` (non-finite numbers as null) + its checksum."""
    clean = json_safe(obj)
    clean.pop(CHECKSUM_KEY, None)
    sealed = {**clean, CHECKSUM_KEY: digest(_compact(clean))}
    return (json.dumps(sealed, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def unseal_json(data: bytes, require_checksum: bool = True) -> dict[str, Any]:
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Damaged(f"not valid JSON ({type(exc).__name__})") from None
    if not isinstance(obj, dict):
        raise Damaged(f"a JSON {type(obj).__name__}, not an object")
    stored = obj.pop(CHECKSUM_KEY, None)
    if stored is None and not require_checksum:
        return obj  # written by reglab 0.1 (reglab-run/1), before files carried checksums
    try:
        actual = digest(_compact(obj))
    except (ValueError, TypeError):
        actual = None
    if stored != actual:
        raise Damaged("checksum mismatch" if stored is not None else "no checksum")
    return obj


def seal_bytes(payload: bytes) -> bytes:
    return SEALED_MAGIC + digest(payload).encode("ascii") + b"\n" + payload


def unseal_bytes(data: bytes) -> bytes:
    head = len(SEALED_MAGIC) + 65
    if not data.startswith(SEALED_MAGIC) or len(data) < head:
        raise Damaged("no checksum header")
    stored, payload = data[len(SEALED_MAGIC):head - 1].decode("ascii", "replace"), data[head:]
    if digest(payload) != stored:
        raise Damaged("checksum mismatch")
    return payload


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz that np.load reads. Floating-point arrays (weights) are stored as they are: deflate
    shrank them by under 10% and inflating them was a quarter of the time of a 1,000-run report.
    The others (predictions, labels, images) shrink many times and are compressed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, value in arrays.items():
            array = np.asanyarray(value)
            member = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_STORED if array.dtype.kind == "f" else zipfile.ZIP_DEFLATED
            with archive.open(member, "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, array, allow_pickle=False)
    return buffer.getvalue()


def read_npz_bytes(data: bytes, limit: int = MAX_NPZ_BYTES) -> dict[str, np.ndarray]:
    """The arrays of an .npz held in memory, without pickles, refusing one that declares more than
    `limit` bytes before inflating anything."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if sum(m.file_size for m in members) > limit:
                raise Damaged(f"declares {sum(m.file_size for m in members):,} bytes inflated, over {limit:,}")
            arrays = {}
            for member in members:
                if not member.filename.endswith(".npy"):
                    raise Damaged(f"{member.filename!r} is not an array")
                with archive.open(member) as handle:
                    version = np.lib.format.read_magic(handle)
                    header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = header(handle)
                    if dtype.hasobject:
                        raise Damaged("holds Python objects")
                    if math.prod(shape) * dtype.itemsize > member.file_size:
                        raise Damaged(f"{member.filename!r} declares more data than it holds")
                with archive.open(member) as handle:
                    arrays[member.filename[:-4]] = np.lib.format.read_array(handle, allow_pickle=False)
            return arrays
    except Damaged:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, KeyError, TypeError,
            NotImplementedError, OverflowError, MemoryError) as exc:
        raise Damaged(f"not a readable .npz ({type(exc).__name__})") from None


class RunFiles:
    """The files of one directory. A path is either a str, a name inside the directory
    ("study.json", "runs/00-basic"), or a Path, a real path (absolute or from the current
    directory) that must lie inside it, such as `root / "runs" / ...`."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._absolute = Path(os.path.abspath(self.root))

    def relative(self, path: Path | str) -> Path:
        relative = Path(path) if isinstance(path, str) else Path(os.path.abspath(path)).relative_to(self._absolute)
        if not relative.parts or any(part in ("..", ".") for part in relative.parts) or relative.is_absolute():
            raise ValueError(f"{path} is not a path inside {self.root}")  # a programming error, not damage
        return relative

    # ------------------------------------------------------------------ reading

    def _folder(self, relative: Path) -> Path:
        """The real folder holding `relative`, or Damaged: no link is followed on the way."""
        folder = self.root
        for part in relative.parts[:-1]:
            folder = folder / part
            try:
                mode = os.lstat(folder).st_mode
            except FileNotFoundError:
                raise Damaged("missing", missing=True) from None
            except OSError as exc:
                raise Damaged(f"unreadable ({exc.strerror})") from None
            if stat.S_ISLNK(mode):
                raise Damaged(f"{folder.relative_to(self.root)} is a symbolic link: not followed")
            if not stat.S_ISDIR(mode):
                raise Damaged(f"{folder.relative_to(self.root)} is not a folder")
        return folder

    def read_bytes(self, path: Path | str, limit: int = MAX_FILE_BYTES) -> bytes:
        relative = self.relative(path)
        target = self._folder(relative) / relative.name
        try:
            # O_NONBLOCK: a FIFO put in a file's place must not hang us (no effect on regular files).
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            raise Damaged("missing", missing=True) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise Damaged("a symbolic link: not followed") from None
            raise Damaged(f"unreadable ({exc.strerror})") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise Damaged("a folder, not a file" if stat.S_ISDIR(info.st_mode) else "not a regular file")
            if info.st_size > limit:
                raise Damaged(f"{info.st_size:,} bytes, more than any such file ({limit:,})")
            chunks, size = [], 0
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise Damaged(f"more than {limit:,} bytes")
            return b"".join(chunks)
        except OSError as exc:
            raise Damaged(f"unreadable ({exc.strerror})") from None
        finally:
            os.close(fd)

    def read_json(self, path: Path | str, require_checksum: bool = True) -> dict[str, Any]:
        return unseal_json(self.read_bytes(path, MAX_JSON_BYTES), require_checksum)

    def read_sealed(self, path: Path | str) -> bytes:
        return unseal_bytes(self.read_bytes(path))

    def read_text(self, path: Path | str) -> str:
        try:
            return self.read_bytes(path, MAX_JSON_BYTES).decode("utf-8")
        except UnicodeDecodeError:
            raise Damaged("not UTF-8 text") from None

    def make_folder_for(self, path: Path | str) -> None:
        """Make the folders on the way to `path` real ones (a link or file in their place is replaced)."""
        self._make_folder(self.relative(path))

    def exists(self, path: Path | str) -> bool:
        """A real file (not a link) at `path`, reached without following links."""
        relative = self.relative(path)
        try:
            return stat.S_ISREG(os.lstat(self._folder(relative) / relative.name).st_mode)
        except (Damaged, OSError):
            return False

    def files(self, folder: Path | str, prefix: str = "", suffix: str = "", depth: int = 0) -> Iterator[Path]:
        """The regular files in `folder` (and in its real subfolders, `depth` levels down) named
        prefix...suffix, sorted, as real paths (root / ...); links are left out."""
        try:
            base = self.root if folder == "." else self._folder(self.relative(folder) / "x")
        except Damaged:
            return
        yield from self._walk(base, prefix, suffix, depth)

    def _walk(self, base: Path, prefix: str, suffix: str, depth: int) -> Iterator[Path]:
        try:
            entries = sorted(os.scandir(base), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if depth and entry.is_dir(follow_symlinks=False):
                yield from self._walk(base / entry.name, prefix, suffix, depth - 1)
            elif not depth and entry.is_file(follow_symlinks=False) and entry.name.startswith(prefix) \
                    and entry.name.endswith(suffix):
                yield base / entry.name

    # ------------------------------------------------------------------ writing and deleting

    def _make_folder(self, relative: Path) -> Path:
        """The folder for `relative`, made real: a link or a file in its way is removed (never its target)."""
        folder = self.root
        for part in relative.parts[:-1]:
            folder = folder / part
            try:
                mode = os.lstat(folder).st_mode
            except FileNotFoundError:
                mode = None
            if mode is not None and not stat.S_ISDIR(mode):  # a link (to anything) or a file
                os.unlink(folder)
                mode = None
            if mode is None:
                os.mkdir(folder)
        return folder

    def _clear(self, target: Path) -> None:
        """Make way for a file at `target`: a folder there is removed (rmtree never follows links);
        a link or a file is replaced by the rename itself."""
        try:
            if stat.S_ISDIR(os.lstat(target).st_mode):
                shutil.rmtree(target)
        except FileNotFoundError:
            pass

    def write_bytes(self, path: Path | str, data: bytes) -> Path:
        relative = self.relative(path)

        def prepare() -> Path:
            target = self._make_folder(relative) / relative.name
            self._clear(target)
            return target

        target = self.root / relative
        write_atomic(target, lambda handle: handle.write(data), prepare=prepare)
        return target

    def write_json(self, path: Path | str, obj: dict[str, Any]) -> Path:
        return self.write_bytes(path, seal_json(obj))

    def write_sealed(self, path: Path | str, payload: bytes) -> Path:
        return self.write_bytes(path, seal_bytes(payload))

    def unlink(self, path: Path | str) -> None:
        """Delete the file (or the link: never its target) at `path`, if there is one."""
        relative = self.relative(path)
        try:
            target = self._folder(relative) / relative.name
        except Damaged:
            return  # not reachable without following a link: nothing of ours is there
        try:
            if stat.S_ISDIR(os.lstat(target).st_mode):
                shutil.rmtree(target)
            else:
                os.unlink(target)
        except FileNotFoundError:
            pass

    def open_lock(self, path: Path | str) -> int:
        """A file descriptor of the lock file, opened for writing without following a link."""
        relative = self.relative(path)
        target = self._make_folder(relative) / relative.name
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(target, flags, 0o666)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
                raise
            self.unlink(str(relative))  # a link, a folder or a FIFO in the lock's place
            fd = os.open(target, flags, 0o666)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            self.unlink(str(relative))
            fd = os.open(target, flags | os.O_EXCL, 0o666)
        return fd
