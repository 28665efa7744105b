"""From a run directory to numbers and sentences: the analysis finds what the synthetic runs hold."""

from __future__ import annotations

import re

import numpy as np
import pytest
from synthetic_runs import EPOCHS, ONSET, STANDARD, Variant, make_run

from reglab.analysis.analyze import analyze
from reglab.analysis.collect import collect
from reglab.analysis.findings import findings
from reglab.analysis.statistics import BETTER, INCONCLUSIVE
from reglab.store import RunStore

NUMBER = re.compile(r"[-−+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def analysed(root):
    analysis = analyze(collect(RunStore.open(root)))
    return analysis, findings(analysis)


def test_onsets_comparisons_and_sparsity_from_stored_runs(synthetic_run):
    analysis, found = analysed(synthetic_run)
    basic, better, sparse = (analysis.variant(n) for n in ("basic", "better", "sparse"))
    assert basic.onset.per_seed == {s: ONSET for s in range(5)} and better.onset.turned == 0
    c = analysis.comparison("test_accuracy", "better")
    assert c.verdict == BETTER and c.better == 5 and c.difference.mean == pytest.approx(0.02, abs=0.005)
    assert better.changes == ["dropout"] and set(sparse.changes) == {"l1", "schedule"}
    assert sparse.hidden_sparsity.mean > 0.6 > 0.05 > basic.hidden_sparsity.mean
    assert analysis.focus == "better" and analysis.confused_pairs()[0]["count"] > 0
    assert not analysis.missing

    comparison = next(f for f in found if f.kind == "comparison" and f.variant == "better")
    assert "better in all 5 seeds" in comparison.en and "reliably better" in comparison.en
    # The baseline's onset is said once, in its own finding; each comparison says the variant's.
    baseline = next(f for f in found if f.kind == "overfitting" and f.variant == "basic")
    assert f"turned upward at epoch {ONSET} in all 5 seeds" in baseline.en
    assert "turned upward" not in comparison.en and "did not turn upward within 20 epochs" in comparison.en
    assert "5 シードすべて" in comparison.ja and "偶然とは考えにくい改善" in comparison.ja
    assert next(f for f in found if f.kind == "best").variant == "better"
    kinds = {f.kind for f in found}
    assert {"best", "overfitting", "comparison", "sparsity", "schedule"} <= kinds and "few_seeds" not in kinds
    assert any("過学習" in f.ja for f in found) and any("スパース性" in f.ja for f in found)
    assert any("学習率スケジューリング" in f.ja for f in found)


def test_every_number_in_a_sentence_is_in_its_numbers(synthetic_run):
    _, found = analysed(synthetic_run)
    for finding in found:
        shown = {abs(float(v)) for v in finding.numbers.values() if isinstance(v, (int, float))}
        for text in (finding.en, finding.ja):
            for name in ("better", "basic", "sparse", "l1"):
                text = text.replace(name, "")
            text = text.replace("|w| < 0.001", "|w| < " + str(finding.numbers.get("threshold", 0.001)))
            for token in NUMBER.findall(text.replace("L1", "").replace("L2", "").replace("d_z", "")):
                value = abs(float(token.replace("−", "-")))
                assert any(value == pytest.approx(s, abs=1e-12) for s in shown), (token, text, finding.numbers)


def test_one_seed_and_a_schedule_that_has_not_moved_yet_read_naturally(tmp_path):
    # Seen in a 2-epoch run of the tutorial: "in any of 1 seeds", and a step schedule that "took
    # the learning rate from 0.001 to 0.001".
    root = make_run(tmp_path / "run", [Variant("basic"), Variant("flat", baseline="basic", lr=(0.001,) * EPOCHS)],
                    seeds=[0])
    _, found = analysed(root)
    en, ja = " ".join(f.en for f in found), " ".join(f.ja for f in found)
    assert f"did not turn upward within {EPOCHS} epochs in its one seed" in en
    assert "of 1 seeds" not in en and "all 1 seeds" not in en and "1 シードのどれも" not in ja
    schedule = next(f for f in found if f.kind == "schedule")
    assert f"kept the learning rate at 0.001 for all {EPOCHS} epochs trained" in schedule.en
    assert "学習率は 0.001 のままでした" in schedule.ja and "from" not in schedule.en


def test_fewer_than_five_seeds_is_never_called_significant(tmp_path):
    root = make_run(tmp_path / "run", STANDARD, seeds=[0, 1, 2])
    analysis, found = analysed(root)
    assert all(c.verdict == INCONCLUSIVE for c in analysis.comparisons["test_accuracy"])
    assert any(f.kind == "few_seeds" for f in found)
    for finding in found:
        assert "reliably" not in finding.en and "偶然とは考えにくい" not in finding.ja
    comparison = next(f for f in found if f.kind == "comparison" and f.variant == "better")
    assert "undecided with 3 paired seeds" in comparison.en and "判定できません" in comparison.ja


def test_an_interval_that_excludes_0_beside_an_undecided_verdict_is_labelled_unadjusted(tmp_path):
    # Planted: 3 seeds, a gain the unadjusted paired t interval separates from 0 (as l1_l2's
    # [−1.18, −0.12] beside "not conclusive" in the regularization study). The sentence names the
    # interval unadjusted and gives the adjusted p beside it, in both languages.
    root = make_run(tmp_path / "run", STANDARD, seeds=[0, 1, 2])
    analysis, found = analysed(root)
    c = analysis.comparison("test_accuracy", "better")
    assert c.difference.low > 0 and c.verdict == INCONCLUSIVE
    f = next(f for f in found if f.kind == "comparison" and f.variant == "better")
    p = f"Holm-adjusted p = {f.numbers['holm_p']:g}"
    assert "(not adjusted for the study's 2 comparisons)" in f.en and p in f.en
    assert "excludes 0 only before that adjustment" in f.en
    assert "2 個の比較についての補正なし" in f.ja and f"Holm 補正後 p = {f.numbers['holm_p']:g}" in f.ja


def test_identical_variants_and_a_single_seed(tmp_path):
    root = make_run(tmp_path / "run", [Variant("a"), Variant("same", baseline="a")], seeds=[0])
    _, found = analysed(root)
    comparison = next(f for f in found if f.kind == "comparison")
    assert "exactly the same test accuracy as a in the one seed" in comparison.en


def test_figure_onset_labels_leave_out_a_spread_of_zero():
    from types import SimpleNamespace

    from reglab.analysis.onset import OnsetSpread
    from reglab.report.figures import _onset_label

    def label(mean, std, turned=2):
        spread = OnsetSpread(turned, 3, 15, mean, std, None, None, None, None, {})
        return _onset_label(SimpleNamespace(onset=spread), "en")

    assert label(6.0, 0.0) == "onset 6 (2/3)" and label(8.2, 1.1) == "onset 8±1 (2/3)"
    assert label(None, None, turned=0) == ""


def test_summary_says_its_verdicts_in_words_of_the_language_and_keeps_intervals_in_range(tmp_path):
    from reglab.results import StudyResult

    root = make_run(tmp_path / "run", STANDARD + [Variant("top", "basic", accuracy_gain=0.195)], seeds=[0, 1, 2])
    result = StudyResult(root)
    ja, en = result.summary(lang="ja"), result.summary(lang="en")
    assert set(ja.verdict.dropna()) == {"判定できない（5 シード未満）"}
    assert set(en.verdict.dropna()) == {"undecided (< 5 seeds)"} and set(en.verdict_code.dropna()) == {INCONCLUSIVE}
    assert (ja.test_accuracy_high < 1.0).all() and (ja.test_loss_low > 0).all()
    assert ja.loc["top", "test_accuracy_low"] < ja.loc["top", "test_accuracy_mean"] < ja.loc["top", "test_accuracy_high"]


def test_the_test_accuracy_figure_draws_two_seed_intervals_inside_0_to_100(tmp_path):
    # Planted: 2 seeds near 100%, where the t interval reaches far past 100% (t(0.975, 1) = 12.7).
    from matplotlib.collections import LineCollection

    from reglab.results import StudyResult

    root = make_run(tmp_path / "run", [Variant("basic"), Variant("top", "basic", accuracy_gain=0.195)], seeds=[0, 1])
    figure = StudyResult(root).plot.test_accuracy(lang="en")
    bars = [c for c in figure.axes[0].collections if isinstance(c, LineCollection)]
    ends = np.concatenate([np.concatenate(c.get_segments())[:, 0] for c in bars])
    assert len(bars) == 2 and 0 < ends.min() and ends.max() < 100


def test_a_sweeps_points_are_not_compared_one_by_one_with_its_first_point(tmp_path):
    # lr-and-decay said 48 comparisons and 48 weight-norm sentences against each grid's corner (a
    # point at another learning rate: "L2 made the weights grow" where the rate did).
    from synthetic_sweeps import make_sweep_run

    _, found = analysed(make_sweep_run(tmp_path / "run", two_factor=True))
    assert not [f for f in found if f.kind in ("comparison", "weight_norm")]
    note = next(f for f in found if f.kind == "sweep_comparisons")
    assert note.numbers["points"] == 19 and "19 points" in note.en and "19 個の点" in note.ja
