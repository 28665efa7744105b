"""Fixtures for the data-layer tests: a throwaway cache, a registry to swap sources in,
a loopback HTTP server and a port where nothing listens."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from data_helpers import FileServer

from reglab.data import paths, sources


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """Every test gets an empty cache and no system datasets, whatever the machine has."""
    root = tmp_path / "cache"
    monkeypatch.setenv(paths.ENV_VAR, str(root))
    monkeypatch.setattr(paths, "SYSTEM_DIRS", {})
    return root


@pytest.fixture
def register(monkeypatch):
    """Swap a source in the registry for the duration of a test."""

    def _register(source: sources.Source) -> sources.Source:
        monkeypatch.setitem(sources.SOURCES, source.name, source)
        return source

    return _register


@pytest.fixture
def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def server():
    s = FileServer()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()
