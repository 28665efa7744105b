"""Your own data through a whole run: a CSV on the command line, arrays from Python, and the
built-in tabular study. The run directory says what the data were (path, bytes, sha256, columns,
rows per split, the fit), the report shows it, and a resume on other data is refused with the
reason, leaving the directory as it was."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from run_dirs import snapshot

import reglab
from reglab.cli import main
from reglab.data import DataError
from reglab.store import RunStore

TINY = """
name = "own-data"
seeds = [0]
[data]
train = 120
validation = 40
test = 40
[defaults]
hidden = [8]
epochs = 2
batch_size = 16
[[variants]]
name = "plain"
[[variants]]
name = "dropout"
dropout = 0.2
"""


def _csv(path, seed=0):
    rng = np.random.default_rng(seed)
    n = 200
    frame = pd.DataFrame({"size": rng.normal(3, 1, n), "colour": rng.choice(["red", "green", "blue"], n),
                          "weight": rng.normal(10, 2, n)})
    frame["kind"] = np.where(frame["size"] + (frame["colour"] == "red") > 3.5, "big", "small")
    frame.loc[::17, "weight"] = np.nan
    frame.to_csv(path, index=False)
    return path


def test_a_csv_from_the_command_line_is_recorded_reported_and_guarded(tmp_path, capsys, fault_log):
    study, table, out = tmp_path / "s.toml", _csv(tmp_path / "table.csv"), tmp_path / "run"
    study.write_text(TINY)
    assert main(["run", str(study), "--data", str(table), "--target", "kind", "--missing", "impute", "--out", str(out),
                 "--device", "cpu", "--no-report"]) == 0
    store = RunStore.open(out)
    data = store.data()
    fit = data["preprocessing"]
    assert data["dataset"] == "csv" and data["kind"] == "table" and data["class_names"] == ["big", "small"]
    assert data["source"]["sha256"] == hashlib.sha256(table.read_bytes()).hexdigest() == data["fingerprint"]
    assert data["source"]["bytes"] == table.stat().st_size and data["source"]["features"] == ["size", "colour", "weight"]
    assert data["splits"] == {"train": 120, "validation": 40, "test": 40}
    kinds = pd.read_csv(table)["kind"]
    counts = data["class_counts"]
    assert [sum(counts[p][0] for p in counts), sum(counts[p][1] for p in counts)] == \
        [int((kinds == "big").sum()), int((kinds == "small").sum())]  # stratified: every row once, by class
    assert all(abs(counts["train"][c] / 120 - counts["test"][c] / 40) < 0.05 for c in (0, 1))
    assert fit["output_columns"] == ["size", "colour=blue", "colour=green", "colour=red", "weight", "weight (missing)"]
    labels, _ = store.test_split()
    assert len(labels) == 40

    # What the report's data section says (the whole report draws figures: seconds this test need not spend).
    from reglab.report.html import _what_the_data_were
    from reglab.report.i18n import data_note

    english, japanese = (str(_what_the_data_were(data, lang)[0]) for lang in ("en", "ja"))
    assert f"the file {table} ({table.stat().st_size:,} bytes)" in english and data["fingerprint"] in english and "Target column kind; 3 feature" in english
    assert "from the 120 training rows only" in english and "訓練の 120 行だけ" in japanese and "目的列 kind" in japanese
    assert data_note(data["notes"][0], "ja") == ("table.csv: 200 行から 120/40/40 行（訓練/検証/テスト）を取り出しています"
                                                  "（要求は 120/40/40、層化抽出、split_seed=0）")

    # The trained networks take the table's own rows: the stored fit encodes them as training did.
    result = reglab.load(out)
    for variant in ("plain", "dropout"):
        assert (result.predict(variant, result.test_inputs, seed=0) == result.predictions(variant, 0)).all()
    rows = pd.read_csv(table)
    assert result.predict("plain", rows.head(17)).shape == (17,)  # missing cells imputed from the stored fit
    with pytest.raises(DataError, match="(?s)no column 'weight', which the model was trained on.*Fix: give rows"):
        result.predict("plain", rows.drop(columns="weight"))
    assert main(["predict", str(out), "--variant", "plain", str(table), "--out", str(tmp_path / "p.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "p.csv")) == 200

    # The same file edited: resuming is refused with the reason, and nothing in the directory changes.
    (out / "runs").joinpath(next(p.name for p in (out / "runs").iterdir())).joinpath("seed-0.json").unlink()
    before = snapshot(out)
    _csv(table, seed=1)
    capsys.readouterr()
    assert main(["resume", str(out), "--no-report"]) == 2
    err = capsys.readouterr().err
    assert "the data have changed since this directory was trained" in err and str(table) in err
    assert snapshot(out) == before
    fault_log("resume after the CSV it trained on was edited", 1,
              "refused (exit 2) naming the file and both sha256 prefixes; the directory unchanged")


@pytest.mark.parametrize("arguments, expected", [
    (["--data", "nowhere.csv", "--target", "kind"], "nowhere.csv: no such file or folder"),
    (["--data", "table.csv"], "a table needs a target column.*'size', 'colour', 'weight', 'kind'"),
    (["--data", "table.csv", "--target", "kind"], r"column 'weight' has \d+ missing value.*missing impute"),
    (["--data", "table.csv", "--target", "kind", "--missing", "impute", "--epochs", "1"], None),
], ids=["missing-file", "no-target", "missing-values", "batch-too-big"])
def test_bad_data_on_the_command_line_exits_2_and_writes_nothing(tmp_path, monkeypatch, capsys, fault_log, request,
                                                                  arguments, expected):
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "table.csv")
    study = tmp_path / "s.toml"
    study.write_text(TINY.replace("batch_size = 16", "batch_size = 256") if expected is None else TINY)
    assert main(["run", str(study), *arguments, "--out", str(tmp_path / "run"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Fix:" in err
    import re

    assert re.search(expected or r"batch_size 256 is more than the 120 training rows", err, re.S), err
    assert not (tmp_path / "run").exists()
    fault_log(f"reglab run --data: {request.node.callspec.id.replace('-', ' ')}", 1,
              "exit 2, one paragraph with the fix, no run directory")


def test_arrays_from_python_run_and_resume_only_with_the_same_arrays(tmp_path, fault_log):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    study = reglab.Study.from_toml_text(TINY)
    out = tmp_path / "run"
    result = reglab.run(study, data={"x": x, "y": y}, out=out, report=False, progress=False, device="cpu")
    assert result.dataset == "arrays" and RunStore.open(out).data()["source"]["shapes"] == {"train": [200, 5]}
    (out / "runs").joinpath(sorted(p.name for p in (out / "runs").iterdir())[0]).joinpath("seed-0.json").unlink()
    with pytest.raises(DataError, match="arrays passed from Python.*none were given"):
        reglab.resume(out, report=False, progress=False)
    with pytest.raises(reglab.ReglabError, match="the data have changed"):
        reglab.resume(out, data={"x": x[::-1], "y": y[::-1]}, report=False, progress=False)
    resumed = reglab.resume(out, data={"x": x, "y": y}, report=False, progress=False)
    assert len(resumed.runs) == 2
    fault_log("resume of a study trained on Python arrays: without them, and with other arrays", 2,
              "refused with the reason; with the same arrays it finishes")


def test_the_builtin_tabular_study_runs_offline_on_its_table(tmp_path, capsys):
    out = tmp_path / "tabular"
    assert main(["run", "tabular", "--epochs", "1", "--seeds", "1", "--out", str(out), "--offline", "--device", "cpu",
                 "--no-report"]) == 0
    data = json.loads((out / "data.json").read_text())
    assert data["dataset"] == "breast_cancer" and data["splits"] == {"train": 341, "validation": 114, "test": 114}
    assert data["class_names"] == ["malignant", "benign"] and data["source"]["columns"][0] == "mean radius"


def test_a_cnn_or_augmentation_on_a_table_is_refused_with_the_fix(fault_log):
    from reglab.config import DataSpec, load_study
    from reglab.data.prepared import prepare_data
    from reglab.engine.core import check_data_fits

    splits = prepare_data(DataSpec("wine", 100, 30, 30)).splits
    with pytest.raises(reglab.ConfigError) as caught:
        check_data_fits(load_study("cnn"), splits)
    message = str(caught.value)
    assert "model 'cnn' takes images, and these data are a table of 13 columns. Fix: a dense model" in message
    assert "augmentation shifts and rotates images" in message and "Fix: remove augmentation" in message
    fault_log("a CNN and image augmentation on a table's columns", 1, "a study error per variant with the fix")


def test_a_relative_path_in_a_study_file_is_read_from_the_study_files_folder(tmp_path, monkeypatch):
    from reglab.config import load_study

    folder = tmp_path / "studies"
    folder.mkdir()
    (folder / "s.toml").write_text(TINY.replace("[data]", '[data]\npath = "tables/t.csv"\ntarget = "kind"'))
    monkeypatch.chdir(tmp_path)  # elsewhere: the path still means the study file's folder
    data = load_study(str(folder / "s.toml")).data
    assert data.path == str(folder / "tables" / "t.csv") and data.target == "kind" and data.missing == "error"
    assert load_study(str(folder / "s.toml")).to_dict()["data"]["path"] == data.path  # stored absolute
    assert "path" not in load_study("tutorial").to_dict()["data"]  # studies without it read back as before
