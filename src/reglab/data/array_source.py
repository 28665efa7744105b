"""NumPy arrays: from Python (`reglab.run(study, data=...)`), or in .npz and .npy files.

What `data=` may be:
- a dict with `x_train`, `y_train` and optionally `x_val`, `y_val`, `x_test`, `y_test` (a .npz
  holds the same keys), or `x`, `y` for one set that the study splits;
- a pair `(x, y)`: one set;
- a pandas DataFrame: a table, with [data] `target` naming the label column; or a dict of them,
  {"train": ..., "validation": ..., "test": ...} (validation and test optional).

Features of shape (rows, columns) are a table of numeric columns (standardized with the training
rows' statistics, as any table); (rows, H, W) or (rows, H, W, 1) are grey images (uint8 divided
by 255, other numbers used as given). A .npy holds one 2-D array whose last column is the label.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DataError
from .prepared import (Prepared, PrepareContext, array_digest, check_lengths, check_size, existing, file_digest,
                       prepare_image_pool)
from .source_registry import DataSource
from .table_source import _frame_digest, prepare_frames

KEYS = {"train": ("x_train", "y_train"), "validation": ("x_val", "y_val"), "test": ("x_test", "y_test")}


def prepare_arrays(source: DataSource, spec: Any, context: PrepareContext) -> Prepared:
    if source.name == "arrays":
        data, provenance = context.arrays, {"origin": "arrays passed from Python", "name": "arrays"}
        frames = {"train": data} if _is_frame(data) else data if _frames(data) else None
        if frames is not None:
            provenance["fingerprint"] = array_digest(np.array([f"{p}:{_frame_digest(f)}" for p, f in frames.items()]))
            return prepare_frames(source, spec, dict(frames), provenance)
        parts = _parts(data, "data=")
    else:
        path = existing(spec.path)
        size = check_size(path)
        provenance = {"origin": f"file {path}", "name": path.name, "path": str(path.resolve()), "bytes": size,
                      "sha256": file_digest(path), "format": source.name}
        parts = _read_npy(path) if source.name == "npy" else _parts(_read_npz(path), path.name)
    name = provenance["name"]
    for part, (x, y) in parts.items():
        check_lengths(x, y, part, name)
        if y.ndim != 1:
            raise DataError(f"{name}: the {part} labels have shape {y.shape}, not one label per row",
                            "give labels as a 1-D array (class indices or names), not one-hot")
    shapes = {part: x.shape[1:] for part, (x, _) in parts.items()}
    if len(set(shapes.values())) > 1:
        raise DataError(f"{name}: the sets' rows differ in shape ({', '.join(f'{p} {s}' for p, s in shapes.items())})",
                        "give every set rows of one shape")
    provenance["fingerprint"] = provenance.get("sha256") or array_digest(*(a for x, y in parts.values() for a in (x, y)))
    provenance["shapes"] = {part: list(x.shape) for part, (x, _) in parts.items()}
    features = parts["train"][0]
    if features.ndim == 4 and features.shape[-1] == 1:
        parts = {p: (x[..., 0], y) for p, (x, y) in parts.items()}
        features = parts["train"][0]
    if features.ndim == 3:
        return prepare_image_pool(source, spec, parts, provenance)
    if features.ndim != 2:
        raise DataError(f"{name}: features of shape {features.shape}: reglab takes rows of numbers (rows, columns) "
                        "or grey images (rows, H, W)",
                        "reshape them; colour images: convert to grey (one channel) first")
    import pandas as pd

    for part, (x, _) in parts.items():
        if x.dtype.kind not in "biuf":
            raise DataError(f"{name}: the {part} features are {x.dtype}, not numbers",
                            "give numeric arrays, or a pandas DataFrame for a table with text columns")
    columns = [f"x{i}" for i in range(features.shape[1])]
    frames = {p: pd.DataFrame(x, columns=columns).assign(**{"(label)": y}) for p, (x, y) in parts.items()}
    return prepare_frames(source, _with_target(spec, "(label)", columns), frames, provenance)


def _with_target(spec: Any, target: str, columns: list[str]) -> Any:
    """The spec as a table of unnamed numeric columns sees it: features, categorical and target are
    the array's own (a study's [data] target or features name no column of an array)."""
    from dataclasses import replace

    return replace(spec, target=target, features=tuple(columns), categorical=())


def _is_frame(data: Any) -> bool:
    return type(data).__name__ == "DataFrame" and hasattr(data, "columns")


def _frames(data: Any) -> bool:
    """{"train": DataFrame, "validation": ..., "test": ...}: a table's parts, as given."""
    return (isinstance(data, dict) and "train" in data and set(data) <= {"train", "validation", "test"}
            and all(_is_frame(f) for f in data.values()))


def _parts(data: Any, name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if isinstance(data, tuple) and len(data) == 2:
        data = {"x": data[0], "y": data[1]}
    if not hasattr(data, "keys"):
        raise DataError(f"{name}: expected a dict of arrays (x_train, y_train, ...), a pair (x, y) or a DataFrame, "
                        f"got {type(data).__name__}", "see docs/data.md for the forms data= takes")
    keys = set(data.keys())
    if {"x", "y"} <= keys and not keys & {k for pair in KEYS.values() for k in pair}:
        return {"train": (_array(data["x"], "x", name), _array(data["y"], "y", name))}
    parts = {}
    for part, (xk, yk) in KEYS.items():
        if (xk in keys) != (yk in keys):
            raise DataError(f"{name}: {xk if xk in keys else yk} is given without {yk if xk in keys else xk}",
                            f"give both {xk} and {yk}, or neither")
        if xk in keys:
            parts[part] = (_array(data[xk], xk, name), _array(data[yk], yk, name))
    if "train" not in parts:
        raise DataError(f"{name}: no training arrays (keys: {', '.join(sorted(map(str, keys))) or 'none'})",
                        "give x_train and y_train (and optionally x_val, y_val, x_test, y_test), or x and y")
    return parts


def _array(value: Any, key: str, name: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{name}: {key} is not an array ({exc})", f"give {key} as a NumPy array") from None
    if array.ndim == 0:
        raise DataError(f"{name}: {key} is a single value, not an array", f"give {key} one entry per row")
    return array


def _read_npz(path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as bundle:
            return {key: bundle[key] for key in bundle.files}
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz of arrays ({str(exc)[:200]})",
                        "save it with numpy.savez(path, x_train=..., y_train=..., ...); object arrays are refused") \
            from None


def _read_npy(path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({str(exc)[:200]})",
                        "save it with numpy.save(path, array); object arrays are refused") from None
    if array.ndim != 2 or array.shape[1] < 2:
        raise DataError(f"{path}: a .npy must be one 2-D array, features then the label in its last column; "
                        f"this one is {array.shape}", "save x and y together with numpy.savez(path, x=..., y=...)")
    return {"train": (array[:, :-1], array[:, -1])}
