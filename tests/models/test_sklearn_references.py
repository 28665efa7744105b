"""Reference models beside the networks: scikit-learn fitted on the very splits the networks
had, stored per seed, shown in results and the report, refitted only where missing or damaged."""

from __future__ import annotations

import json

import pytest

import reglab
from reglab.cli import main
from reglab.config import DataSpec, parse_study
from reglab.data.prepared import prepare_data
from reglab.store import RunStore

STUDY = """
name = "with-references"
seeds = [0, 1]
references = ["logistic", "hist_gradient_boosting"]
[data]
dataset = "wine"
train = 100
validation = 30
test = 48
[defaults]
hidden = [8]
epochs = 1
batch_size = 16
[[variants]]
name = "plain"
"""


def test_references_are_scikit_learn_on_the_networks_splits_and_refit_only_when_lost(tmp_path, capsys, fault_log):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    study, out = tmp_path / "s.toml", tmp_path / "run"
    study.write_text(STUDY)
    assert main(["run", str(study), "--out", str(out), "--device", "cpu", "--no-report", "--offline"]) == 0
    printed = capsys.readouterr().out
    assert "(logistic)" in printed and "(boosting)" in printed and "trained on the same splits" in printed

    # An independent fit on the splits the study makes gives the stored numbers.
    splits = prepare_data(DataSpec("wine", 100, 30, 48)).splits
    runs = {(r["name"], r["seed"]): r for r in RunStore.open(out).references()}
    assert set(runs) == {(n, s) for n in ("logistic", "hist_gradient_boosting") for s in (0, 1)}
    for name, model in (("logistic", LogisticRegression(max_iter=2000)),
                        ("hist_gradient_boosting", HistGradientBoostingClassifier(random_state=1))):
        expected = (model.fit(splits.x_train, splits.y_train).predict(splits.x_test) == splits.y_test).mean()
        assert runs[(name, 1)]["test_accuracy"] == pytest.approx(expected, abs=1e-12)

    assert main(["results", str(out), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)["references"]
    assert [r["name"] for r in shown] == ["logistic", "hist_gradient_boosting"] and shown[0]["test_accuracy"]["n"] == 2

    # Lost or damaged: results still read, a resume fits them again, to the same numbers.
    before = (out / "references.json").read_bytes()
    (out / "references.json").write_bytes(b"\x00garbage")
    assert main(["results", str(out), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["references"][0]["runs"] == []
    assert main(["resume", str(out), "--no-report"]) == 0
    again = json.loads((out / "references.json").read_text())
    assert [(r["name"], r["seed"], r["test_accuracy"]) for r in again["runs"]] == \
        [(r["name"], r["seed"], r["test_accuracy"]) for r in json.loads(before)["runs"]]
    fault_log("references.json damaged (random bytes)", 1, "results read without it; resume fits the references "
              "again, to the same test accuracies")


def test_an_unknown_reference_is_refused_with_the_names():
    with pytest.raises(reglab.ConfigError, match=r"references \(line 4\): must be a list of reference models, each once, from logistic"):
        parse_study(STUDY.replace('"hist_gradient_boosting"', '"xgboost"'))
    assert "references" not in parse_study(STUDY.replace('references = ["logistic", "hist_gradient_boosting"]',
                                                         "")).to_dict()  # and old studies read back unchanged
