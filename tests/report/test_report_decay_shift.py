"""Loshchilov & Hutter's claim read from two lr x decay grids: a verdict only where resampling the
seeds supports it (analysis/decay_shift.py, report/decay_text.py)."""

from __future__ import annotations

import numpy as np
import pytest

from reglab.analysis.decay_shift import decay_shift
from reglab.analysis.sweeps import SweepAnalysis, SweepPoint
from reglab.report.decay_text import sentences

LRS, DECAYS, SEEDS = [1e-3, 1e-2], [1e-5, 1e-4, 1e-3, 1e-2, 1e-1], range(5)


def grid(name: str, decay: str, means: list[list[float]], spread: float, seed: int) -> SweepAnalysis:
    """A 2 x 5 grid whose cells' validation losses over the seeds have exactly the planted means:
    each cell's noise (sd `spread`) is centred, so the per-row argmax of the means is known."""
    rng = np.random.default_rng(seed)
    points = []
    for lr, row in zip(LRS, means):
        for d, mean in zip(DECAYS, row):
            noise = rng.normal(0, spread, len(SEEDS))
            values = mean + noise - noise.mean()
            per_seed = {"val_loss": dict(zip(SEEDS, values.tolist())),
                        "val_accuracy": dict(zip(SEEDS, (1 - values).tolist()))}
            points.append(SweepPoint(f"{name} lr={lr:g} {decay}={d:g}", {"optimizer.lr": lr, decay: d}, per_seed))
    return SweepAnalysis(name, ["optimizer.lr", decay], {"optimizer.lr": "log", decay: "log"}, "val_loss", points)


U = [0.30, 0.31, 0.34, 0.40, 0.60]  # lowest at the smallest decay, clearly (steps of 0.01 to 0.2)


def test_a_planted_shift_well_above_the_noise_is_stated_in_both_languages():
    moving = grid("Adam + L2", "l2", [U, U[::-1]], 0.002, 1)  # best decay 1e-5 at one rate, 1e-1 at the other
    still = grid("Adam + decoupled decay", "scheduled_decay", [U, U], 0.002, 2)
    shift = decay_shift([moving, still])
    assert shift.spans == (4.0, 0.0) and shift.share_second_less == 1.0 and shift.verdict == "second_less"
    en, ja = sentences([moving, still], "en")[0], sentences([moving, still], "ja")[0]
    assert "Adam + L2 moves over 4.0 decades (1e-05 to 1e-01), Adam + decoupled decay over 0.0 (1e-05)" in en
    assert "depends less on the learning rate with Adam + decoupled decay, as Loshchilov & Hutter" in en
    assert "Loshchilov & Hutter (2019) の報告どおり" in ja and "検証損失が最小" in ja


def test_per_row_bests_that_are_noise_leave_the_question_undecided_and_say_how_many_seeds():
    # Planted: the means put grid A's best decays two decades apart and grid B's together, by 0.001
    # in loss, against seed noise of 0.01: a span read from these means is noise. The old sentence
    # ("does not show the effect" or "depends less") stated a verdict from it.
    near = [0.300, 0.301, 0.302, 0.302, 0.302]
    a = grid("Adam + L2", "l2", [near, [0.302, 0.302, 0.300, 0.301, 0.302]], 0.01, 3)
    b = grid("Adam + decoupled decay", "scheduled_decay", [near, near], 0.01, 4)
    shift = decay_shift([a, b])
    assert shift.spans == (2.0, 0.0) and shift.verdict is None
    assert shift.share_second_less < 0.95 and shift.share_first_less < 0.95
    assert shift.settled_rows == 0 and shift.seeds_needed > 5
    en, ja = sentences([a, b], "en")[0], sentences([a, b], "ja")[0]
    assert "The grid does not decide whether the best decay depends less" in en
    assert f"About {shift.seeds_needed} seeds would" in en and "does not show the effect" not in en
    assert "この格子では決まりません" in ja and f"約 {shift.seeds_needed} シード" in ja


def test_the_resampling_is_paired_and_reproducible():
    a = grid("A", "l2", [U, U[::-1]], 0.05, 5)
    b = grid("B", "scheduled_decay", [U, U], 0.05, 6)
    first, again = decay_shift([a, b]), decay_shift([a, b])
    assert first == again
    assert 0.0 <= first.share_first_less + first.share_second_less <= 1.0
    # the seeds needed: (2·sd/margin)² for the median row, from the runner-up's paired differences
    assert first.seeds_needed is None or first.seeds_needed >= 2


@pytest.mark.parametrize("factors", [1, 3])
def test_no_sentence_without_exactly_two_two_factor_grids(factors):
    grids = [grid(f"G{i}", "l2", [U, U], 0.01, i) for i in range(factors)]
    assert decay_shift(grids) is None and sentences(grids, "en") == []
