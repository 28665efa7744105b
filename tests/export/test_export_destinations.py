"""Where an export goes, and what a spreadsheet makes of it (issue 24, faults 4 and 8).

Every exporter, given a destination it cannot write (an existing file, a folder under a missing
or unwritable parent, an MLflow store that is not a database), answers one paragraph with the fix
and exit 2, never a traceback; the run directory is untouched. CSV cells never start a formula,
and no two columns share a name.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from trained_runs import shared

from reglab.cli import main
from reglab.export import TARGETS
from reglab.export.csv_export import FORMULA_STARTS, cell


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    return shared(tmp_path_factory)


def _listing(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def _destinations(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    return {"an existing file": a_file, "a folder under a file": a_file / "sub",
            "a folder under a missing parent in /proc": Path("/proc/reglab-nonexistent/x")}


@pytest.mark.parametrize("target", TARGETS)
def test_every_exporter_refuses_a_destination_it_cannot_write(target, finished_run, tmp_path, capsys, fault_log):
    if target in ("tensorboard", "mlflow", "onnx"):
        pytest.importorskip(target)
    before = _listing(finished_run)
    for what, destination in _destinations(tmp_path).items():
        code = main(["export", str(finished_run), "--to", target, str(destination)])
        err = capsys.readouterr().err
        assert code == 2, (what, err)
        assert "Fix:" in err and str(destination) in err and "Traceback" not in err, (what, err)
    assert _listing(finished_run) == before
    fault_log(f"--to {target} into an existing file, a folder under a file, a folder under a missing parent", 3,
              "exit 2, one paragraph with the fix; the run directory untouched")


def test_an_mlflow_store_that_cannot_be_used(finished_run, capsys, fault_log):
    pytest.importorskip("mlflow")
    uris = ["sqlite:////etc/passwd", "sqlite:////proc/reglab-nonexistent/x.db"]
    for uri in uris:
        code = main(["export", str(finished_run), "--to", "mlflow", "--tracking-uri", uri])
        err = capsys.readouterr().err
        assert code == 2 and "Fix:" in err and uri in err, err
    fault_log("--to mlflow --tracking-uri to a file that is not a database, and under a missing folder", len(uris),
              "exit 2, one paragraph with the fix")


# ------------------------------------------------------------------------------------ CSV cells

STUDY = """
name = "cells"
seeds = [0]
[data]
dataset = "digits"
train = 200
validation = 50
test = 100
[defaults]
hidden = [8]
epochs = 1
[[variants]]
name = "=HYPERLINK(\\"http://x\\",\\"y\\")"
[[variants]]
name = "@SUM(1)"
[[variants]]
name = "+1"
[[variants]]
name = "-1"
[[sweeps]]
values.epochs = [1, 2]
"""


@pytest.fixture(scope="module")
def formula_names(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cells")
    (root / "cells.toml").write_text(STUDY, encoding="utf-8")
    assert main(["run", str(root / "cells.toml"), "--out", str(root / "run"), "--no-report"]) == 0
    return root / "run"


def _no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for value in row:
            assert not value.startswith(FORMULA_STARTS), value


def test_csv_export_writes_no_formula_and_no_two_columns_of_one_name(formula_names, tmp_path, fault_log):
    assert main(["export", str(formula_names), "--to", "csv", str(tmp_path / "csv")]) == 0
    for name in ("runs.csv", "epochs.csv"):
        with open(tmp_path / "csv" / name, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert len(rows[0]) == len(set(rows[0])), rows[0]
        _no_formula(rows)
    header = rows[0]
    with open(tmp_path / "csv" / "runs.csv", newline="", encoding="utf-8") as handle:
        runs = list(csv.DictReader(handle))
    assert {r["variant"] for r in runs} >= {"'=HYPERLINK(\"http://x\",\"y\")", "'@SUM(1)", "'+1", "'-1"}
    assert {(r["variant"], r["epochs"], r["epochs_trained"]) for r in runs if "epochs=" in r["variant"]} == {
        ("epochs=1", "1", "1"), ("epochs=2", "2", "2")}
    assert header  # epochs.csv has its header too
    fault_log("variant names starting with = @ + - (spreadsheet formulas) in CSV exports", 4,
              "written with a leading apostrophe; numbers stay numbers")


def test_results_csv_writes_no_formula_and_no_two_columns_of_one_name(formula_names, capsys):
    assert main(["results", str(formula_names), "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert len(rows[0]) == len(set(rows[0])) and "sweep.epochs" in rows[0], rows[0]
    _no_formula(rows)


def test_cells_keep_numbers_as_numbers():
    assert cell(-0.5) == -0.5 and cell(None) == "" and cell("-0.5") == "'-0.5" and cell("a=b") == "a=b"
