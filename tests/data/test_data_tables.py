"""Tables done right: a CSV and a Parquet file written here, encoded as scikit-learn's own pipeline
encodes them when fitted on the training rows alone (the independent reference), with leakage
planted so that a statistic read from validation or test rows would change the result, and every
kind of bad table refused with the fix."""

from __future__ import annotations

import os
import re
import subprocess

import numpy as np
import pandas as pd
import pytest

from reglab.config import DataSpec
from reglab.data import DataError
from reglab.data.prepared import MAX_DATA_BYTES, PrepareContext, prepare_data


def _table(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Numeric (with missing values), a category (with missing values) and text labels."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, n).round(2)
    income = rng.normal(50, 20, n) + np.arange(n) * 1e-3  # distinct: identifies a row after encoding
    city = rng.choice(["tokyo", "osaka", "kyoto"], n).astype(object)
    label = np.where(age + (city == "tokyo") * 10 > 45, "yes", "no")
    age[rng.random(n) < 0.1] = np.nan
    city[rng.random(n) < 0.05] = None
    return pd.DataFrame({"age": age, "income": income, "city": city, "bought": label})


def _spec(path=None, **keys) -> DataSpec:
    return DataSpec("auto", 120, 60, 60, path=str(path) if path else None,
                    **{"target": "bought", "missing": "impute", **keys})


def _sklearn_reference(train: pd.DataFrame):
    """The same encoding by scikit-learn, fitted on the training rows only."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return ColumnTransformer([
        ("age", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["age"]),
        ("age_missing", MissingIndicator(features="all"), ["age"]),
        ("income", StandardScaler(), ["income"]),
        ("city", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                               OneHotEncoder(handle_unknown="ignore", sparse_output=False)), ["city"]),
    ]).fit(train)


def test_csv_is_encoded_as_scikit_learn_encodes_it_from_the_training_rows(tmp_path):
    table = _table()
    table.to_csv(tmp_path / "t.csv", index=False)
    prepared = prepare_data(_spec(tmp_path / "t.csv"))
    splits, fit = prepared.splits, prepared.info["preprocessing"]
    assert fit["output_columns"] == ["age", "age (missing)", "income", "city=(missing)", "city=kyoto", "city=osaka",
                                     "city=tokyo"]
    assert list(splits.class_names) == ["no", "yes"] and prepared.info["label_values"] == ["no", "yes"]
    income = next(c for c in fit["columns"] if c["name"] == "income")

    def rows(x):  # which rows of the table these are, by their distinct income
        raw = x[:, 2].astype(np.float64) * income["scale"] + income["mean"]
        return np.abs(raw[:, None] - table["income"].to_numpy()[None, :]).argmin(axis=1)

    parts = {name: rows(x) for name, x in (("train", splits.x_train), ("val", splits.x_val), ("test", splits.x_test))}
    assert sum(len(p) for p in parts.values()) == len(set(np.concatenate(list(parts.values())).tolist())) == 240
    reference = _sklearn_reference(table.iloc[parts["train"]])
    for name, x in (("train", splits.x_train), ("val", splits.x_val), ("test", splits.x_test)):
        np.testing.assert_allclose(x, reference.transform(table.iloc[parts[name]]), atol=2e-6)
    expected_labels = (table["bought"].to_numpy() == "yes").astype(int)
    assert (splits.y_test == expected_labels[parts["test"]]).all()


def test_parquet_gives_the_arrays_the_csv_gives(tmp_path):
    pytest.importorskip("pyarrow")
    table = _table(seed=1)
    table.to_csv(tmp_path / "t.csv", index=False)
    table.to_parquet(tmp_path / "t.parquet")
    a, b = prepare_data(_spec(tmp_path / "t.csv")), prepare_data(_spec(tmp_path / "t.parquet"))
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_allclose(getattr(a.splits, name), getattr(b.splits, name), atol=1e-6)
    assert b.info["source"]["format"] == "parquet" and b.info["fingerprint"] != a.info["fingerprint"]


def test_statistics_come_from_the_training_rows_only(fault_log):
    """Planted: validation and test rows a thousand times larger, missing values only there, and a
    category only they have. Any statistic read from them moves the fit away from the training rows'."""
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"x": rng.normal(5, 2, 200), "c": rng.choice(["a", "b"], 200), "y": np.arange(200) % 2})
    train.loc[:9, "x"] = np.nan
    shifted = pd.DataFrame({"x": rng.normal(5000, 900, 80), "c": ["z"] * 80, "y": np.arange(80) % 2})
    shifted.loc[:39, "x"] = np.nan
    spec = DataSpec("arrays", 1000, 1000, 1000, target="y", missing="impute")
    prepared = prepare_data(spec, PrepareContext(arrays={"train": train, "validation": shifted, "test": shifted}))
    x_fit = prepared.info["preprocessing"]["columns"][0]
    known = train["x"].dropna()
    assert x_fit["median"] == pytest.approx(known.median(), rel=1e-12)
    filled = train["x"].fillna(known.median())
    assert x_fit["mean"] == pytest.approx(filled.mean(), rel=1e-12) and x_fit["scale"] == pytest.approx(filled.std(ddof=0), rel=1e-12)
    assert prepared.info["preprocessing"]["columns"][1]["categories"] == ["a", "b"]  # not "z"
    x_test = prepared.splits.x_test
    assert (x_test[:40, 0] == np.float32((known.median() - x_fit["mean"]) / x_fit["scale"])).all()  # the train median
    assert (x_test[:, 2:] == 0).all()  # "z": no column of its own, all zeros
    assert any("category the training rows do not have" in note for note in prepared.splits.notes)
    np.testing.assert_allclose(prepared.splits.x_train[:, 0].mean(), 0, atol=1e-6)
    fault_log("tables: validation and test rows shifted 1000x, with their own missing values and category", 1,
              "every statistic (median, mean, scale, categories) is the training rows'")


def _bad(tmp_path, frame: pd.DataFrame, **keys):
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError) as caught:
        prepare_data(_spec(tmp_path / "bad.csv", **keys))
    return str(caught.value)


@pytest.mark.parametrize("change, keys, expected", [
    (lambda t: t.drop(columns="bought"), {}, r"no column 'bought'.*\nFix: name one of its columns as target: 'age'"),
    (lambda t: t, {"missing": "error"}, r"column 'age' has \d+ missing value.*\nFix: set missing = \"impute\""),
    (lambda t: t.assign(income=t["income"].where(t.index != 7, np.inf)), {},
     r"'income' holds 1 infinite value.*row 7.*\nFix: replace them"),
    (lambda t: t.assign(income=t["income"].astype(object).where(t.index != 5, "?")), {},
     r"'income' holds numbers and 1 text value.*'\?' \(row 5\).*\nFix:.*categorical = \['income'\]"),
    (lambda t: t.assign(bought=np.where(t.index == 0, "maybe", t["bought"])), {},
     r"class 'maybe' has 1 row.*\nFix: add rows of that class"),
    (lambda t: t.assign(bought=t["income"]), {}, r"fractional numbers.*regression"),
    (lambda t: t.assign(bought=t["bought"].where(t.index != 3, None)), {}, r"have no label.*row 3"),
    (lambda t: t, {"features": ("age", "height")}, r"'height' are not columns.*\nFix: name feature columns"),
], ids=["no-target", "missing-without-rule", "infinite", "text-in-numbers", "one-row-class", "regression-target",
        "empty-label", "unknown-feature"])
def test_bad_tables_are_refused_with_the_fix(tmp_path, fault_log, request, change, keys, expected):
    message = _bad(tmp_path, change(_table()), **keys)
    assert re.search(expected, message, re.S), message
    fault_log(f"tables: a CSV with {request.node.callspec.id.replace('-', ' ')}", 1,
              "a data error naming the column or class and the fix")


def test_labels_only_in_the_test_set_are_refused(fault_log):
    train = pd.DataFrame({"x": np.arange(60.0), "y": ["a", "b", "c"] * 20})
    test = pd.DataFrame({"x": np.arange(6.0), "y": ["a", "d"] * 3})
    with pytest.raises(DataError, match=r"(?s)test labels include 'd'.*\nFix: give the test set only classes"):
        prepare_data(DataSpec("arrays", 30, 10, 10, target="y"), PrepareContext(arrays={"train": train, "test": test}))
    fault_log("tables: a class in the test set that the training set lacks", 1, "a data error naming the class")


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path, fault_log):
    big = tmp_path / "big.csv"
    subprocess.run(["truncate", "-s", str(MAX_DATA_BYTES + 1), str(big)], check=True)  # sparse: no disk used
    assert os.stat(big).st_blocks == 0
    with pytest.raises(DataError, match=r"(?s)big.csv is 2.1 GB, more than reglab reads.*REGLAB_MAX_DATA_BYTES"):
        prepare_data(_spec(big))
    fault_log("tables: a file over the 2 GiB limit (a sparse file made by truncate)", 1,
              "refused from its size before a byte is read, naming REGLAB_MAX_DATA_BYTES")
