"""Where datasets live on disk: the user's cache and system-wide packages."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

# Read at call time, so tests (and users) can point it elsewhere. It replaces the
# ".../datasets" root: each dataset still gets its own sub-directory below it.
ENV_VAR = "REGLAB_DATA"

# Datasets that operating-system packages install. Debian and Ubuntu ship Fashion-MNIST as
# `dataset-fashion-mnist`. Module-level so tests can monkeypatch it.
SYSTEM_DIRS: dict[str, Path] = {
    "fashion-mnist": Path("/usr/share/datasets/fashion-mnist"),
}


def cache_root() -> Path:
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("reglab")) / "datasets"


def cache_dir(name: str) -> Path:
    """The cache directory of dataset `name` (not created here)."""
    return cache_root() / name


def system_dir(name: str) -> Path | None:
    return SYSTEM_DIRS.get(name)
