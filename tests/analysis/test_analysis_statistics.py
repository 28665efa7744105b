"""The statistics agree with scipy on the same numbers, and say "not conclusive" below 5 seeds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from reglab.analysis.statistics import (BETTER, DIFFERENCE_OF_PROPORTIONS, INCONCLUSIVE, MIN_SEEDS, NO_DIFFERENCE,
                                        NON_NEGATIVE, PROPORTION, WORSE, bootstrap_interval,
                                        holm, paired_comparison, t_interval, with_holm)

SAMPLES = [
    [0.91, 0.93, 0.92, 0.95, 0.90],
    [1.0, 2.0],
    [0.5, 0.51, 0.49, 0.52, 0.5, 0.48, 0.53],
    [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0],
]


@pytest.mark.parametrize("values", SAMPLES)
def test_t_interval_is_scipys(values):
    ours = t_interval(values)
    scipy_ci = stats.ttest_1samp(values, 0.0).confidence_interval(0.95)
    assert ours.mean == pytest.approx(np.mean(values))
    assert ours.std == pytest.approx(np.std(values, ddof=1))
    assert (ours.low, ours.high) == pytest.approx((scipy_ci.low, scipy_ci.high))
    assert ours.n == len(values)


def test_t_interval_of_one_value_has_no_interval_and_of_none_no_mean():
    assert t_interval([0.9]).mean == 0.9 and t_interval([0.9]).low is None and t_interval([0.9]).std is None
    assert t_interval([]).mean is None and t_interval([]).n == 0


def paired(a, b, higher=True, seeds=None):
    seeds = seeds or list(range(len(a)))
    return paired_comparison("test_accuracy" if higher else "test_loss", "v", "b", dict(zip(seeds, a)),
                             dict(zip(seeds, b)), higher_is_better=higher)


def test_paired_tests_are_scipys():
    rng = np.random.default_rng(3)
    base = rng.uniform(0.85, 0.95, 6)
    variant = base + rng.normal(0.01, 0.005, 6)
    c = paired(variant, base)
    d = variant - base
    assert c.t_p == pytest.approx(stats.ttest_rel(variant, base).pvalue)
    assert c.wilcoxon_p == pytest.approx(stats.wilcoxon(variant, base).pvalue)
    assert c.difference.mean == pytest.approx(d.mean())
    scipy_ci = stats.ttest_rel(variant, base).confidence_interval(0.95)
    assert (c.difference.low, c.difference.high) == pytest.approx((scipy_ci.low, scipy_ci.high))
    assert c.effect_size == pytest.approx(d.mean() / d.std(ddof=1))
    assert c.better == int(np.sum(d > 0)) and c.worse == int(np.sum(d < 0))


def test_pairs_are_by_seed_and_only_over_seeds_both_have():
    c = paired_comparison("test_accuracy", "v", "b", {0: 0.9, 1: 0.8, 2: 0.7, 7: 0.1}, {1: 0.7, 2: 0.6, 0: 0.85, 5: 0.5},
                          higher_is_better=True)
    assert c.seeds == (0, 1, 2)
    assert c.differences == pytest.approx((0.05, 0.1, 0.1))


def test_lower_is_better_for_a_loss():
    c = paired([0.2, 0.3, 0.25], [0.3, 0.4, 0.35], higher=False)
    assert c.better == 3 and c.worse == 0


def test_bootstrap_is_deterministic_and_is_scipys_percentile_bootstrap():
    d = np.random.default_rng(5).normal(0.01, 0.004, 8)
    first, again = bootstrap_interval(d), bootstrap_interval(d)
    assert first == again
    reference = stats.bootstrap((d,), np.mean, n_resamples=10_000, method="percentile",
                                rng=np.random.default_rng(0)).confidence_interval
    assert first == pytest.approx((reference.low, reference.high))
    assert first[0] < d.mean() < first[1]
    assert bootstrap_interval(d, seed=1) != first  # the seed is what fixes it


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # scipy's, on the reference call
def test_constant_differences_do_not_break_anything():
    same = paired([0.9] * 5, [0.9] * 5)
    assert same.t_p == 1.0 and same.wilcoxon_p == 1.0 and same.effect_size is None
    assert (same.bootstrap_low, same.bootstrap_high) == (0.0, 0.0)
    shifted = paired([0.91] * 5, [0.9] * 5)
    assert shifted.t_p == pytest.approx(stats.ttest_rel([0.91] * 5, [0.9] * 5).pvalue)  # 0: no spread at all
    assert shifted.bootstrap_low == pytest.approx(0.01) == shifted.bootstrap_high


def test_holm_by_hand():
    # m = 4; sorted p: 0.01, 0.02, 0.03, 0.04 -> 0.04, 0.06, 0.06 (running max), 0.06 (capped by max)
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, None, 0.9]) == pytest.approx([1.0, None, 1.0])
    assert holm([]) == []


def test_holm_properties():
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = list(rng.uniform(0, 0.2, rng.integers(1, 12)))
        adjusted = holm(p)
        assert all(a >= raw for a, raw in zip(adjusted, p)) and all(a <= 1 for a in adjusted)
        ordered = [a for _, a in sorted(zip(p, adjusted))]
        assert ordered == sorted(ordered)  # adjustment keeps the order of the raw p-values


def test_verdicts_need_five_seeds_and_follow_the_sign():
    strong_up = paired([0.95, 0.96, 0.97, 0.95, 0.96], [0.90, 0.91, 0.92, 0.90, 0.91])
    strong_down = paired([0.85, 0.86, 0.87, 0.85, 0.86], [0.90, 0.91, 0.92, 0.90, 0.91])
    noise = paired([0.90, 0.92, 0.89, 0.91, 0.90], [0.91, 0.90, 0.90, 0.92, 0.89])
    few = paired([0.99, 0.99, 0.99, 0.99], [0.5, 0.52, 0.49, 0.51])  # huge, but only 4 seeds
    verdicts = [c.verdict for c in with_holm([strong_up, strong_down, noise, few])]
    assert verdicts == [BETTER, WORSE, NO_DIFFERENCE, INCONCLUSIVE]
    assert few.n == MIN_SEEDS - 1


def test_holm_is_applied_across_the_comparisons():
    comparisons = [paired([0.95, 0.96, 0.97, 0.95, 0.96], [0.90, 0.91, 0.92, 0.90, 0.91]) for _ in range(3)]
    adjusted = with_holm(comparisons)
    assert adjusted[0].holm_p == pytest.approx(min(1.0, 3 * comparisons[0].t_p))


# ----------------------------------------------------------------------------- bounded quantities


def test_an_accuracy_interval_is_the_logit_t_interval_mapped_back_by_hand():
    # Three seeds at 97, 99 and 100%: the t interval [94.9, 102.5] passes 100%. By hand, on the
    # logit scale: mean m, standard error se = s/√3, half-width t(0.975, 2)·se/(m(1−m)).
    values = [0.97, 0.99, 1.0]
    m = (0.97 + 0.99 + 1.0) / 3
    s = ((0.97 - m) ** 2 + (0.99 - m) ** 2 + (1.0 - m) ** 2) ** 0.5 / (3 - 1) ** 0.5
    half = 4.302652729911275 * (s / 3 ** 0.5) / (m * (1 - m))
    centre = np.log(m / (1 - m))
    expected = (1 / (1 + np.exp(-(centre - half))), 1 / (1 + np.exp(-(centre + half))))
    ours = t_interval(values, bounds=PROPORTION)
    assert (ours.low, ours.high) == pytest.approx(expected, rel=1e-9)
    assert 0.0 < ours.low < ours.mean < ours.high < 1.0 and ours.scale == "logit"
    assert ours.mean == pytest.approx(m) and ours.std == pytest.approx(s)


def test_a_loss_interval_is_the_log_t_interval_mapped_back_by_hand():
    # Two seeds at 0.05 and 0.60: the t interval of 0.325 is [−3.17, 3.82]; on the log scale
    # m·exp(±t(0.975, 1)·se/m), with se = |0.60 − 0.05| / 2.
    ours = t_interval([0.05, 0.60], bounds=NON_NEGATIVE)
    factor = np.exp(12.706204736174698 * 0.275 / 0.325)
    assert (ours.low, ours.high) == pytest.approx((0.325 / factor, 0.325 * factor), rel=1e-9)
    assert ours.low > 0 and ours.scale == "log"


@pytest.mark.parametrize("values, bounds", [([0.99, 1.0], PROPORTION), ([0.0, 0.004], PROPORTION),
                                            ([0.001, 0.2], NON_NEGATIVE), ([-0.9, 0.4], DIFFERENCE_OF_PROPORTIONS)])
def test_two_seed_intervals_near_a_bound_stay_strictly_inside_without_a_cut(values, bounds):
    # Each of these t intervals passes its bound (t(0.975, 1) = 12.7); a cut would end exactly on it.
    plain = t_interval(values)
    assert plain.low < bounds[0] or plain.high > bounds[1]
    ours = t_interval(values, bounds=bounds)
    assert bounds[0] < ours.low < ours.mean < ours.high < bounds[1]


def test_far_from_its_bounds_the_bounded_interval_is_the_t_interval_to_first_order():
    rng = np.random.default_rng(1)
    values = rng.normal(0.5, 0.01, 20)
    plain, ours = t_interval(values), t_interval(values, bounds=PROPORTION)
    assert (ours.low, ours.high) == pytest.approx((plain.low, plain.high), abs=2e-5)


def test_a_mean_on_its_bound_has_no_spread_to_show():
    ours = t_interval([1.0, 1.0, 1.0], bounds=PROPORTION)
    assert (ours.low, ours.mean, ours.high) == (1.0, 1.0, 1.0)


def test_a_difference_keeps_the_paired_t_interval_unless_that_leaves_minus_one_to_one():
    inside = paired([0.95, 0.93, 0.96], [0.94, 0.92, 0.94])
    assert (inside.difference.low, inside.difference.high) == pytest.approx(
        tuple(stats.ttest_rel([0.95, 0.93, 0.96], [0.94, 0.92, 0.94]).confidence_interval(0.95)))
    wild = paired_comparison("test_accuracy", "v", "b", {0: 0.9, 1: 0.3}, {0: 0.5, 1: 0.4}, higher_is_better=True,
                             bounds=DIFFERENCE_OF_PROPORTIONS)
    assert -1.0 < wild.difference.low < wild.difference.high < 1.0
