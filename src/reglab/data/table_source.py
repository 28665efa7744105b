"""Tables: CSV and Parquet files, scikit-learn's embedded tabular datasets, pandas DataFrames.

A table has a target column (the class of each row) and feature columns (all the others unless
[data] `features` names them). Rows are split first; then table_preprocess.fit_table reads its
statistics from the training rows alone and the same fit encodes validation and test rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .prepared import (PARTS, Prepared, PrepareContext, check_lengths, check_size, class_mapping, existing,
                       file_digest, split_note, split_pool, user_info)
from .source_registry import CLASSIFICATION, TABLE, DataSource
from .splits import Splits
from .table_preprocess import fit_table

EMBEDDED = {"breast_cancer": "load_breast_cancer", "wine": "load_wine", "iris": "load_iris", "diabetes": "load_diabetes"}


def prepare_table_file(source: DataSource, spec: Any, context: PrepareContext) -> Prepared:
    path = existing(spec.path)
    size = check_size(path)
    frame = read_table(path, source.name)
    provenance = {"origin": f"file {path}", "name": path.name, "path": str(path.resolve()), "bytes": size,
                  "sha256": file_digest(path), "format": source.name}
    provenance["fingerprint"] = provenance["sha256"]
    return prepare_frames(source, spec, {"train": frame}, provenance)


def read_table(path: Path, kind: str) -> Any:
    import pandas as pd

    try:
        if kind == "parquet":
            try:
                return pd.read_parquet(path)
            except ImportError:
                raise DataError(f"{path}: reading Parquet needs pyarrow, which is not installed",
                                "pip install 'reglab[tables]' (or pyarrow), or save the table as CSV") from None
        return pd.read_csv(path, sep="\t" if path.name.lower().endswith(".tsv") else ",")
    except DataError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: not a readable {kind} table ({str(exc).splitlines()[0][:200]})",
                        f"check that it is a {kind} file with a header row") from None


def prepare_embedded_table(source: DataSource, spec: Any, context: PrepareContext) -> Prepared:
    # scikit-learn is imported only here: 1 to 2 s, paid by the studies that use these tables.
    from sklearn import datasets

    bunch = getattr(datasets, EMBEDDED[source.name])(as_frame=True)
    frame = bunch.frame
    target = "target"
    names = [str(n) for n in bunch.target_names]
    provenance = {"origin": "scikit-learn embedded", "name": source.name, "columns": list(bunch.feature_names)}
    provenance["fingerprint"] = _frame_digest(frame)
    return prepare_frames(source, spec, {"train": frame}, provenance, target=target, class_names=names)


def prepare_frames(source: DataSource, spec: Any, frames: dict[str, Any], provenance: dict[str, Any],
                   target: str | None = None, class_names: list[str] | None = None) -> Prepared:
    """Split (what is not given), fit on the training rows, encode every part."""
    name = provenance.get("name", source.name)
    target = target or spec.target
    columns = list(frames["train"].columns)
    if not target:
        raise DataError(f"{name}: a table needs a target column (the class of each row), and none is named",
                        f"add `target = \"COLUMN\"` to [data] (or --target COLUMN); the columns are: "
                        f"{_listed(columns)}")
    for part, frame in frames.items():
        if target not in frame.columns:
            raise DataError(f"{name}: no column {target!r} in the {part} rows to use as the target",
                            f"name one of its columns as target: {_listed(list(frame.columns))}")
    features = list(spec.features) if spec.features else [c for c in columns if c != target]
    missing = [f for f in features if f not in columns]
    if missing or target in features or not features:
        problem = (f"the features {', '.join(map(repr, missing))} are not columns of the table" if missing
                   else f"the target {target!r} is also a feature" if target in features else "no feature columns")
        raise DataError(f"{name}: {problem}", f"name feature columns other than the target: {_listed(columns)}")
    unknown = [c for c in spec.categorical if c not in features]
    if unknown:
        raise DataError(f"{name}: categorical names {', '.join(map(repr, unknown))}, which are not feature columns",
                        f"name feature columns: {_listed(features)}")
    for part, frame in frames.items():
        check_lengths(frame, frame[target], part, name)
        frames[part] = frame.reset_index(drop=True)

    pool = frames["train"]
    given = {p for p in frames if p != "train"}
    values, indexed = class_mapping(pool[target].to_numpy(), {p: frames[p][target].to_numpy() for p in given}, name)
    chosen = split_pool(indexed["pool"], spec, given, name, values)
    rows = {p: (pool.iloc[chosen[p]], indexed["pool"][chosen[p]]) if p in chosen
            else (frames[p].iloc[: getattr(spec, p)], indexed[p][: getattr(spec, p)]) for p in PARTS}
    fit = fit_table(rows["train"][0], features, tuple(spec.categorical), spec.missing, name)
    encoded, notes = {}, [split_note(name, len(pool), chosen, given, spec)]
    for part in PARTS:
        x, more = fit.encode(rows[part][0], part, name)
        encoded[part] = (x, rows[part][1])
        notes += more
    width = encoded["train"][0].shape[1]
    names = tuple(class_names[v] for v in values) if class_names else tuple(str(v) for v in values)
    splits = Splits(*encoded["train"], *encoded["validation"], *encoded["test"], (1, width), names,
                    tuple(notes), kind=TABLE, task=CLASSIFICATION)
    provenance = {**provenance, "target": target, "features": features,
                  "rows": {p: int(len(f)) for p, f in frames.items()}}
    info = user_info(source, spec, splits, values, provenance, fit.to_json())
    return Prepared(splits, info, fit, (), test_rows=fit.stored_rows(rows["test"][0]))


def _frame_digest(frame: Any) -> str:
    import pandas as pd

    from .prepared import array_digest

    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    header = np.array([f"{c}:{t}" for c, t in zip(frame.columns, frame.dtypes)], dtype=object)
    return array_digest(hashed, header)


def _listed(columns: list[Any], limit: int = 20) -> str:
    shown = ", ".join(repr(str(c)) for c in columns[:limit])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")
