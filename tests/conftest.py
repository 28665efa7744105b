from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()

TINY_STUDY = """
name = "tiny"
description = "two small variants for tests"
seeds = [0, 1]

[data]
dataset = "digits"
train = 400
validation = 100
test = 200

[defaults]
hidden = [32, 16]
epochs = 2
batch_size = 64

[[variants]]
name = "basic"

[[variants]]
name = "l2"
l2 = 0.001
dropout = 0.2
"""


@pytest.fixture
def tiny_study_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_STUDY, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _isolated_data_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Never touch the user's cache, and never reach the internet from a test.
    monkeypatch.setenv("REGLAB_DATA", str(tmp_path_factory.mktemp("reglab-data")))
