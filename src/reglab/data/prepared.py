"""From a study's [data] to the arrays it trains on, with what the run directory records about them.

`prepare_data(spec, context)` looks the source up in the registry (data/source_registry.py) and
returns a Prepared: the splits, `info` (data.json: the dataset, where it came from, its sha256
fingerprint, columns, rows per split, the class mapping, and under "preprocessing" the fit that
turns raw rows or pixels into the network's inputs, from training rows only: data/preprocessing.py).

The built-in image datasets go through load.py and splits.py exactly as before, so their arrays
and splits are bit for bit those of earlier versions (tests/data/test_data_sources.py pins them).
Everything a user brings is split here: one set is split three ways (stratified, `split_seed`,
the study's sizes as upper bounds, as digits is); validation or test sets of their own are used
as given and only what is missing is drawn from the training set.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reglab.visible_text import unseen_character

from .errors import DataError
from .load import resolve_dataset
from .preprocessing import ImagePixels, Preprocessing
from .source_registry import CLASSIFICATION, FILE, FOLDER, IMAGES, PYTHON, DataSource, for_path, lookup
from .splits import Splits, _fit, _stratified, make_splits

PARTS = ("train", "validation", "test")
# Files and folders bigger than this are refused before a byte is read (a table is held in memory
# several times over while it is read and encoded). REGLAB_MAX_DATA_BYTES raises it.
MAX_DATA_BYTES = 2 * 1024**3
MAX_BYTES_ENV = "REGLAB_MAX_DATA_BYTES"


@dataclass(frozen=True)
class PrepareContext:
    data_dir: Path | None = None  # --data-dir: the IDX files of a built-in dataset
    allow_download: bool = True
    arrays: Any = None  # what reglab.run(study, data=...) was given


@dataclass(frozen=True, eq=False)
class Prepared:
    splits: Splits
    info: dict[str, Any]  # data.json, its "preprocessing" included
    preprocessing: Preprocessing  # the fit (data/preprocessing.py) that made the splits' features
    notices: tuple[str, ...] = ()
    # A table's test rows as read, column by column, for test_split.npz (images cannot hold them):
    # the stored test inputs that a prediction encodes again (TableFit.stored_test_inputs).
    test_rows: dict[str, np.ndarray] | None = field(default=None)


def prepare_data(spec: Any, context: PrepareContext | None = None) -> Prepared:
    """The study's data ([data], a config.DataSpec), split and encoded; DataError with a fix."""
    context = context or PrepareContext()
    path = getattr(spec, "path", None)
    source = lookup(spec.dataset) if spec.dataset != "auto" or path is None else for_path(path)
    if source.takes == PYTHON and context.arrays is None:
        raise DataError("this study trains on arrays passed from Python (dataset = \"arrays\"), and none were given",
                        "pass them again: reglab.run(study, data=...) or reglab.resume(run_dir, data=...)")
    if context.arrays is not None and source.takes != PYTHON:
        raise DataError(f"arrays were passed with data=..., but the study's dataset is {spec.dataset!r}",
                        "leave `dataset` out of [data] (or set it to \"arrays\") when passing data=...")
    if source.takes in (FILE, FOLDER) and not path:
        raise DataError(f"dataset {source.name!r} reads a {'folder' if source.takes == FOLDER else 'file'}, "
                        "and [data] names none", "add `path = \"...\"` to [data], or pass --data PATH")
    if path and source.takes not in (FILE, FOLDER):
        raise DataError(f"[data] names both the dataset {source.name!r} and the path {path!r}",
                        "keep one: a built-in dataset, or `path` to your own file or folder")
    return source.prepare(spec, context)


# ------------------------------------------------------------------------------ built-in images


def prepare_builtin_images(source: DataSource, spec: Any, context: PrepareContext) -> Prepared:
    dataset, notices = resolve_dataset(spec.dataset, data_dir=context.data_dir, allow_download=context.allow_download)
    splits = make_splits(dataset, train=spec.train, validation=spec.validation, test=spec.test,
                         split_seed=spec.split_seed)
    arrays = [a for a in (dataset.train_images, dataset.train_labels, dataset.test_images, dataset.test_labels)
              if a is not None]
    pixels = ImagePixels(splits.image_shape, dataset.pixel_max)  # make_splits's own transform
    info = {
        "dataset": dataset.name, "origin": dataset.origin, "verified": dataset.verified,
        "class_names": list(dataset.class_names), "image_shape": list(splits.image_shape),
        "splits": sizes_of(splits), "class_counts": class_counts(splits), "requested": requested(spec),
        "notes": list(splits.notes),
        # The fit that made the features (data/preprocessing.py): what a later prediction applies.
        "preprocessing": pixels.to_json(),
        "kind": IMAGES, "task": CLASSIFICATION, "fingerprint": array_digest(*arrays),
    }
    return Prepared(splits, info, pixels, tuple(notices))


# ------------------------------------------------------------------------ what a user brings


def split_pool(labels: np.ndarray, spec: Any, given: set[str], name: str,
               values: list[Any] | None = None) -> dict[str, np.ndarray]:
    """Row indices into the pool (the training set, or the one set given) for every part not given.

    Stratified by class with `split_seed`, the study's sizes as upper bounds scaled down in
    proportion when the pool is smaller (as digits); a pool that only supplies training rows gives
    its first `train` rows."""
    wanted = [part for part in PARTS if part == "train" or part not in given]
    if len(wanted) == 1:
        return {"train": np.arange(min(spec.train, len(labels)))}
    classes, counts = np.unique(labels, return_counts=True)
    few = [(int(c), int(n)) for c, n in zip(classes, counts) if n < len(wanted)]
    if few:
        raise DataError(f"{name}: {len(few)} class(es) have fewer rows than the {len(wanted)} parts a stratified "
                        f"split makes ({', '.join(wanted)}): class {values[few[0][0]] if values else few[0][0]!r} has "
                        f"{few[0][1]} row(s)",
                        "add rows of that class or remove it, or pass validation and test sets of your own "
                        "(x_val/y_val, x_test/y_test)")
    sizes = _fit(tuple(getattr(spec, part) for part in wanted), len(labels))
    return dict(zip(wanted, _stratified(labels, sizes, spec.split_seed, name)))


def class_mapping(pool: np.ndarray, others: dict[str, np.ndarray], name: str) -> tuple[list[Any], dict[str, np.ndarray]]:
    """Labels of any type -> class indices 0..K-1, the classes being the pool's values sorted (numbers
    by value, then text). Returns the values and the index array of the pool and of every other part."""
    values = _label_values(pool, "the training rows", name)
    position = {_key(v): i for i, v in enumerate(values)}
    indexed = {"pool": np.array([position[_key(v)] for v in pool.tolist()], dtype=np.int64)}
    for part, labels in others.items():
        seen = _label_values(labels, f"the {part} rows", name)
        unknown = [v for v in seen if _key(v) not in position]
        if unknown:
            raise DataError(f"{name}: the {part} labels include {', '.join(map(repr, unknown[:5]))}, which the "
                            f"training labels do not ({', '.join(map(repr, values[:10]))})",
                            f"give the {part} set only classes the training set has, or add rows of those "
                            "classes to the training set")
        indexed[part] = np.array([position[_key(v)] for v in labels.tolist()], dtype=np.int64)
    return values, indexed


def _label_values(labels: np.ndarray, where: str, name: str) -> list[Any]:
    values = [_plain(v) for v in labels.tolist()]
    empty = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and not np.isfinite(v))]
    if empty:
        raise DataError(f"{name}: {len(empty)} of {where} have no label (empty, NaN or infinite; the first is row "
                        f"{empty[0]})", "drop those rows or give them a label")
    numbers = [v for v in values if isinstance(v, float)]
    if numbers and any(v != round(v) for v in numbers):
        raise DataError(f"{name}: the labels of {where} hold fractional numbers ({numbers[0]!r}, ...): that is a "
                        "regression target, and reglab trains classifiers only for now",
                        "use a column of classes as the target")
    unique = {_key(v): v for v in values}
    return sorted(unique.values(), key=_key)


def _plain(value: Any) -> Any:
    """A label as plain JSON: numbers that are whole become ints (1.0 and 1 are one class); an
    empty cell (None, NaN, pandas' NA) becomes None."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return int(value) if np.isfinite(value) and value == round(value) else value
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None
    return str(value)


def _key(value: Any) -> tuple:
    if isinstance(value, bool):
        return (0, int(value), "")
    if isinstance(value, (int, float)):
        return (1, value, "")
    return (2, 0, str(value))


def check_lengths(features: Any, labels: Any, part: str, name: str) -> None:
    if len(features) != len(labels):
        raise DataError(f"{name}: the {part} set has {len(features)} rows of features but {len(labels)} labels",
                        "give as many labels as rows (x and y of the same length)")
    if len(features) == 0:
        raise DataError(f"{name}: the {part} set has no rows", f"give at least one row per class in the {part} set")


# -------------------------------------------------------------------------------- provenance


def array_digest(*arrays: np.ndarray) -> str:
    """sha256 over each array's dtype, shape and bytes: equal digests mean equal data."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        if array.dtype.kind == "O":
            digest.update(repr(array.tolist()).encode())
        else:
            digest.update(array.data)  # a view: no copy of a big array
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def max_bytes() -> int:
    text = os.environ.get(MAX_BYTES_ENV)
    try:
        return int(text) if text else MAX_DATA_BYTES
    except ValueError:
        raise DataError(f"{MAX_BYTES_ENV}={text!r} is not a whole number of bytes",
                        f"set it to e.g. {MAX_DATA_BYTES} or unset it") from None


def check_size(path: Path, size: int | None = None) -> int:
    """The size of `path` (or `size`, a folder's total), refused above the limit before reading."""
    size = path.stat().st_size if size is None else size
    limit = max_bytes()
    if size > limit:
        raise DataError(f"{path} is {size / 1e9:.1f} GB, more than reglab reads ({limit / 1e9:.1f} GB): a table is "
                        "held in memory several times over while it is read and encoded",
                        f"use a sample of it, or raise the limit with {MAX_BYTES_ENV}=BYTES if this machine "
                        "has the memory")
    return size


def existing(path_text: str) -> Path:
    path = Path(path_text).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder", "check the path in [data] path or --data (a relative "
                        "path in a study file is read from the study file's folder)")
    return path


def sizes_of(splits: Splits) -> dict[str, int]:
    return {"train": len(splits.y_train), "validation": len(splits.y_val), "test": len(splits.y_test)}


def class_counts(splits: Splits) -> dict[str, list[int]]:
    """Rows of each class in each split: an imbalance is seen before any accuracy is read."""
    classes = len(splits.class_names)
    return {part: np.bincount(y, minlength=classes).tolist()
            for part, y in (("train", splits.y_train), ("validation", splits.y_val), ("test", splits.y_test))}


def requested(spec: Any) -> dict[str, int]:
    return {"train": spec.train, "validation": spec.validation, "test": spec.test}


def split_note(name: str, n_pool: int, parts: dict[str, np.ndarray], given: set[str], spec: Any) -> str:
    drawn = [p for p in PARTS if p in parts]
    own = [p for p in PARTS if p in given]
    text = (f"{name}: {'/'.join(str(len(parts[p])) for p in drawn)} {'/'.join(drawn)} rows drawn from "
            f"{n_pool} (requested {'/'.join(str(getattr(spec, p)) for p in drawn)})")
    if len(drawn) > 1:
        text += f", stratified, split_seed={spec.split_seed}"
    if own:
        text += f"; {' and '.join(own)} as given"
    return text


# ---------------------------------------------------------------------------------- images


def prepare_image_pool(source: DataSource, spec: Any, parts: dict[str, tuple[np.ndarray, np.ndarray]],
                       provenance: dict[str, Any], notices: tuple[str, ...] = ()) -> Prepared:
    """Splits of grey images (N, H, W) given as a pool ("train") and optionally validation / test
    sets of their own: uint8 pixels are divided by 255; other numbers must be in [0, 1] already."""
    name = provenance.get("name", source.name)
    shapes = {part: images.shape[1:] for part, (images, _) in parts.items()}
    if len(set(shapes.values())) > 1:
        raise DataError(f"{name}: the sets' images differ in size ({', '.join(f'{p} {s}' for p, s in shapes.items())})",
                        "give images of one size (H x W) in every set")
    for part, (images, labels) in parts.items():
        check_lengths(images, labels, part, name)
        floats = images.dtype.kind == "f" or (images.dtype.kind in "iu" and images.dtype != np.uint8)
        if images.dtype.kind not in "uif" or (floats and images.size and not (
                np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1)):
            raise DataError(f"{name}: the {part} images hold {images.dtype} values" +
                            (" outside 0..1 (or not finite)" if images.dtype.kind in "uif" else ""),
                            "give pixels as uint8 (0..255, divided by 255 here) or as numbers already in [0, 1]")
    pool_images, pool_labels = parts["train"]
    given = {p for p in parts if p != "train"}
    values, indexed = class_mapping(pool_labels, {p: parts[p][1] for p in given}, name)
    chosen = split_pool(indexed["pool"], spec, given, name, values)
    image_shape = tuple(int(s) for s in pool_images.shape[1:])
    pixels = ImagePixels(image_shape, 255.0 if pool_images.dtype == np.uint8 else 1.0)
    flat = pixels.transform  # the stored fit's own transform: a prediction gets the features training had

    arrays = {}
    for part in PARTS:
        if part in chosen:
            arrays[part] = (flat(pool_images[chosen[part]]), indexed["pool"][chosen[part]])
        else:
            arrays[part] = (flat(parts[part][0][: getattr(spec, part)]), indexed[part][: getattr(spec, part)])
    note = split_note(name, len(pool_labels), chosen, given, spec)
    splits = Splits(*arrays["train"], *arrays["validation"], *arrays["test"], image_shape,
                    tuple(str(v) for v in values), (note,), kind=IMAGES, task=CLASSIFICATION)
    info = user_info(source, spec, splits, values, provenance, pixels.to_json())
    return Prepared(splits, info, pixels, notices, test_rows=pixels.stored_rows(
        pool_images[chosen["test"]] if "test" in chosen else parts["test"][0][: spec.test]))


def user_info(source: DataSource, spec: Any, splits: Splits, values: list[Any],
              provenance: dict[str, Any], preprocessing: dict[str, Any]) -> dict[str, Any]:
    """data.json for data a user brought: the common keys, then where the data came from."""
    for name in splits.class_names:  # a label value or a folder's name: shown in tables, figures, exports
        if (hidden := unseen_character(name)) is not None:
            raise DataError(f"{source.name}: the class {name!r} holds {hidden}, which a terminal, a figure or "
                            "a spreadsheet would not show as itself",
                            "rename that label value (or image folder) with printable characters")
    return {
        "dataset": source.name, "origin": provenance.get("origin"), "verified": False,
        "class_names": list(splits.class_names), "image_shape": list(splits.image_shape),
        "splits": sizes_of(splits), "class_counts": class_counts(splits), "requested": requested(spec),
        "notes": list(splits.notes), "preprocessing": preprocessing,
        "kind": splits.kind, "task": splits.task, "fingerprint": provenance["fingerprint"],
        "label_values": values, "source": {k: v for k, v in provenance.items() if k not in ("fingerprint", "origin")},
    }
