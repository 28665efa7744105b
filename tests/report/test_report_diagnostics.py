"""Findings that read what a technique did beyond accuracy, on planted runs whose answer is known:
batch norm's lagging statistics, decay that acted or not, an idle max-norm, the L2/decay pair,
and the consistency of the sentences (bounds, ties, signs, plurals, rounding, adjusted or not)."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_runs import EPOCHS, Variant, make_run

from reglab.analysis import diagnostics as D
from reglab.analysis import trajectories as T
from reglab.analysis.analyze import analyze
from reglab.analysis.collect import collect
from reglab.analysis.findings import _f, findings
from reglab.store import RunStore

BN = {"batch_norm": {"momentum": 0.01, "eps": 0.001, "position": "before"}}


def analysed(root):
    analysis = analyze(collect(RunStore.open(root)))
    return analysis, findings(analysis)


def kinds(found, kind):
    return [f for f in found if f.kind == kind]


def test_batch_norm_lag_fires_on_lagging_statistics_and_stays_silent_on_a_healthy_run(tmp_path):
    # Planted: evaluation-mode loss on training rows 10x the training loss (stale running
    # statistics), against a healthy 0.9x (end-of-epoch weights, no dropout: a little lower).
    root = make_run(tmp_path / "run", [Variant("basic"), Variant("lagging", "basic", settings=BN, eval_factor=10.0),
                                       Variant("healthy", "basic", settings=BN, eval_factor=0.9)], seeds=[0, 1, 2])
    analysis, found = analysed(root)
    lag = kinds(found, "batch_norm_lag")
    assert [f.variant for f in lag] == ["lagging"]
    f = lag[0]
    assert f.numbers["lagging_seeds"] == 3 and f.numbers["train_eval_loss"] > 2 * f.numbers["train_loss"]
    assert "not overfitting" in f.en and "Keras momentum 0.99, PyTorch 0.01" in f.en
    assert "過学習ではなく" in f.ja and "momentum" in f.ja
    assert D.norm_lag(analysis.variant("healthy").norm_check).lagging == 0
    assert analysis.variant("basic").norm_check == {}  # not recorded without batch norm: silent


def test_batch_norm_lag_needs_both_the_ratio_and_the_margin():
    assert D.norm_lag({0: (0.002, 0.0005)}).lagging == 0  # 4x, but 0.0015 above: noise at that scale
    assert D.norm_lag({0: (0.35, 0.2)}).lagging == 0  # 0.15 above, but less than twice
    assert D.norm_lag({0: (1.27, 0.12)}).lagging == 1  # the digits numbers


def test_decay_that_acts_and_decay_too_weak_to_act(tmp_path):
    root = make_run(tmp_path / "run", [
        Variant("basic"),
        Variant("l2", "basic", settings={"l2": {"strength": 0.001}}, weight_scale=0.53),
        Variant("weak_decay", "basic", settings={"weight_decay": {"rate": 0.002}}, weight_scale=0.999),
    ], seeds=[0, 1, 2, 3, 4])
    _, found = analysed(root)
    norm = {f.variant: f for f in kinds(found, "weight_norm")}
    assert norm["l2"].numbers["hidden_norm_percent_of_baseline"] == pytest.approx(53.0)
    assert "53.0% of basic's" in norm["l2"].en and "shrank" in norm["l2"].en
    weak = next(f for f in found if f.kind == "comparison" and f.variant == "weak_decay")
    assert "too weak to act" in weak.en and "says nothing about weight decay" in weak.en
    assert "弱すぎて" in weak.ja and weak.numbers["hidden_norm_percent_of_baseline"] == pytest.approx(99.9)
    assert "weak_decay" not in norm  # said once, in its comparison


def test_max_norm_that_never_reached_its_limit_is_said(tmp_path):
    # The planted kernels' rows have norms below 3 (uniform ±0.3 over at most 64 inputs: < 2.4).
    root = make_run(tmp_path / "run", [Variant("basic"),
                                       Variant("loose", "basic", settings={"max_norm": {"max_value": 3.0}}),
                                       Variant("tight", "basic", settings={"max_norm": {"max_value": 0.5}})],
                    seeds=[0, 1])
    analysis, found = analysed(root)
    idle = kinds(found, "max_norm_idle")
    assert [f.variant for f in idle] == ["loose"]
    assert idle[0].numbers["largest_unit_norm"] < 3.0 and "was not acting" in idle[0].en
    assert max(analysis.variant("tight").largest_unit_norms.values()) > 0.5  # reached: nothing said


def test_max_norm_said_from_the_peaks_recorded_per_epoch(tmp_path):
    # Planted peaks (largest unit norm before projection over the limit, per epoch): one variant
    # stays below its limit throughout (79% at most), one first passes it at epoch 3.
    idle_peaks = tuple(0.4 + 0.02 * e for e in range(EPOCHS))
    acting_peaks = tuple(0.7 + 0.1 * e for e in range(EPOCHS))  # 1.0 at epoch 3 is not above: 1.1 at 4
    root = make_run(tmp_path / "run", [
        Variant("basic"),
        Variant("never", "basic", settings={"max_norm": {"max_value": 3.0}}, max_norm_peaks=idle_peaks),
        Variant("acts", "basic", settings={"max_norm": {"max_value": 0.5}}, max_norm_peaks=acting_peaks)],
        seeds=[0, 1])
    analysis, found = analysed(root)
    idle = kinds(found, "max_norm_idle")
    assert [f.variant for f in idle] == ["never"]
    assert idle[0].numbers["largest_percent_of_limit"] == pytest.approx(78.0) and idle[0].numbers["acted_seeds"] == 0
    assert "never acted" in idle[0].en and "reached 78.0% of the limit 3" in idle[0].en
    assert "一度も働きませんでした" in idle[0].ja and "78.0%" in idle[0].ja
    acted = kinds(found, "max_norm_acted")
    assert [f.variant for f in acted] == ["acts"] and acted[0].numbers["first_epoch"] == 4
    assert "acted in both seeds, first at epoch 4" in acted[0].en and "2 シードとも働き、最初に働いたのはエポック 4 でした" in acted[0].ja
    assert D.max_norm_use(analysis.variant("acts").max_norm_peaks).largest == pytest.approx(0.7 + 0.1 * (EPOCHS - 1))
    assert D.max_norm_use({}) is None and analysis.variant("basic").max_norm_peaks == {}


def test_the_l2_and_decay_pair_is_the_same_run_under_sgd_and_not_under_adam(tmp_path):
    sgd = {"optimizer": {"name": "sgd", "lr": 0.05}}
    adam = {"optimizer": {"name": "adam", "lr": 0.001}}
    root = make_run(tmp_path / "run", [
        Variant("sgd_l2", settings={**sgd, "l2": {"strength": 0.0005}}),
        Variant("sgd_decay", "sgd_l2", settings={**sgd, "weight_decay": {"rate": 0.001}}),
        Variant("adam_l2", settings={**adam, "l2": {"strength": 0.0005}}),
        Variant("adam_decay", "adam_l2", settings={**adam, "weight_decay": {"rate": 0.1}}, weight_scale=0.8),
    ], seeds=[0, 1, 2])
    analysis, found = analysed(root)
    # Independent reference: the planted weights are w and 0.8 w, so the distance is 0.2 of the norm.
    assert analysis.pair_distances["adam_decay"] == pytest.approx({0: 0.2, 1: 0.2, 2: 0.2}, rel=1e-5)
    assert analysis.pair_distances["sgd_decay"] == {0: 0.0, 1: 0.0, 2: 0.0}
    pair = {f.variant: f for f in kinds(found, "decay_pair")}
    same = next(f for f in found if f.kind == "comparison" and f.variant == "sgd_decay")
    assert "too weak" not in same.en  # equal norms against an L2 baseline are the lesson, not weakness
    assert "the same run" in pair["sgd_decay"].en and "one update" in pair["sgd_decay"].en
    assert "differ by 20% of their norm" in pair["adam_decay"].en and "different regularizers" in pair["adam_decay"].en
    assert "同じ実行" in pair["sgd_decay"].ja and "別の正則化" in pair["adam_decay"].ja
    # Over training, from the sketches: the planted weights go from w to 0.8 w linearly over the
    # epochs against a baseline that keeps w, so the distance after epoch e is 0.2·(e + 1)/EPOCHS
    # of the norm, as the sketch sees it (its estimate of ||w||, exact for this linear planting).
    for seed, trajectory in analysis.pair_trajectories["adam_decay"].items():
        assert len(trajectory) == EPOCHS
        expected = 0.2 * (np.arange(EPOCHS) + 1) / EPOCHS
        # Within the sketch's error (4 standard deviations of sqrt(1/(2K))) of the exact distances.
        np.testing.assert_allclose(trajectory, expected, rtol=4 * T.relative_std(analysis.sketch_buckets))
        assert np.ptp(trajectory / expected) < 1e-6  # one estimate of ||w||, scaled: the same ratio every epoch
    assert all(np.all(t == 0) for t in analysis.pair_trajectories["sgd_decay"].values())
    assert "Over training the distance stayed at most 0% in every one of the 20 epochs" in pair["sgd_decay"].en
    assert "Over training the distance grew from 1% after epoch 0 to 2" in pair["adam_decay"].en
    assert "256-bucket sketches" in pair["adam_decay"].en and "±9%" in pair["adam_decay"].en
    assert "訓練中の距離は" in pair["adam_decay"].ja and "大きくなりました" in pair["adam_decay"].ja
    assert "訓練中も" in pair["sgd_decay"].ja


def test_an_sgd_pair_of_unequal_strengths_differs_by_strength_not_by_kind(tmp_path):
    sgd = {"optimizer": {"name": "sgd", "lr": 0.05}}
    root = make_run(tmp_path / "run", [
        Variant("sgd_l2", settings={**sgd, "l2": {"strength": 0.005}}),
        Variant("sgd_decay_half", "sgd_l2", settings={**sgd, "weight_decay": {"rate": 0.005}}, weight_scale=0.97),
    ], seeds=[0, 1])
    f = kinds(analysed(root)[1], "decay_pair")[0]
    assert "matches decoupled decay 0.01; this pair uses 0.005" in f.en and "strength alone" in f.en
    assert "different regularizers" not in f.en


def test_an_accuracy_interval_near_100_stays_inside_without_a_cut(tmp_path):
    root = make_run(tmp_path / "run", [Variant("basic"), Variant("top", "basic", accuracy_gain=0.195)],
                    seeds=[0, 1, 2])
    analysis, found = analysed(root)
    acc = analysis.variant("top").metrics["test_accuracy"]
    assert acc.low < acc.mean < acc.high < 1.0 and acc.scale == "logit"
    best = kinds(found, "best")[0]
    assert best.numbers["ci_high_percent"] <= 100.0


def test_variants_tied_within_noise_at_the_top_are_named_as_the_set_not_shown_worse(tmp_path):
    # Planted: three variants within 0.1 point of each other (the seeds' own noise is 0.2 points),
    # one 2 points below. The best is a set of three, read on test data; the baseline is out.
    variants = [Variant("basic"), Variant("a", "basic", accuracy_gain=0.0200),
                Variant("b", "basic", accuracy_gain=0.0205), Variant("c", "basic", accuracy_gain=0.0210)]
    best = kinds(analysed(make_run(tmp_path / "run", variants, seeds=[0, 1, 2, 3, 4]))[1], "best")[0]
    assert sorted(best.numbers["best_set"]) == ["a", "b", "c"] and best.numbers["comparisons"] == 3
    members = ", ".join(best.numbers["best_set"])
    assert f"The best is one of {members}" in best.en and "basic" not in best.en
    assert "Read on test data, for reporting only" in best.en and "テストデータで読んだ値" in best.ja
    assert "、".join(best.numbers["best_set"]) in best.ja


def test_with_too_few_seeds_the_best_variant_is_undecided(tmp_path):
    root = make_run(tmp_path / "run", [Variant("basic"), Variant("twin", "basic")], seeds=[0, 1, 2])
    best = kinds(analysed(root)[1], "best")[0]
    assert best.numbers["best_set"] == [best.numbers["top"], *({"basic", "twin"} - {best.numbers["top"]})]
    assert "Which variant is best is undecided" in best.en and "未決" in best.ja


def test_numbers_that_round_to_zero_carry_no_sign_and_one_seed_is_singular(tmp_path):
    assert _f(-0.001, 2, sign=True) == "0.00" and _f(-0.004, 2) == "0.00" and _f(0.004, 2, sign=True) == "0.00"
    assert _f(-0.01, 2, sign=True) == "−0.01" and _f(0.5, 1, sign=True) == "+0.5"
    root = make_run(tmp_path / "run", [Variant("basic")], seeds=[0])
    text = " ".join(f.en for f in analysed(root)[1])
    assert "1 seeds" not in text and "(1 seed)" in text


def test_early_stopping_epochs_never_round_apart(tmp_path):
    # best 18, 19, 18+... and stopped = best + 5: means 19 and 24 exactly apart by the patience.
    root = make_run(tmp_path / "run", [
        Variant("basic"),
        Variant("early", "basic", settings={"early_stopping": {"monitor": "val_loss", "patience": 5}},
                early=(12, 17))], seeds=[0, 1])  # best 12.5 ± 0.7, stopped 17.5 ± 0.7: rounding would give 12 and 18
    f = kinds(analysed(root)[1], "early_stopping")[0]
    assert f.numbers["stopped_epoch"] - f.numbers["best_epoch"] == 5 == f.numbers["epochs_after_best"]
    assert "5 epochs later each time" in f.en and f"after epoch {f.numbers['stopped_epoch']}" in f.en


def test_an_unadjusted_interval_beside_a_holm_verdict_says_which_is_adjusted(tmp_path):
    # Many small, consistent gains: each unadjusted interval excludes 0, Holm across 8 comparisons does not.
    variants = [Variant("basic")] + [Variant(f"v{i}", "basic", accuracy_gain=0.003) for i in range(8)]
    _, found = analysed(make_run(tmp_path / "run", variants, seeds=[0, 1, 2, 3, 4]))
    mixed = [f for f in found if f.kind == "comparison" and f.verdict == "no_clear_difference"
             and f.numbers["ci_low_points"] > 0]
    for f in found:
        if f.kind == "comparison":
            assert "not adjusted for the study's 8 comparisons" in f.en and "Holm-adjusted p = " in f.en
            assert "8 個の比較についての補正なし" in f.ja
    for f in mixed:
        assert "excludes 0 only before that adjustment" in f.en and "undecided" in f.en
    plain = [f for f in found if f.kind == "comparison" and f.verdict == "no_clear_difference" and f not in mixed]
    assert all("excludes 0" not in f.en for f in plain)
    assert mixed, "the planted gains should give at least one unadjusted interval that excludes 0"


def test_a_step_schedule_that_the_run_never_reached_is_said(tmp_path):
    steps = {"schedule": {"name": "step", "unit": "epoch", "boundaries": [10, EPOCHS], "values": [0.001, 0.0005, 0.0001]}}
    root = make_run(tmp_path / "run", [Variant("basic"), Variant("adam_lr", "basic", settings=steps,
                                                                  lr=tuple(0.001 if e < 10 else 0.0005 for e in range(EPOCHS)))],
                    seeds=[0])
    f = kinds(analysed(root)[1], "schedule")[0]
    assert f.numbers["unreached"] == [{"from_epoch": EPOCHS, "lr": 0.0001}]
    assert f"0.0001 from epoch {EPOCHS}) was never reached" in f.en and f"0〜{EPOCHS - 1}" in f.ja
    assert np.isclose(f.numbers["lr_last"], 0.0005)


def test_the_reports_show_the_pairs_figure_the_batch_norm_caption_and_japanese_keys(tmp_path):
    from reglab.report import write_report

    sgd = {"optimizer": {"name": "sgd", "lr": 0.05}}
    root = make_run(tmp_path / "run", [
        Variant("sgd_l2", settings={**sgd, "l2": {"strength": 0.0005}}),
        Variant("sgd_decay", "sgd_l2", settings={**sgd, "weight_decay": {"rate": 0.001}}),
        Variant("bn", "sgd_l2", settings=BN, eval_factor=10.0),
    ], seeds=[0])
    ja = write_report(root, tmp_path / "ja", lang="ja").read_text(encoding="utf-8")
    en = write_report(root, tmp_path / "en", lang="en").read_text(encoding="utf-8")
    assert "移動平均がデータに追いついていない" in ja and "stale statistics, not overfitting" in en
    assert "データセット (dataset)" in ja and "入手元 (origin)" in ja and "解決済み" not in ja
    assert "1 seed " in en or "1 seed)" in en
    assert "1 seeds" not in en and "1 variants" not in en


def test_a_trained_batch_norm_run_is_read_whole_and_records_its_check(tmp_path):
    # Batch norm's state_dict holds an integer (num_batches_tracked): the store once called its
    # arrays damaged, and the report lost the variant's weights and predictions.
    from reglab.config import parse_study
    from reglab.engine.study import StudyOptions, run_study

    study = parse_study('name = "bn"\nseeds = [0]\n[data]\ndataset = "digits"\n[defaults]\nhidden = [16]\n'
                        'epochs = 2\n[[variants]]\nname = "bn"\nbatch_norm = true\n')
    store = run_study(study, StudyOptions(out=tmp_path / "run", allow_download=False))
    analysis, _ = analysed(store.root)
    assert not analysis.missing
    bn = analysis.variant("bn")
    assert bn.hidden_norms and bn.largest_unit_norms and set(bn.norm_check) == {0}
    history = store.load_runs()[0][0].record.history
    assert all(e.train_eval_loss is not None and e.weight_norm > 0 for e in history)
