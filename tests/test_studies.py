"""Every built-in study loads, and runs offline on the embedded digits."""

from __future__ import annotations

import json

import pytest

from reglab.cli import main
from reglab.config import builtin_studies, load_study

BUILTINS = sorted(builtin_studies())


def test_the_expected_studies_are_built_in():
    assert set(BUILTINS) >= {"tutorial", "regularization", "optimizers", "weight-decay", "overfitting", "cnn"}


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_study_runs_offline_on_digits(name, tmp_path, capsys):
    study = load_study(name)
    assert study.description and len(study.variants) >= 2
    out = tmp_path / name
    assert main(["run", name, "--dataset", "digits", "--epochs", "1", "--seeds", "1", "--out", str(out),
                 "--offline", "--device", "cpu", "--no-report"]) == 0
    capsys.readouterr()
    assert main(["results", str(out), "--format", "json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["runs_found"] == len(study.variants)
    assert all(v["runs"][0]["status"] == "completed" for v in results["variants"])
    assert [v["description_ja"] for v in results["variants"]] == [v.description_ja for v in study.variants]


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_variants_are_described_in_english_and_japanese(name):
    # The report shows a variant's description in its language: a built-in study speaks both.
    for variant in load_study(name).variants:
        assert variant.description and variant.description_ja, variant.name
        assert variant.description_ja != variant.description


def test_weight_decay_study_pairs_sgd_l2_with_twice_the_decay():
    variants = {v.name: v for v in load_study("weight-decay").variants}
    l2 = variants["sgd_l2"].switch("l2")["strength"]
    assert variants["sgd_decay"].switch("weight_decay")["rate"] == 2 * l2
    assert variants["sgd_l2"].optimizer.name == variants["sgd_decay"].optimizer.name == "sgd"
