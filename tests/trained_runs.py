"""A small real study trained once per test session (digits, a few epochs): the live page's and the
exporters' tests read it back as a user's run directory."""

from __future__ import annotations

import shutil
from pathlib import Path

EPOCHS = 4  # of the finished study the tests share

# The one small study of the tests (digits, two variants, two seeds). `tiny_study()` is the plain
# form tests train directly (conftest's tiny_study_file); the live page's and the exporters' form
# adds a hostile name, description and a schedule (their escaping and tags are what they test).
TINY = """
name = "{name}"
description = "{description}"
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
name = "{l2_name}"
{l2_words}l2 = 0.001
dropout = 0.2
{l2_extra}"""


def tiny_study(epochs: int = 2) -> str:
    return TINY.format(name="tiny", description="two small variants for tests", epochs=epochs, l2_name="l2",
                       l2_words="", l2_extra="")


def study_text(epochs: int) -> str:
    """The live page's and the exporters' form of the tiny study."""
    return TINY.format(
        name="tiny-live", description="two small variants, trained for the live page and the exporters",
        epochs=epochs, l2_name="l2 <b>&amp;",
        l2_words='description = "<script>alert(1)</script> & a description"\ndescription_ja = "L2 正則化 <i>と</i>"\n',
        l2_extra='schedule = { name = "step", boundaries = [2], values = [0.001, 0.0005] }\n')


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
