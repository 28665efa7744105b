"""A small real study trained once per test session (digits, a few epochs): the live page's and the
exporters' tests read it back as a user's run directory."""

from __future__ import annotations

import shutil
from pathlib import Path

EPOCHS = 4  # of the finished study the tests share

STUDY = """
name = "tiny-live"
description = "two small variants, trained for the live page and the exporters"
seeds = [0, 1]

[data]
dataset = "digits"
train = 400
validation = 100
test = 200

[defaults]
hidden = [32, 16]
epochs = {epochs}
batch_size = 64

[[variants]]
name = "basic"

[[variants]]
name = "l2 <b>&amp;"
description = "<script>alert(1)</script> & a description"
description_ja = "L2 正則化 <i>と</i>"
l2 = 0.001
dropout = 0.2
schedule = { name = "step", boundaries = [2], values = [0.001, 0.0005] }
"""


def study_text(epochs: int) -> str:
    return STUDY.replace("{epochs}", str(epochs))


def train(root: Path, epochs: int = EPOCHS) -> Path:
    """Train the study into `root` in this process, as `reglab run` does; returns root."""
    from reglab.cli import main

    source = root.parent / f"{root.name}.toml"
    source.write_text(study_text(epochs), encoding="utf-8")
    assert main(["run", str(source), "--out", str(root), "--no-report"]) == 0
    return root


_SHARED: dict[str, Path] = {}


def shared(tmp_path_factory) -> Path:
    """The finished study every test of the session shares: trained once, never changed (copy it)."""
    if "run" not in _SHARED:
        _SHARED["run"] = train(tmp_path_factory.mktemp("trained") / "run")
    return _SHARED["run"]


def copy(root: Path, to: Path) -> Path:
    shutil.copytree(root, to, ignore=shutil.ignore_patterns(".writer.lock"))
    return to
