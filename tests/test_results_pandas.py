"""to_pandas() as a pandas user expects it (issue 24): numbers in numeric columns, with NaN or
pandas' <NA> where there is none, and `dropout.rate` in one form whatever the study wrote."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

import reglab

sys.path.insert(0, str(Path(__file__).parent / "report"))
from synthetic_runs import Variant, make_run  # noqa: E402


@pytest.fixture(scope="module")
def frame(tmp_path_factory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("pandas") / "run"
    make_run(root, [
        Variant("basic"),
        Variant("one_rate", baseline="basic", settings={"dropout": {"rate": 0.3}}, early=(3, 8)),
        Variant("per_layer", baseline="basic", settings={"dropout": {"rate": [0.3, 0.1]}}, eval_factor=1.1,
                max_norm_peaks=tuple(0.5 + 0.01 * e for e in range(20))),
    ], seeds=[0, 1])
    return reglab.load(root).to_pandas()


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> pd.DataFrame:
    """A study where nothing records train_eval_loss or max_norm_peak: all of those are missing."""
    return reglab.load(make_run(tmp_path_factory.mktemp("plain") / "run", [Variant("basic")], seeds=[0])).to_pandas()


@pytest.mark.parametrize("column", ["train_eval_loss", "max_norm_peak", "weight_norm", "test_accuracy", "test_loss"])
def test_measures_are_float_columns_with_nan_where_not_recorded(frame, plain, column):
    for table in (frame, plain):
        assert table[column].dtype == "float64", column
    assert plain.train_eval_loss.isna().all() and plain.max_norm_peak.isna().all()


def test_recorded_and_missing_measures(frame):
    per_layer, basic = frame[frame.variant == "per_layer"], frame[frame.variant == "basic"]
    assert per_layer.train_eval_loss.notna().all() and basic.train_eval_loss.isna().all()
    assert per_layer.max_norm_peak.iloc[0] == pytest.approx(0.5) and basic.max_norm_peak.isna().all()


@pytest.mark.parametrize("column", ["best_epoch", "stopped_epoch", "diverged_at"])
def test_epochs_of_a_run_are_nullable_integers(frame, column):
    assert str(frame[column].dtype) == "Int64"
    assert frame[frame.variant == "basic"][column].isna().all()


def test_early_stopping_epochs_are_numbers(frame):
    early = frame[(frame.variant == "one_rate") & (frame.seed == 1)]
    assert set(early.best_epoch) == {4} and set(early.stopped_epoch) == {9}  # (3, 8) + the seed
    assert early.best_epoch.max() - 1 == 3  # integer arithmetic, not objects


def test_dropout_rate_is_one_rate_per_layer_in_every_row(frame):
    rates = {name: set(frame[frame.variant == name]["dropout.rate"]) for name in ("one_rate", "per_layer")}
    assert rates == {"one_rate": {(0.3, 0.3)}, "per_layer": {(0.3, 0.1)}}  # hidden = [8, 4]: two places
    assert frame[frame.variant == "basic"]["dropout.rate"].isna().all()
