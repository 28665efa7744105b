"""Sweeps read back from a run directory: the recommendation (one-SE rule, validation only), the
one-SE band, the regimes on planted curves and on a flat sweep, the findings in both languages and
the figures. The rule's own cases (disagreeing metrics, few seeds, bounds): test_sweep_rule.py."""

from __future__ import annotations

import dataclasses
import json
from html import unescape

import numpy as np
import pytest
from synthetic_sweeps import flat, make_sweep_run

from reglab.analysis.collect import collect
from reglab.analysis.sweeps import GOOD, OVERFITTING, UNDERFITTING, analyze_sweeps
from reglab.report import write_report
from reglab.report.sweep_text import findings
from reglab.store import RunStore


def sweep_of(root):
    (sweep,) = analyze_sweeps(collect(RunStore.open(root)))
    return sweep


def test_planted_u_curve_gives_the_recommendation_band_and_both_regimes(tmp_path):
    sweep = sweep_of(make_sweep_run(tmp_path / "run"))
    assert [p.values["l2"] for p in sweep.points] == [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    assert sweep.chosen == sweep.best == "l2=1e-03"  # the lowest planted validation loss, alone in its band
    assert [p.name for p in sweep.band] == ["l2=1e-03"]  # every other point is far beyond one SE
    assert [p.regime for p in sweep.points] == [OVERFITTING, OVERFITTING, GOOD, UNDERFITTING, UNDERFITTING]
    assert sweep.stability == 1.0  # noise 0.001 against differences of 0.05 and more: every resample agrees
    en = " ".join(findings([sweep], "en"))
    assert "recommended L2 λ = 1e-03, by the one-standard-error rule on validation loss" in en
    assert "Chosen again in 100% of 1,000 seed resamples" in en
    assert "Underfitting" in en and "L2 λ 1e-02 to 1e-01" in en
    assert "Overfitting" in en and "L2 λ 1e-05 to 1e-04" in en
    # the sweep's base is its first point, with L2 on: nothing to compare with, and it says so
    assert sweep.reference is None and "This sweep has no point without L2" in en
    ja = " ".join(findings([sweep], "ja"))
    assert "過少適合" in ja and "過学習" in ja and "L2 λ 1e-05 から 1e-04" in ja and "L2 正則化なしの点" in ja


def test_a_flat_sweep_is_one_band_and_invents_no_regime(tmp_path):
    sweep = sweep_of(make_sweep_run(tmp_path / "run", flat))
    assert sweep.decided and all(p.in_band for p in sweep.points)
    assert not [p for p in sweep.points if p.regime in (UNDERFITTING, OVERFITTING)]
    # the rule picks the strongest point of the band; the text names the band, never "flat"
    assert sweep.chosen == "l2=1e-01"
    lines = findings([sweep], "en")
    assert any("Every point is within one standard error of the best on validation loss" in line for line in lines)
    assert not any("flat" in line or "Underfitting" in line or "Overfitting" in line for line in lines)


def test_the_choice_never_reads_test_data(tmp_path):
    root = make_sweep_run(tmp_path / "run", test_favours=1e-5)
    before = sweep_of(root)
    test_best = max(before.points, key=lambda p: p.mean("test_accuracy"))
    assert test_best.name == "l2=1e-05" != before.chosen  # test data would choose otherwise
    # Scramble every test number in the store: the test labels, and each record's test results.
    store = RunStore.open(root)
    labels, images = store.test_split()
    data = json.loads((root / "data.json").read_text())
    store.write_data(data, np.random.default_rng(1).permutation(labels), images)
    runs, _ = store.load_runs()
    rng = np.random.default_rng(2)
    names = [v["name"] for v in json.loads((root / "study.json").read_text())["variants"]]
    for stored in runs:
        scrambled = dataclasses.replace(stored.record, test_accuracy=float(rng.uniform()),
                                        test_loss=float(rng.uniform()))
        store.save_run(names.index(stored.record.variant), scrambled, stored.arrays())
    after = sweep_of(root)
    assert after.chosen == before.chosen and after.stability == before.stability
    assert [p.in_band for p in after.points] == [p.in_band for p in before.points]
    assert [p.regime for p in after.points] == [p.regime for p in before.points]
    assert [p.mean("test_accuracy") for p in after.points] != [p.mean("test_accuracy") for p in before.points]


def test_the_findings_never_lead_with_a_sweep_point_chosen_by_test_accuracy(tmp_path):
    # The test data favour l2=1e-05; the study's findings used to open with "Highest mean test
    # accuracy: l2=1e-05", next to the sweep's own choice on validation data (l2=1e-03).
    from reglab.analysis.analyze import analyze
    from reglab.analysis.findings import findings as study_findings

    root = make_sweep_run(tmp_path / "run", test_favours=1e-5)
    found = study_findings(analyze(collect(RunStore.open(root))))
    assert not [f for f in found if f.kind == "best"]
    assert not any("Highest mean test accuracy" in f.en or "平均テスト精度が最も高い" in f.ja for f in found)


def test_two_factor_sweeps_get_side_by_side_heatmaps_and_an_honest_sentence(tmp_path):
    root = make_sweep_run(tmp_path / "run", two_factor=True)
    sweeps = analyze_sweeps(collect(RunStore.open(root)))
    assert [s.name for s in sweeps] == ["Adam + L2", "AdamW"]
    assert all(len(s.points) == 10 and s.factors[0] == "optimizer.lr" for s in sweeps)
    text = " ".join(findings(sweeps, "en"))
    # Planted: Adam + L2's best decay moves with the rate (its shift grows with λ), AdamW's does not;
    # at the higher rate it moves to the grid's smallest λ, which locates nothing, and the sentence
    # says so rather than count it (a shift inside both grids: tests/report/test_report_decay_shift.py).
    assert "At learning rate 1e-02 the best decay of one grid or both is at an end of its grid" in text
    assert "Fewer than two learning rates locate the best decay inside both grids" in text
    report = write_report(root, tmp_path / "report", lang="en")
    assert (tmp_path / "report" / "sweep_heatmaps.png").stat().st_size > 10_000
    assert "Top: mean validation accuracy per cell" in report.read_text()
    # the same data without the planted dependence: neither grid's best moves, so nothing is decided
    flat_grids = make_sweep_run(tmp_path / "flat", two_factor=True, coupled=False)
    text = " ".join(findings(analyze_sweeps(collect(RunStore.open(flat_grids))), "en"))
    assert "The grid does not decide whether the best decay depends less" in text


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_sweep_report_is_written_with_its_figures_and_findings_json(tmp_path, lang):
    root = make_sweep_run(tmp_path / "run")
    page = write_report(root, tmp_path / "report", lang=lang)
    html = page.read_text()
    assert ("Sweeps: which strength?" if lang == "en" else "スイープ: どの強さがよいか") in html
    assert (tmp_path / "report" / "sweep_1.png").stat().st_size > 10_000
    found = json.loads((tmp_path / "report" / "findings.json").read_text())
    (sweep,) = found["sweeps"]
    assert sweep["chosen"] == "l2=1e-03" and sweep["band"] == ["l2=1e-03"] and sweep["rule"] == "one_se"
    assert [p["regime"] for p in sweep["points"]] == ["overfitting", "overfitting", "good", "underfitting",
                                                      "underfitting"]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_sweep_report_renders_in_chromium(tmp_path, lang):
    from test_report_browser import CHROMIUM, open_in_chromium

    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    root = make_sweep_run(tmp_path / "run")
    page = write_report(root, tmp_path / f"report-{lang}", lang=lang)
    dom, console, pixels = open_in_chromium(page, tmp_path)
    assert console == []
    assert 'id="sweeps"' in dom and "<script" not in dom
    assert ("underfitting" if lang == "en" else "過少適合") in dom
    # the sweep section comes first, so the top of the page (the screenshot) shows its figure
    grey = pixels.mean(axis=2)
    assert (grey < 0.9).mean() > 0.03 and grey.std() > 0.1
    colours = pixels.reshape(-1, 3)
    shaded = np.abs(colours - np.array([0xfd, 0xd4, 0x9e]) / 255).max(axis=1) < 0.02  # the underfitting shade
    assert shaded.mean() > 0.001


def test_a_large_sweeps_per_variant_figures_draw_its_landmarks_and_say_so(tmp_path):
    # Two sweeps of 10 points each: more than SWEEP_POINTS_DRAWN, so the learning curves, gaps,
    # histograms... draw each sweep's ends, its recommended and best points and its band's ends, and say so.
    from reglab.analysis.analyze import SWEEP_POINTS_DRAWN, analyze

    root = make_sweep_run(tmp_path / "run", two_factor=True)
    analysis = analyze(collect(RunStore.open(root)))
    assert all(len(sweep.points) > SWEEP_POINTS_DRAWN for sweep in analysis.sweeps)
    drawn = [v.name for v in analysis.as_drawn().variants]
    for sweep in analysis.sweeps:
        names = [p.name for p in sweep.points]
        kept = [n for n in names if n in drawn]
        band = [p.name for p in sweep.band]
        assert kept == [n for n in names if n in {names[0], names[-1], sweep.chosen, sweep.best, band[0], band[-1]}]
    assert len(drawn) < len(analysis.variants)
    # The errors shown are those of the point chosen on validation data, never of the best on test.
    assert analysis.focus == analysis.sweeps[0].chosen
    for lang, words in (("en", f"draw {len(drawn)} of the study's {len(analysis.variants)} variants"),
                        ("ja", f"{len(analysis.variants)} 個のバリアントのうち {len(drawn)} 個")):
        page = write_report(root, tmp_path / lang, lang).read_text(encoding="utf-8")
        assert words in unescape(page)
    assert "the point its sweep recommended on validation data" in (tmp_path / "en" / "report.html").read_text()


def test_a_small_sweep_draws_every_point(tmp_path):
    from reglab.analysis.analyze import analyze

    analysis = analyze(collect(RunStore.open(make_sweep_run(tmp_path / "run"))))
    assert analysis.as_drawn() is analysis
    assert "hand-written variant" not in write_report(tmp_path / "run", tmp_path / "out").read_text(encoding="utf-8")
