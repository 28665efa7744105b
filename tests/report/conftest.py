"""Fixtures: synthetic run directories (see synthetic_runs.py) and their reports."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from synthetic_runs import STANDARD, make_run


@pytest.fixture
def synthetic_run(tmp_path: Path) -> Path:
    return make_run(tmp_path / "run", STANDARD, seeds=[0, 1, 2, 3, 4])


@dataclass
class Rendered:
    reports: dict[str, Path]  # language -> report.html
    warnings: list[str]  # what matplotlib (or anything) warned while drawing them


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The standard synthetic study's report in both languages, rendered once for the session.
    Its class names are Japanese, so that the English figures draw Japanese too."""
    from reglab.report import write_report

    root = make_run(tmp_path_factory.mktemp("rendered") / "run", STANDARD, seeds=[0, 1, 2, 3, 4],
                    class_names=["Tシャツ", "ズボン", "バッグ"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reports = {lang: write_report(root, root / f"report-{lang}", lang=lang) for lang in ("en", "ja")}
    return Rendered(reports, [str(w.message) for w in caught])
