"""Download a dataset's files into the cache, verified, atomically.

A file only ever appears under its final name complete and checked: it is streamed to a
hidden temporary file in the same directory, verified, fsynced and then `os.replace`d into
place. Whatever goes wrong on the way (dropped connection, short body, wrong checksum,
Ctrl-C) the temporary file is removed and the final name is untouched.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from . import net, paths
from .errors import DataError
from .sources import FileSpec, Source, get_source
from .verify import check_file

CONNECT_TIMEOUT = 3.0  # seconds: an offline machine gives up quickly
READ_TIMEOUT = 60.0  # seconds without a byte before a live download is abandoned
_CHUNK = 1 << 16


class _Failed(Exception):
    """One mirror failed for one file; `dead` means skip this mirror from now on."""

    def __init__(self, reason: str, dead: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.dead = dead


@dataclass
class _Session:
    """What the downloads of one fetch() share."""

    bar: Progress
    timeout: float
    read_timeout: float
    dead: set[str] = field(default_factory=set)  # mirrors that could not be reached at all


def fetch(
    source_name: str,
    *,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    mirrors: Sequence[str] | None = None,
) -> list[Path]:
    """Make sure every file of `source_name` is in the cache and valid; return their paths.

    Valid cached files are not downloaded again; invalid ones are replaced. `timeout` is
    for connecting, `read_timeout` for each wait on data. `mirrors` overrides the source's
    base URLs (tests point it at a local server). Embedded datasets return [].
    """
    source = get_source(source_name)
    if source.embedded:
        return []
    directory = Path(cache_dir) if cache_dir is not None else paths.cache_dir(source.name)
    bases = tuple(mirrors) if mirrors is not None else source.mirrors
    _make_dir(directory)

    done: list[Path] = []
    with _progress_bar(progress) as bar:
        session = _Session(bar, timeout, read_timeout)
        for spec in source.files:
            final = directory / spec.filename
            valid, _, why_invalid = check_file(final, spec) if final.exists() else (False, None, "")
            if not valid:
                _fetch_file(source, spec, final, bases, session, why_invalid)
            done.append(final)
    return done


def _fetch_file(
    source: Source,
    spec: FileSpec,
    final: Path,
    bases: Sequence[str],
    session: _Session,
    why_invalid: str,
) -> None:
    """Try each mirror in turn; raise DataError saying what each one did wrong."""
    failures: dict[str, list[str]] = {}  # reason -> hosts, so that "no network" reads once
    for base in bases:
        host = urlsplit(base).netloc or base
        if base in session.dead:
            failures.setdefault("unreachable for an earlier file", []).append(host)
            continue
        try:
            _download_verified(base + spec.filename, spec, final, session)
            return
        except _Failed as e:
            failures.setdefault(e.reason, []).append(host)
            if e.dead:
                session.dead.add(base)
    why = [f"{', '.join(hosts)}: {reason}" for reason, hosts in failures.items()]
    if why_invalid:
        why.insert(0, f"cached copy invalid ({why_invalid})")
    raise DataError(
        f"could not get {source.name} file {spec.filename}: " + "; ".join(why or ["no mirrors"]),
        f"check the network connection and run `reglab data fetch {source.name}` again "
        f"(or run it on a machine with internet and copy {paths.cache_dir(source.name)} here), "
        f"or download the four IDX files from {source.homepage} and pass `--data-dir DIR`, "
        "or use `--dataset digits`, which needs no download",
    )


def _download_verified(url: str, spec: FileSpec, final: Path, session: _Session) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{spec.filename}.", suffix=".part")
    os.close(fd)  # reopened by name so that errors can name it
    tmp = Path(tmp_name)
    try:
        with open(tmp, "wb") as out:
            _stream(url, out, spec.filename, session)
            out.flush()
            # fsync before the rename: after a crash the final name holds all bytes or none.
            os.fsync(out.fileno())
        valid, _, why = check_file(tmp, spec)
        if not valid:
            raise _Failed(why)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    finally:
        tmp.unlink(missing_ok=True)  # also on Ctrl-C: no .part files pile up


def _stream(url: str, out: BinaryIO, label: str, session: _Session) -> None:
    try:
        response = net.open_url(url, session.timeout, session.read_timeout)
    except (net.UrlRefused, OSError, http.client.HTTPException) as e:  # URLError is an OSError
        raise _Failed(*net.describe_error(e, session.timeout)) from None
    bar = session.bar
    with response:
        length_header = response.headers.get("Content-Length")
        expected = int(length_header) if length_header and length_header.isdigit() else None
        task = bar.add_task(label, total=expected)
        received = 0
        while True:
            try:
                chunk = response.read(_CHUNK)
            except (OSError, http.client.HTTPException) as e:  # timeouts, resets, IncompleteRead
                bar.remove_task(task)  # the next mirror starts a fresh bar
                raise _Failed(f"connection failed after {received} bytes: {e!r}") from None
            if not chunk:
                break
            _write(out, chunk)
            received += len(chunk)
            bar.update(task, completed=received)
    # http.client returns a short body without complaint when the server closes early.
    if expected is not None and received != expected:
        bar.remove_task(task)
        raise _Failed(f"connection closed after {received} of {expected} bytes")


def _write(out: BinaryIO, chunk: bytes) -> None:
    try:
        out.write(chunk)
    except OSError as e:  # a full disk is not the mirror's fault: stop, do not try the next
        raise DataError(
            f"cannot write {out.name}: {e.strerror or e}",
            f"free some disk space, or set {paths.ENV_VAR} to a directory on another disk",
        ) from None


def _make_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(
            f"cannot create the dataset cache directory {directory}: {e.strerror or e}",
            f"set {paths.ENV_VAR} to a writable directory",
        ) from None


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself (POSIX); not possible on Windows, where it is skipped."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _progress_bar(enabled: bool) -> Iterator[Progress]:
    """A rich progress bar on stderr, silent when disabled or stderr is not a terminal."""
    console = Console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not (enabled and sys.stderr.isatty()),
    )
    with bar:
        yield bar
