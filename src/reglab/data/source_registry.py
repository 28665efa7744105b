"""The registry of data sources: what a study's `[data] dataset` names, as models/registry.py is
for architectures.

A source is a small declaration registered once (below); its `preparer` ("module:function", so
that reading this table imports neither pandas nor torch) turns the study's [data] into a
data.prepared.Prepared: the train / validation / test arrays, what the run directory records
about the data (data.json: where they came from, sha256, columns, rows per split) and the
preprocessing fitted on the training rows (data/preprocessing.py; data.json keeps it).

Every source says:
- `kind`: "images" (pixels scaled by a fixed maximum, nothing fitted) or "table" (columns
  standardized and one-hot encoded with statistics from the training rows; 2-D arrays are a
  table of numeric columns);
- `task`: "classification" for now; the field is there so that regression can come (a source of
  another task is registered with `refused` saying so, as diabetes is);
- `takes`: what names the data: nothing (built in), a file (`[data] path`, by its suffixes), a
  folder of images, or arrays handed to `reglab.run(study, data=...)` from Python.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DataError

if TYPE_CHECKING:
    from .prepared import Prepared, PrepareContext

CLASSIFICATION = "classification"
REGRESSION = "regression"
IMAGES, TABLE = "images", "table"
BUILT_IN, FILE, FOLDER, PYTHON = "built-in", "file", "folder", "python"


@dataclass(frozen=True)
class DataSource:
    name: str  # what `[data] dataset` says
    kind: str  # IMAGES or TABLE
    task: str  # CLASSIFICATION (REGRESSION: registered, refused until it lands)
    summary_en: str
    summary_ja: str
    preparer: str  # "module:function"(source, spec, context) -> Prepared
    takes: str = BUILT_IN  # BUILT_IN, FILE (`[data] path` with one of `suffixes`), FOLDER or PYTHON
    suffixes: tuple[str, ...] = ()
    refused: str | None = None  # why it cannot be used yet, and what to use instead

    def prepare(self, spec: Any, context: PrepareContext) -> Prepared:
        if self.refused:
            problem, _, fix = self.refused.partition(" Fix: ")
            raise DataError(f"dataset {self.name!r}: {problem}", fix or None)
        module, name = self.preparer.split(":")
        return getattr(importlib.import_module(module), name)(self, spec, context)


_REGISTRY: dict[str, DataSource] = {}


def register(source: DataSource) -> DataSource:
    if source.name in _REGISTRY:
        raise ValueError(f"data source {source.name} registered twice")
    _REGISTRY[source.name] = source
    return source


def data_sources() -> dict[str, DataSource]:
    return dict(_REGISTRY)


def lookup(name: str) -> DataSource:
    try:
        return _REGISTRY[name]
    except KeyError:
        built_in = [n for n, s in _REGISTRY.items() if s.takes == BUILT_IN and n != "auto"]
        named = ", ".join(built_in)
        close = difflib.get_close_matches(str(name), built_in, n=1, cutoff=0.5)
        raise DataError(f"unknown dataset {name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
                        f"use one of: {named} (or `auto`); or your own data: `path = \"FILE\"` in [data] "
                        "(a .csv, .parquet, .npz or .npy file, or a folder of images), or reglab.run(study, "
                        "data=arrays) from Python (docs/data.md)") from None


def for_path(path: str | Path) -> DataSource:
    """The source that reads `path`: a folder is an image folder, a file goes by its suffix."""
    path = Path(path)
    if path.is_dir():
        return next(s for s in _REGISTRY.values() if s.takes == FOLDER)
    name, suffix = path.name.lower(), path.suffix.lower()
    for source in _REGISTRY.values():
        if source.takes == FILE and name.endswith(source.suffixes):
            return source
    known = ", ".join(sorted(x for s in _REGISTRY.values() for x in s.suffixes))
    raise DataError(f"{path}: reglab does not know how to read a {suffix or 'suffix-less'} file",
                    f"give a file ending in one of {known}, or a folder with one sub-folder of images per class")


_IMAGES = "reglab.data.prepared:prepare_builtin_images"
_EMBEDDED = "reglab.data.table_source:prepare_embedded_table"
_TABLE_FILE = "reglab.data.table_source:prepare_table_file"
_ARRAYS = "reglab.data.array_source:prepare_arrays"
_FOLDER = "reglab.data.image_folder:prepare_image_folder"
_REGRESSION_LATER = ("it is a regression task (a number to predict, not a class), and reglab trains classifiers "
                     "only for now. Fix: use a classification dataset (breast_cancer, wine, iris, digits), or "
                     "a table whose target column holds classes")

for _name, _en, _ja in (
    ("auto", "MNIST when it is cached or can be downloaded, else the embedded digits",
     "MNIST (キャッシュ済みかダウンロード可能なとき)、なければ同梱の digits"),
    ("mnist", "MNIST handwritten digits, 28x28 grey, 10 classes", "MNIST 手書き数字、28x28 グレースケール、10 クラス"),
    ("fashion-mnist", "Fashion-MNIST clothing, 28x28 grey, 10 classes", "Fashion-MNIST 衣料品、28x28、10 クラス"),
    ("kmnist", "Kuzushiji-MNIST cursive hiragana, 28x28 grey, 10 classes", "くずし字 MNIST、28x28、10 クラス"),
    ("digits", "scikit-learn's 8x8 handwritten digits, 1,797 images, embedded", "scikit-learn 同梱の 8x8 手書き数字"),
):
    register(DataSource(_name, IMAGES, CLASSIFICATION, _en, _ja, _IMAGES))

for _name, _en, _ja in (
    ("breast_cancer", "Wisconsin breast cancer (scikit-learn): 569 rows, 30 numeric columns, 2 classes",
     "ウィスコンシン乳がん (scikit-learn): 569 行、数値 30 列、2 クラス"),
    ("wine", "Wine recognition (scikit-learn): 178 rows, 13 numeric columns, 3 classes",
     "ワイン識別 (scikit-learn): 178 行、数値 13 列、3 クラス"),
    ("iris", "Iris (scikit-learn): 150 rows, 4 numeric columns, 3 classes",
     "アヤメ (scikit-learn): 150 行、数値 4 列、3 クラス"),
):
    register(DataSource(_name, TABLE, CLASSIFICATION, _en, _ja, _EMBEDDED))
register(DataSource("diabetes", TABLE, REGRESSION, "Diabetes progression (scikit-learn): 442 rows, 10 columns, "
                    "a number to predict (regression)", "糖尿病の進行 (scikit-learn): 442 行、10 列、回帰",
                    _EMBEDDED, refused=_REGRESSION_LATER))

register(DataSource("csv", TABLE, CLASSIFICATION, "a CSV table: a target column and feature columns",
                    "CSV の表: 目的列と特徴量列", _TABLE_FILE, FILE, (".csv", ".csv.gz", ".tsv")))
register(DataSource("parquet", TABLE, CLASSIFICATION, "a Parquet table (needs pyarrow: pip install 'reglab[tables]')",
                    "Parquet の表 (pyarrow が必要)", _TABLE_FILE, FILE, (".parquet",)))
register(DataSource("npz", TABLE, CLASSIFICATION, "NumPy .npz: x_train, y_train and optionally x_val, y_val, "
                    "x_test, y_test (or x, y)", "NumPy .npz 配列", _ARRAYS, FILE, (".npz",)))
register(DataSource("npy", TABLE, CLASSIFICATION, "NumPy .npy: one array whose last column is the label",
                    "NumPy .npy 配列 (最後の列がラベル)", _ARRAYS, FILE, (".npy",)))
register(DataSource("image-folder", IMAGES, CLASSIFICATION, "a folder with one sub-folder of images per class "
                    "(needs Pillow)", "クラスごとのサブフォルダに画像を置いたフォルダ", _FOLDER, FOLDER))
register(DataSource("arrays", TABLE, CLASSIFICATION, "NumPy arrays or a pandas DataFrame passed to "
                    "reglab.run(study, data=...)", "Python から渡した NumPy 配列または DataFrame", _ARRAYS, PYTHON))
