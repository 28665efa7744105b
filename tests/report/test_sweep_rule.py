"""The sweep's recommendation by a named rule, each case planted and each failing on the old plateau
(every point not rejected by Holm-corrected paired t-tests): the one-SE rule against a hand
computation, its stability share against exact enumeration, validation loss and accuracy that
disagree (said first, and compared with doing nothing), 3 separable seeds (decided, not flat), one
seed (undecided), and 2 seeds near 100% accuracy and 0 loss (every interval in range)."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
from scipy import stats
from synthetic_sweeps import disagreeing, make_sweep_run

from reglab.analysis.collect import collect
from reglab.analysis.statistics import t_interval
from reglab.analysis.sweeps import GOOD, ONE_SE, OVERFITTING, UNDERFITTING, SweepAnalysis, SweepPoint, analyze_sweeps, \
    one_se_choice, stability, strength_order
from reglab.report.sweep_figures import one_factor
from reglab.report.sweep_text import findings, section
from reglab.store import RunStore


def sweep_of(root):
    (sweep,) = analyze_sweeps(collect(RunStore.open(root)))
    return sweep


def test_the_one_se_rule_matches_a_hand_computation():
    # Validation loss over 3 seeds. Best mean: B (0.26); its SE = sd(0.26, 0.28, 0.24) / √3 = 0.02 / √3
    # = 0.011547, so the band is every mean <= 0.271547: B and C (0.27), not D (0.28) nor A (0.31).
    # The strongest point of the band is C.
    losses = {"A": {0: 0.30, 1: 0.32, 2: 0.31}, "B": {0: 0.26, 1: 0.28, 2: 0.24},
              "C": {0: 0.27, 1: 0.27, 2: 0.27}, "D": {0: 0.28, 1: 0.27, 2: 0.29}}
    strength = {"A": 1e-4, "B": 1e-3, "C": 1e-2, "D": 1e-1}
    choice = one_se_choice(losses, higher_is_better=False, strength=strength)
    assert choice.best == "B" and choice.band == ("B", "C") and choice.chosen == "C" and choice.rule == ONE_SE
    assert choice.se == pytest.approx(0.02 / math.sqrt(3), rel=1e-12)
    # a setting where smaller is stronger (max-norm's bound) picks the other end of the band
    assert one_se_choice(losses, False, {k: -v for k, v in strength.items()}).chosen == "B"
    # accuracy: higher is better, the band lies below the best: best C (0.95), SE 0.01/√3, so 0.944226..
    accuracy = {"A": {0: 0.93, 1: 0.94, 2: 0.95}, "B": {0: 0.95, 1: 0.94, 2: 0.955},
                "C": {0: 0.95, 1: 0.96, 2: 0.94}, "D": {0: 0.90, 1: 0.91, 2: 0.92}}
    choice = one_se_choice(accuracy, higher_is_better=True, strength=strength, metric="val_accuracy")
    assert choice.best == "C" and choice.band == ("B", "C") and choice.chosen == "C"
    # no order of strength (a learning rate): the best point, band still reported
    choice = one_se_choice(losses, False, None)
    assert choice.chosen == choice.best == "B" and choice.rule == "best" and choice.band == ("B", "C")


def test_the_stability_share_matches_exact_enumeration_of_the_seed_resamples():
    # A close call over 3 seeds: the 27 equally likely resamples (with replacement) of the seeds,
    # each put through the rule by hand, give the exact share; 1,000 bootstrap resamples estimate it.
    table = {1e-4: [0.30, 0.29, 0.31], 1e-3: [0.28, 0.30, 0.27], 1e-2: [0.29, 0.27, 0.30], 1e-1: [0.40, 0.41, 0.39]}
    points = [SweepPoint(f"l2={v:.0e}", {"l2": v}, {"val_loss": dict(enumerate(values))}) for v, values in table.items()]
    sweep = SweepAnalysis("L2", ["l2"], {"l2": "log"}, "val_loss", points)
    strength = strength_order(sweep)
    sweep.choice = one_se_choice({p.name: p.per_seed["val_loss"] for p in points}, False, strength)
    exact = np.mean([one_se_choice({p.name: {i: p.per_seed["val_loss"][s] for i, s in enumerate(draw)}
                                    for p in points}, False, strength).chosen == sweep.chosen
                     for draw in itertools.product(range(3), repeat=3)])
    share = stability(sweep, strength)
    assert 0.2 < exact < 0.9  # a real close call
    assert abs(share - exact) < 0.05  # 1,000 resamples: standard error at most 0.016
    assert stability(sweep, strength) == share  # a fixed seed: the report is reproducible


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_disagreeing_validation_loss_and_accuracy_are_said_first_and_compared_with_doing_nothing(tmp_path, lang):
    # Planted: validation loss lowest at λ = 1e-3, validation accuracy highest at 1e-5 and falling
    # with λ, test accuracy with it; "none" (no L2) has the best test accuracy of all.
    sweep = sweep_of(make_sweep_run(tmp_path / "run", metrics=disagreeing, without=True))
    assert (sweep.chosen, sweep.other.chosen, sweep.reference) == ("l2=1e-03", "l2=1e-05", "none")
    lines = findings([sweep], lang)
    first, against = lines[0], lines[1]
    seeds = range(5)
    d = np.array([disagreeing(1e-3, s)["test_accuracy"] - disagreeing(None, s)["test_accuracy"] for s in seeds]) * 100
    # two comparisons (both metrics' points against none): Bonferroni, t(1 - 0.05/4) for each
    half = stats.t.ppf(1 - 0.05 / 4, 4) * d.std(ddof=1) / math.sqrt(5)
    label = ("points, simultaneous 95% CI (Bonferroni, 2 comparisons)" if lang == "en"
             else "ポイント、同時 95% 信頼区間（Bonferroni、2 つの比較）")
    gap = " " if lang == "en" else ""  # Japanese: no space after the closing full-width parenthesis
    numbers = f"−{-d.mean():.2f} {label}{gap}[−{half - d.mean():.2f}, −{-d.mean() - half:.2f}]"
    if lang == "en":
        assert first.startswith("L2: validation loss and validation accuracy point to different settings: the "
                                "one-SE rule gives L2 λ = 1e-03 on validation loss and L2 λ = 1e-05 on validation "
                                "accuracy")
        assert "rewards confidence" in first and "calibrated" in first
        assert f"L2 λ = 1e-03 lowers test accuracy against none (without L2): {numbers}, better in 0 of 5 seeds" \
            in against
        assert "L2 λ = 1e-05 lowers test accuracy against none" in against
        assert "L2 λ = 1e-03 lowers validation loss" in against
    else:
        assert first.startswith("L2: 検証損失と検証精度が別の設定を指しています。1 標準誤差ルールは検証損失では "
                                "L2 λ = 1e-03、検証精度では L2 λ = 1e-05 を選びます。")
        assert "較正" in first
        assert f"L2 λ = 1e-03 は none（L2 正則化なし）よりテスト精度を下げます: {numbers}" in against
    # In the report's section, the first finding of the sweep is that sentence; the table shows "none".
    html = str(section([sweep], {}, lang))
    assert re.search(r'<ul class="findings"><li>([^<]*)', html).group(1).startswith(first[:40])
    assert "none ○" in html


def test_three_seeds_that_separate_the_points_decide_the_sweep(tmp_path):
    # The old plateau needed 5 seeds for any verdict: with 3 it told nothing apart and labelled nothing.
    sweep = sweep_of(make_sweep_run(tmp_path / "run", seeds=(0, 1, 2)))
    assert sweep.decided and sweep.chosen == "l2=1e-03" and [p.name for p in sweep.band] == ["l2=1e-03"]
    assert [p.regime for p in sweep.points] == [OVERFITTING, OVERFITTING, GOOD, UNDERFITTING, UNDERFITTING]
    text = " ".join(findings([sweep], "en"))
    assert "undecided" not in text and "Every point" not in text and "flat" not in text
    assert "No other point is within one standard error of the best on validation loss" in text


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_one_seed_is_undecided_and_says_how_many_seeds_would_decide(tmp_path, lang):
    # The old report called a one-seed sweep flat and marked every point "≈ cannot be told apart".
    sweep = sweep_of(make_sweep_run(tmp_path / "run", seeds=(0,), metrics=disagreeing, without=True))
    assert not sweep.decided and sweep.stability is None
    assert not any(p.in_band for p in sweep.points) and all(p.regime is None for p in sweep.points)
    lines = findings([sweep], lang)
    if lang == "en":
        assert lines[0].startswith("L2: undecided with one seed. The one-standard-error rule needs a standard "
                                   "error, and one seed gives none.")
        assert "3 or more seeds (--seeds 3) would let the rule decide" in lines[0]
        assert "in the one seed (no interval from one seed)" in lines[1]
    else:
        assert lines[0].startswith("L2: 1 シードでは未決定です。") and "3 シード以上（--seeds 3）" in lines[0]
    html = str(section([sweep], {}, lang))
    assert "≈" not in html.split("</ul>")[1].split("<p")[0] and "★" not in html.split("</ul>")[1].split("<p")[0]
    assert not any("within one standard error" in line or "1 標準誤差以内" in line for line in lines)


def near_bounds(l2: float | None, seed: int) -> dict[str, float]:
    """Two seeds at 100% and 99% training accuracy, with training losses of 0.001 and 0.02."""
    top = seed == 0
    return {"train_loss": 0.001 if top else 0.02, "val_loss": (0.01 if top else 0.06) + l2,
            "train_accuracy": 1.0 if top else 0.99, "val_accuracy": 0.999 if top else 0.97,
            "test_accuracy": 0.998 if top else 0.975}


def test_two_seeds_near_100_percent_and_0_loss_keep_every_interval_in_range(tmp_path):
    sweep = sweep_of(make_sweep_run(tmp_path / "run", seeds=(0, 1), metrics=near_bounds))
    point = sweep.points[0]
    plain = t_interval(list(point.per_seed["train_accuracy"].values()))
    assert plain.high > 1 and t_interval(list(point.per_seed["train_loss"].values())).low < 0  # a real case
    for p in sweep.points:
        for metric in ("train_accuracy", "val_accuracy", "test_accuracy"):
            assert 0 <= p.stats[metric].low <= p.stats[metric].mean <= p.stats[metric].high <= 1
        for metric in ("train_loss", "val_loss"):
            assert 0 <= p.stats[metric].low <= p.stats[metric].mean <= p.stats[metric].high
    # the table's text: no accuracy above 100%, no negative loss
    table = str(section([sweep], {}, "en")).split("<tbody>")[1]
    for row in re.findall(r"<tr>(.*?)</tr>", table):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        for cell in (cells[1], cells[2], cells[3], cells[5]):  # validation loss, the three accuracies
            low, high = (float(x) for x in re.search(r"\[([^,]+), ([^\]]+)\]", cell).groups())
            assert 0 <= low <= high and (cell is cells[1] or high <= 100)
    # the figure's bands
    figure = one_factor(sweep, "en")
    accuracy_axes, loss_axes = figure.axes[:2]
    for axes, top in ((accuracy_axes, 100.0), (loss_axes, math.inf)):
        bands = [c for c in axes.collections if len(c.get_paths())]
        assert bands
        for band in bands:
            y = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
            assert y.min() >= 0 and y.max() <= top
    assert "undecided with 2 seeds" in findings([sweep], "en")[0]


def agreeing(l2: float | None, seed: int) -> dict[str, float]:
    """`disagreeing`'s losses, with a validation accuracy that follows the validation loss: both metrics
    recommend λ = 1e-3, and L2 there raises test accuracy over "none" by 2 points."""
    metrics = disagreeing(l2, seed)
    noise = np.random.default_rng([seed, 11, 0 if l2 is None else round(-math.log10(l2))])
    metrics["val_accuracy"] = 1 - metrics["val_loss"] / 4
    metrics["test_accuracy"] = (0.90 if l2 is None else 0.92 if l2 == 1e-3 else 0.85) + 0.004 * noise.standard_normal()
    return metrics


def test_agreeing_metrics_lead_with_the_one_comparison_against_doing_nothing(tmp_path):
    sweep = sweep_of(make_sweep_run(tmp_path / "run", metrics=agreeing, without=True))
    assert not sweep.disagree and sweep.chosen == sweep.other.chosen == "l2=1e-03"
    d = np.array([agreeing(1e-3, s)["test_accuracy"] - agreeing(None, s)["test_accuracy"] for s in range(5)]) * 100
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / math.sqrt(5)  # one comparison: no adjustment
    first = findings([sweep], "en")[0]
    assert first.startswith(f"L2: L2 λ = 1e-03 improves test accuracy over none (without L2): +{d.mean():.2f} "
                            f"points, 95% CI [+{d.mean() - half:.2f}, +{d.mean() + half:.2f}], better in 5 of 5 seeds.")


def test_a_point_whose_runs_all_diverged_is_left_out_not_a_reason_to_decide_nothing(tmp_path):
    def diverging(l2: float | None, seed: int) -> dict[str, float]:
        metrics = disagreeing(l2, seed)
        if l2 == 1e-1:  # every seed's losses and accuracies NaN: no value is read from this point
            metrics.update({k: math.nan for k in ("train_loss", "val_loss", "train_accuracy", "val_accuracy")})
        return metrics

    sweep = sweep_of(make_sweep_run(tmp_path / "run", metrics=diverging, without=True))
    assert sweep.decided and sweep.seeds == 5 and sweep.chosen == "l2=1e-03" and sweep.stability == 1.0
    last = sweep.points[-1]
    assert not last.in_band and last.regime is None
    assert not any("1e-01" in line for line in findings([sweep], "en")[3:])  # never "worse on validation loss only"


def test_every_setting_with_a_direction_of_strength_is_a_registered_technique_or_its_parameter():
    # The table in analysis/sweeps.py says which way each setting regularizes more; a renamed
    # technique or parameter would silently fall back to "no order of strength".
    from reglab.analysis.sweeps import STRENGTH
    from reglab.techniques.registry import switches

    known = switches()
    for key in STRENGTH:
        name, _, parameter = key.partition(".")
        assert name in known, key
        assert not parameter or parameter in [p.name for p in known[name].params], key
        assert parameter or known[name].shorthand, key  # a bare value sets the shorthand parameter


def test_every_sweep_sentence_has_both_languages_with_the_same_placeholders():
    import string

    from reglab.report.sweep_text import STRINGS

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for key, (en, ja) in STRINGS.items():
        assert en and ja and fields(en) == fields(ja), key
        assert not re.search(r"[\u3040-\u30ff\u3400-\u9fff]", en), key
