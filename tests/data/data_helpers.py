"""Helpers for the data-layer tests: generated IDX datasets, pinned copies of sources,
and a real HTTP server on 127.0.0.1 (no mocks: a loopback server is cheap)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from reglab.data import sources
from reglab.data.idx import encode_idx, write_idx
from reglab.data.sources import FILE_ROLES, STANDARD_NAMES

SHARED_DATA = (Path(__file__).parents[2] / ".." / "shared" / "data").resolve()

# The folders of ../shared/data and the dataset whose cache holds the same files.
CACHED_AS = {"fashion-mnist": "fashion-mnist", "mnist-t10k": "mnist"}


def _user_cache_root() -> Path:
    """reglab's cache as the user has it: read when the tests are collected, before each test's
    fixture points REGLAB_DATA at an empty folder of its own (conftest._isolated_data_cache)."""
    from reglab.data import paths

    return paths.cache_root()


USER_CACHE = _user_cache_root()


def shared_dir(name: str) -> Path:
    """Real files: reglab's cache (`reglab data fetch` fills it), a system package's folder
    (Debian's dataset-fashion-mnist), or a developer checkout's ../shared/data; else skip, saying
    how a user gets them. Tests never download."""
    from reglab.data import paths

    source = CACHED_AS.get(name, name)
    wanted = [f for f in (spec.filename for spec in sources.get_source(source).files)
              if name != "mnist-t10k" or f.startswith("t10k")]
    system = paths.system_dir(source)
    for folder in (USER_CACHE / source, system, SHARED_DATA / name):
        if folder is not None and all((folder / f).exists() for f in wanted):
            return folder
    package = " or `apt-get install dataset-fashion-mnist` (Debian, Ubuntu)" if source == "fashion-mnist" else ""
    pytest.skip(f"needs the real {source} files: run `reglab data fetch {source}` once (into {USER_CACHE / source}; "
                f"tests never download){package}")


def make_arrays(n_train: int = 30, n_test: int = 10, shape=(28, 28), seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "train-images": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        "train-labels": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        "t10k-labels": (np.arange(n_test) % 10).astype(np.uint8),
    }


def write_set(directory: Path, arrays: dict, compress: bool = True) -> dict[str, Path]:
    """The four files under their standard names (without .gz when not compressed)."""
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for role in FILE_ROLES:
        name = STANDARD_NAMES[role] if compress else STANDARD_NAMES[role].removesuffix(".gz")
        out[role] = write_idx(directory / name, arrays[role], compress=compress)
    return out


def gz_bytes(arrays: dict) -> dict[str, bytes]:
    """What a mirror serves: {standard file name: gzip bytes}."""
    return {STANDARD_NAMES[r]: gzip.compress(encode_idx(arrays[r]), mtime=0) for r in FILE_ROLES}


def pin(arrays: dict, name: str = "mnist", mirrors: tuple[str, ...] = ()) -> sources.Source:
    """A copy of source `name` whose pinned payload hashes are those of `arrays`."""
    files = tuple(
        sources.FileSpec(
            role, STANDARD_NAMES[role], hashlib.sha256(encode_idx(arrays[role])).hexdigest()
        )
        for role in FILE_ROLES
    )
    return dataclasses.replace(sources.SOURCES[name], files=files, mirrors=mirrors)


class FileServer:
    """Routes: path -> ("ok", body) | ("cut", body, n): announce len(body), send n, hang up
    | ("redirect", url). Anything else is a 404. Counts requests per path."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple] = {}
        self.requests: Counter[str] = Counter()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                owner.requests[self.path] += 1
                route = owner.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                if route[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", route[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = route[1]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if route[0] == "ok" else body[: route[2]])
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{prefix}/"

    def serve(self, prefix: str, files: dict[str, bytes]) -> str:
        for name, body in files.items():
            self.routes[f"/{prefix}/{name}"] = ("ok", body)
        return self.url(prefix)

    def total(self) -> int:
        return sum(self.requests.values())

