"""The shape of every JSON file in a run directory, checked when it is read.

A file with the right checksum can still hold the wrong shape (written by hand, by another tool,
by an older reglab): a typed reader checks it against its shape here, so that analysis, report,
resume and the Python API may index what they get without guarding each access. A file that does
not match is damaged, like one with a bad checksum.

A shape is a Python type (str, int, float, bool, dict, list: a float also takes an int and a
null, read as NaN), a tuple of alternatives, `[shape]` (a list of them), or `{key: shape}` (an
object with at least these keys; a key ending in "?" may be absent).
"""

from __future__ import annotations

import math
from typing import Any

from reglab.store.files import Damaged

NUMBER = float  # int, float, or null (a non-finite number written as null): read as float, null as NaN
MAYBE_INT = (int, type(None))
MAYBE_STR = (str, type(None))
MAYBE_NUMBER = (float, type(None))  # null stays None (test accuracy of a diverged run)

EPOCH = {"epoch": int, "train_loss": NUMBER, "train_accuracy": NUMBER, "val_loss": NUMBER,
         "val_accuracy": NUMBER, "lr": NUMBER, "seconds": NUMBER, "train_penalty?": NUMBER, "penalty?": NUMBER,
         "max_norm_peak?": MAYBE_NUMBER}
RECORD = {"variant": str, "seed": int, "status": str, "history": [EPOCH], "test_loss": MAYBE_NUMBER,
          "test_accuracy": MAYBE_NUMBER, "seconds": NUMBER, "engine?": str, "diverged_at?": MAYBE_INT,
          "best_epoch?": MAYBE_INT, "stopped_epoch?": MAYBE_INT, "extra?": dict, "arrays_sha256?": str}
VARIANT = {"name": str}
STUDY = {"name": str, "seeds": [int], "variants": [VARIANT]}
SPLITS = {"train": int, "validation": int, "test": int}
DATA = {"dataset": str, "class_names": [str], "image_shape": [int], "splits": SPLITS, "notes?": [str],
        "origin?": MAYBE_STR, "test_split_sha256?": str, "preprocessing?": dict}
REFERENCES = {"runs": [{"name": str, "seed": int, "test_accuracy": NUMBER, "test_loss": NUMBER, "seconds": NUMBER,
                       "settings?": str, "short?": str, "summary?": str}]}
OPTIONS = {"data_dir?": MAYBE_STR, "device?": str, "engine?": str, "allow_download?": bool}
ENVIRONMENT = dict
MODEL = {"variant": str, "layers": [{"layer": str, "output_shape": str, "params": int, "trainable": int}]}
MANIFEST = {"format": str, "study?": str, "reglab_version?": str, "created?": str}


def check(value: Any, shape: Any, where: str = "") -> Any:
    """`value` if it has `shape` (numbers normalised: null -> NaN where NUMBER), else Damaged."""
    if shape is float:
        if value is None:
            return math.nan
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise Damaged(f"{where or 'value'}: a number expected, got {_kind(value)}")
    if isinstance(shape, tuple):
        if value is None and type(None) in shape:
            return None
        for option in shape:
            if option is not type(None):
                try:
                    return check(value, option, where)
                except Damaged:
                    continue
        raise Damaged(f"{where or 'value'}: {_kind(value)} is not of the expected kind")
    if isinstance(shape, list):
        if not isinstance(value, list):
            raise Damaged(f"{where or 'value'}: a list expected, got {_kind(value)}")
        return [check(item, shape[0], f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise Damaged(f"{where or 'value'}: an object expected, got {_kind(value)}")
        out = dict(value)
        for key, inner in shape.items():
            name = key.rstrip("?")
            if name not in value:
                if key.endswith("?"):
                    continue
                raise Damaged(f"{where + '.' if where else ''}{name} is missing")
            out[name] = check(value[name], inner, f"{where + '.' if where else ''}{name}")
        return out
    if shape is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif shape in (str, bool, dict, list) and isinstance(value, shape):
        return value
    elif shape is type(None) and value is None:
        return None
    raise Damaged(f"{where or 'value'}: {shape.__name__} expected, got {_kind(value)}")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
