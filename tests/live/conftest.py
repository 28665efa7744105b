from __future__ import annotations

from pathlib import Path

import pytest
from trained_runs import shared


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real finished study (trained once per session); copy it before changing it."""
    return shared(tmp_path_factory)
