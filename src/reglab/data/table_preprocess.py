"""A table's columns -> the network's inputs, every statistic read from the training rows only.

- numeric columns (numbers and booleans) are standardized: (x - mean) / std of the training rows
  (std with ddof 0; a constant column gets scale 1, as scikit-learn's StandardScaler);
- other columns (text, categories), and those named in `categorical`, are one-hot encoded over the
  categories seen in the training rows; a category the training rows never had is all zeros;
- missing values follow `missing`: "error" refuses them with the fix, "impute" fills a numeric
  column with the training rows' median (then standardizes, as SimpleImputer then StandardScaler)
  and adds a 0/1 "COLUMN (missing)" input where the training rows had any missing, and gives a
  categorical column's missing values a category of their own;
- infinite numbers are refused under either rule (they are no measurement one can impute).

The fit is plain JSON (`to_json` / `from_json`), registered with data/preprocessing.py as the kind
"table": data.json keeps it, and predicting on new rows applies the same fit (never one fitted
again) through the same `encode` that made the training features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .errors import DataError
from .preprocessing import Preprocessing, register

MISSING_RULES = ("error", "impute")
MISSING_CATEGORY = "(missing)"
MAX_CATEGORIES = 1000  # more levels than this is an identifier, not a category: refused with the fix


@dataclass(frozen=True)
class ColumnFit:
    name: str
    type: str  # "numeric" or "categorical"
    mean: float = 0.0
    scale: float = 1.0
    median: float | None = None  # the imputed value (missing = "impute")
    indicator: bool = False  # a 0/1 "(missing)" input follows the column
    categories: tuple[Any, ...] = ()

    def outputs(self) -> list[str]:
        if self.type == "categorical":
            return [f"{self.name}={c}" for c in self.categories]
        return [self.name] + ([f"{self.name} (missing)"] if self.indicator else [])


@register
@dataclass(frozen=True)
class TableFit(Preprocessing):
    """A table's fit (data/preprocessing.py's kind "table"): its feature columns in order, each
    with the statistics read from the training rows."""

    columns: tuple[ColumnFit, ...]
    missing: str
    kind: ClassVar[str] = "table"

    @property
    def output_names(self) -> list[str]:
        return [name for column in self.columns for name in column.outputs()]

    @property
    def n_features(self) -> int:
        return len(self.output_names)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "missing": self.missing, "output_columns": self.output_names,
                "columns": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in column.__dict__.items()}
                            for column in self.columns]}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TableFit:
        return cls(tuple(ColumnFit(**{**c, "categories": tuple(c.get("categories", ()))}) for c in raw["columns"]),
                   raw["missing"])

    def describe(self) -> str:
        numeric = sum(c.type == "numeric" for c in self.columns)
        return (f"a table of {len(self.columns)} columns: {numeric} numeric standardized, "
                f"{len(self.columns) - numeric} categorical one-hot, to {self.n_features} features "
                f"(missing values: {self.missing})")

    def transform(self, inputs: Any, *, eight_bit: bool = False) -> np.ndarray:
        """Rows as the training table had them (a DataFrame with its feature columns; other
        columns are ignored), or a 2-D array with one column per feature, in order."""
        return self.encode(self._frame(inputs), "given", "inputs")[0]

    def features(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise DataError(f"the features have shape {x.shape}; the model takes rows of {self.n_features}",
                            "pass rows of the table (without preprocessed=True) to have them encoded")
        return x

    def stored_test_inputs(self, test_images: np.ndarray, test_rows: dict[str, np.ndarray] | None = None) -> Any:
        """The test rows as the table had them: test_split.npz keeps them column by column."""
        import pandas as pd

        if not test_rows:
            raise DataError("this run's test split does not keep its table rows", "run the study again")
        frame = {}
        for i, column in enumerate(self.columns):
            values = test_rows[f"test_rows/{i}"]
            if column.type == "categorical":
                values = np.where(test_rows[f"test_rows_missing/{i}"], None, values.astype(object))
            frame[column.name] = values
        return pd.DataFrame(frame)

    def stored_rows(self, frame: Any) -> dict[str, np.ndarray]:
        """The arrays `stored_test_inputs` reads back: numbers as float64 (NaN where missing), text as
        unicode with a mask of the missing cells (an .npz holds no Python objects)."""
        import pandas as pd

        arrays = {}
        for i, column in enumerate(self.columns):
            values = frame[column.name]
            if column.type == "numeric":
                arrays[f"test_rows/{i}"] = _numbers(values, column.name, "test", "")[0]
            else:
                absent = np.asarray(pd.isna(values))
                arrays[f"test_rows/{i}"] = np.array(["" if a else str(v) for v, a in zip(values.tolist(), absent)])
                arrays[f"test_rows_missing/{i}"] = absent
        return arrays

    def _frame(self, inputs: Any) -> Any:
        import pandas as pd

        names = [c.name for c in self.columns]
        if isinstance(inputs, pd.DataFrame):
            missing = [n for n in names if n not in inputs.columns]
            if missing and list(inputs.columns) == list(range(len(names))):
                return inputs.set_axis(names, axis=1)  # a CSV without a header: the columns in training's order
            if missing:
                raise DataError(f"the inputs have no column {', '.join(map(repr, missing[:5]))}, which the model was "
                                f"trained on (its columns: {', '.join(map(repr, names))})",
                                "give rows with the training table's feature columns (by name; others are ignored)")
            return inputs
        x = np.asarray(inputs)
        if x.ndim != 2 or x.shape[1] != len(names):
            raise DataError(f"the inputs have shape {x.shape}; the model was trained on rows of {len(names)} columns "
                            f"({', '.join(map(repr, names[:8]))}{' ...' if len(names) > 8 else ''})",
                            "pass a DataFrame with those columns, or an array of that many columns in that order")
        return pd.DataFrame(x, columns=names)

    def encode(self, frame: Any, part: str, name: str) -> tuple[np.ndarray, list[str]]:
        """float32 (rows, outputs) and notes (unseen categories); DataError for what cannot be encoded."""
        blocks, notes = [], []
        for column in self.columns:
            if column.name not in frame.columns:
                raise DataError(f"{name}: the {part} rows have no column {column.name!r}, which the training rows had",
                                "give every set the same columns")
            values = frame[column.name]
            if column.type == "numeric":
                numbers, absent = _numbers(values, column.name, part, name)
                if absent.any():
                    if self.missing == "error":
                        raise _missing_error(column.name, part, absent, name)
                    numbers = np.where(absent, column.median, numbers)
                blocks.append(((numbers - column.mean) / column.scale)[:, None])
                if column.indicator:
                    blocks.append(absent.astype(np.float64)[:, None])
            else:
                keys, absent = _categories(values)
                if absent.any() and self.missing == "error":
                    raise _missing_error(column.name, part, absent, name)
                keys = [MISSING_CATEGORY if a else k for k, a in zip(keys, absent)]
                index = {c: i for i, c in enumerate(column.categories)}
                block = np.zeros((len(keys), len(column.categories)))
                unseen = 0
                for row, key in enumerate(keys):
                    if key in index:
                        block[row, index[key]] = 1.0
                    else:
                        unseen += 1
                if unseen:
                    notes.append(f"{name}: {unseen} {part} row(s) have a {column.name!r} category the training rows "
                                 "do not have; encoded as all zeros")
                blocks.append(block)
        out = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(frame), 0))
        return out.astype(np.float32), notes


def fit_table(frame: Any, features: list[str], categorical: tuple[str, ...], missing: str, name: str) -> TableFit:
    """Fit on `frame`, which must hold the training rows and nothing else."""
    columns = []
    for feature in features:
        values = frame[feature]
        if feature in categorical or not _numeric(values, feature, name):
            keys, absent = _categories(values)
            if absent.any() and missing == "error":
                raise _missing_error(feature, "training", absent, name)
            seen = sorted({MISSING_CATEGORY if a else k for k, a in zip(keys, absent)}, key=str)
            if len(seen) > MAX_CATEGORIES:
                raise DataError(f"{name}: column {feature!r} has {len(seen)} categories in the training rows, more "
                                f"than {MAX_CATEGORIES}: an identifier, not a category",
                                "leave it out with `features = [...]` in [data], or encode it yourself as numbers")
            columns.append(ColumnFit(feature, "categorical", categories=tuple(seen)))
            continue
        numbers, absent = _numbers(values, feature, "training", name)
        median = None
        if absent.any():
            if missing == "error":
                raise _missing_error(feature, "training", absent, name)
            if absent.all():
                raise DataError(f"{name}: column {feature!r} has no value in any training row",
                                "leave it out with `features = [...]` in [data]")
            median = float(np.median(numbers[~absent]))
            numbers = np.where(absent, median, numbers)
        mean, std = float(numbers.mean()), float(numbers.std())
        columns.append(ColumnFit(feature, "numeric", mean, std if std > 0 else 1.0, median, bool(absent.any())))
    return TableFit(tuple(columns), missing)


def _numeric(values: Any, column: str, name: str) -> bool:
    """Whether a column is numbers; text mixed into a column of numbers is refused, not one-hot encoded."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return True
    present = values[~pd.isna(values)]
    if len(present) == 0:
        return True
    parsed = pd.to_numeric(present.astype(str), errors="coerce")
    bad = present[pd.isna(parsed)]
    if len(bad) == 0:
        return True
    if len(bad) < len(present) / 2:  # mostly numbers with some text in it: a typo, or a code for "missing"
        raise DataError(f"{name}: column {column!r} holds numbers and {len(bad)} text value(s) such as "
                        f"{str(bad.iloc[0])!r} (row {bad.index[0]})",
                        "fix or empty those cells (with missing = \"impute\", empty cells are filled), or "
                        f"declare the column a category: categorical = [{column!r}] in [data]")
    return False


def _numbers(values: Any, column: str, part: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    if pd.api.types.is_bool_dtype(values):
        values = values.astype("float64")
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    absent = np.asarray(pd.isna(values))
    text = ~absent & np.isnan(numbers)
    if text.any():
        row = int(np.flatnonzero(text)[0])
        raise DataError(f"{name}: column {column!r} is numeric in the training rows, but the {part} rows hold text "
                        f"such as {str(values.iloc[row])!r} (row {values.index[row]})",
                        "fix or empty those cells, or declare the column a category: "
                        f"categorical = [{column!r}] in [data]")
    infinite = np.isinf(numbers)
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raise DataError(f"{name}: column {column!r} holds {int(infinite.sum())} infinite value(s) in the {part} rows "
                        f"(the first in row {values.index[row]})",
                        "replace them with numbers, or empty those cells and set missing = \"impute\" in [data]")
    return numbers, absent


def _categories(values: Any) -> tuple[list[Any], np.ndarray]:
    import pandas as pd

    absent = np.asarray(pd.isna(values))
    return [str(v) for v in values.tolist()], absent


def _missing_error(column: str, part: str, absent: np.ndarray, name: str) -> DataError:
    rows = np.flatnonzero(absent)
    return DataError(
        f"{name}: column {column!r} has {len(rows)} missing value(s) in the {part} rows (the first in row "
        f"{int(rows[0])}), and [data] says missing = \"error\"",
        "set missing = \"impute\" in [data] (or --missing impute): a numeric column gets the training rows' median "
        "and a 0/1 'missing' input, a categorical one a category of its own; or fill the cells yourself")
