"""The overfitting onset detector on synthetic curves with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from reglab.analysis.onset import RISE_MARGIN, Onset, onset_spread, overfitting_onset, smooth


def v_curve(onset: int, epochs: int = 30, fall: float = 0.05, rise: float = 0.03) -> np.ndarray:
    """Validation loss falling to its minimum at `onset`, then rising for good."""
    x = np.arange(epochs, dtype=float)
    return np.where(x <= onset, 0.3 + fall * (onset - x), 0.3 + rise * (x - onset))


def u_curve(onset: int, epochs: int = 30) -> np.ndarray:
    """A smooth U (a parabola) with its bottom at `onset`."""
    x = np.arange(epochs, dtype=float)
    return 0.25 + 0.002 * (x - onset) ** 2


def monotone(epochs: int = 30) -> np.ndarray:
    return 0.2 + 1.5 * np.exp(-np.arange(epochs) / 5)


def test_smooth_is_a_centred_moving_average_cut_at_the_ends():
    assert smooth([1, 2, 6, 4]) == pytest.approx([1.5, 3.0, 4.0, 5.0])
    assert smooth([5.0]) == pytest.approx([5.0])
    assert smooth([1, 3]) == pytest.approx([2.0, 2.0])
    assert smooth([1, 2, 3, 4, 5], width=5) == pytest.approx([2.0, 2.5, 3.0, 3.5, 4.0])


@pytest.mark.parametrize("onset", [2, 5, 7, 12, 20, 26])
def test_finds_the_known_onset_of_a_clean_curve(onset):
    found = overfitting_onset(v_curve(onset))
    assert found.epoch == onset
    assert found.minimum == pytest.approx(smooth(v_curve(onset))[onset])


@pytest.mark.parametrize("onset", [4, 9, 15])
def test_finds_the_onset_of_a_smooth_u(onset):
    assert overfitting_onset(u_curve(onset)).epoch == onset


@pytest.mark.parametrize("seed", range(20))
def test_finds_the_onset_through_noise(seed):
    rng = np.random.default_rng(seed)
    noisy = v_curve(10) * (1 + 0.02 * rng.standard_normal(30))
    found = overfitting_onset(noisy)
    assert found.epoch is not None and abs(found.epoch - 10) <= 1


@pytest.mark.parametrize("seed", range(20))
def test_noisy_monotone_curves_have_no_onset(seed):
    rng = np.random.default_rng(seed)
    noisy = monotone() * (1 + 0.02 * rng.standard_normal(30))
    assert overfitting_onset(noisy).epoch is None


def test_monotone_and_flat_curves_have_no_onset():
    assert overfitting_onset(monotone()).epoch is None
    assert overfitting_onset(np.full(15, 0.4)).epoch is None
    plateau = np.concatenate([monotone(10), np.full(20, monotone(10)[-1])]) + 0.001 * np.sin(np.arange(30))
    assert overfitting_onset(plateau).epoch is None


def test_a_rise_below_the_margin_is_not_an_onset():
    small = v_curve(10, fall=0.001, rise=0.0005)  # ends 3% above its minimum: a wobble, not overfitting
    assert overfitting_onset(small).epoch is None
    assert overfitting_onset(small, margin=0.01).epoch == 10


def test_a_spike_before_the_end_is_not_an_onset():
    # Seen in a real run: one bad epoch next to the last lifts the last smoothed value alone.
    values = monotone(15)
    values[13] *= 1.6
    assert overfitting_onset(values).epoch is None


def test_a_rise_that_falls_back_is_not_for_good():
    values = v_curve(8, epochs=20)
    values[15:] = values[8] - 0.01  # recovers to a new low at the end
    assert overfitting_onset(values).epoch is None


def test_rise_epoch_starts_the_final_stretch_above_the_threshold():
    found = overfitting_onset(v_curve(10))
    s = smooth(v_curve(10))
    threshold = found.minimum * (1 + RISE_MARGIN)
    assert found.rise_epoch > found.epoch
    assert np.all(s[found.rise_epoch:] > threshold) and s[found.rise_epoch - 1] <= threshold


def test_not_finite_or_empty_curves_have_no_onset():
    assert overfitting_onset([0.5, float("nan"), 0.4]) == Onset(None, None, None, 3)
    assert overfitting_onset([]).epoch is None


def test_spread_across_seeds():
    onsets = {0: overfitting_onset(v_curve(6)), 1: overfitting_onset(v_curve(8)), 2: overfitting_onset(monotone()),
              3: overfitting_onset([0.5, float("inf")])}
    spread = onset_spread(onsets)
    assert (spread.turned, spread.runs, spread.epochs) == (2, 3, 30)
    assert spread.mean == pytest.approx(7.0) and spread.std == pytest.approx(np.std([6, 8], ddof=1))
    assert (spread.first, spread.last) == (6, 8)
    assert spread.per_seed == {0: 6, 1: 8, 2: None, 3: None}
    assert onset_spread({0: overfitting_onset(monotone())}).mean is None
