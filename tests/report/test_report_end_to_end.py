"""A tiny real study through the CLI: `reglab run` trains, stores and ends by writing the report."""

from __future__ import annotations

import json

from reglab.cli import main


def test_run_writes_its_report_and_report_rewrites_it(tmp_path, tiny_study_file, capsys):
    out = tmp_path / "run"
    assert main(["run", str(tiny_study_file), "--out", str(out), "--device", "cpu", "--lang", "en"]) == 0
    report = out / "report" / "report.html"
    assert f"Report: {report}" in capsys.readouterr().err.replace("\n", "")
    html = report.read_text(encoding="utf-8")
    assert "reglab report: tiny" in html and "<b>l2</b> vs basic" in html
    findings = json.loads((out / "report" / "findings.json").read_text(encoding="utf-8"))
    assert findings["seeds"] == [0, 1] and findings["missing"] == []
    assert any(f["kind"] == "few_seeds" for f in findings["findings"])  # 2 seeds: nothing is conclusive
    comparison = findings["comparisons"]["test_accuracy"][0]
    assert comparison["variant"] == "l2" and comparison["baseline"] == "basic" and comparison["seeds"] == [0, 1]
    assert (out / "report" / "confusion_matrix.png").stat().st_size > 5_000

    assert main(["report", str(out), "--lang", "ja", "--out", str(tmp_path / "ja")]) == 0
    assert "学習曲線と過学習" in (tmp_path / "ja" / "report.html").read_text(encoding="utf-8")


def test_no_report_skips_it(tmp_path, tiny_study_file):
    out = tmp_path / "run"
    assert main(["run", str(tiny_study_file), "--out", str(out), "--device", "cpu", "--no-report"]) == 0
    assert not (out / "report").exists()


CNN_STUDY = """
name = "tiny-cnn"
seeds = [0]
[data]
dataset = "digits"
train = 300
validation = 100
test = 100
[defaults]
model = "cnn"
conv = [{ filters = 4, kernel_size = 3, padding = "same", pool = 2 }]
hidden = []
epochs = 2
batch_size = 64
[[variants]]
name = "cnn"
[[variants]]
name = "cnn_l1"
l1 = 0.001
"""


def test_a_cnn_study_reports_conv_shapes_conv_sparsity_and_its_filters(tmp_path):
    study = tmp_path / "cnn.toml"
    study.write_text(CNN_STUDY, encoding="utf-8")
    out = tmp_path / "run"
    assert main(["run", str(study), "--out", str(out), "--device", "cpu", "--offline", "--lang", "en"]) == 0
    html = (out / "report" / "report.html").read_text(encoding="utf-8")
    assert "conv2d_1 (Conv2D)" in html and "(None, 8, 8, 4)" in html and "(None, 4, 4, 4)" in html
    assert "first convolution, as images" in html
    assert (out / "report" / "conv_filters.png").stat().st_size > 2_000
    results = json.loads((out / "report" / "findings.json").read_text(encoding="utf-8"))
    assert results["seeds"] == [0]
