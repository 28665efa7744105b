"""Declarative parameter tables: every technique states its parameters once, and the study
loader, `reglab techniques` and the docs all read the same table (scikit-learn style)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its type, default and allowed range.

    kind: "float", "int", "bool", "str" (one of `choices`), "floats" (a list of floats),
    "ints" (a list of ints), or "rate" (a float or a list of floats, one per hidden layer).
    Bounds are inclusive unless `low_open` / `high_open`.
    """

    name: str
    kind: str
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()

    def describe_range(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.low is None and self.high is None:
            return {"bool": "true or false"}.get(self.kind, "any")
        lo = "" if self.low is None else f"{'>' if self.low_open else '>='} {self.low:g}"
        hi = "" if self.high is None else f"{'<' if self.high_open else '<='} {self.high:g}"
        return " and ".join(part for part in (lo, hi) if part)

    def check(self, value: Any) -> tuple[Any, str | None]:
        """Return (normalised value, None) or (None, a message saying what is wrong)."""
        if self.kind == "bool":
            return (value, None) if isinstance(value, bool) else (None, f"must be true or false, got {value!r}")
        if self.kind == "str":
            if not isinstance(value, str):
                return None, f"must be a string, got {value!r}"
            if self.choices and value not in self.choices:
                return None, f"{value!r} is not allowed: must be {self.describe_range()}"
            return value, None
        if self.kind in ("float", "int"):
            return self._check_number(value)
        if self.kind in ("floats", "ints", "rate"):
            items = value if isinstance(value, list) else None
            if items is None:
                if self.kind != "rate":
                    return None, f"must be a list, got {value!r}"
                items = [value]
            checked = []
            for item in items:
                number, problem = self._check_number(item, integer=self.kind == "ints")
                if problem:
                    return None, problem if len(items) == 1 else f"item {item!r}: {problem}"
                checked.append(number)
            if self.kind == "rate" and not isinstance(value, list):
                return checked[0], None
            return tuple(checked), None
        raise AssertionError(f"unknown parameter kind {self.kind}")

    def _check_number(self, value: Any, integer: bool | None = None) -> tuple[Any, str | None]:
        integer = self.kind in ("int", "ints") if integer is None else integer
        # TOML gives bool for true/false, and bool is an int in Python: reject it explicitly.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"must be {'an integer' if integer else 'a number'}, got {value!r}"
        if integer and not isinstance(value, int):
            return None, f"must be an integer, got {value!r}"
        if not integer:
            value = float(value)
            if not math.isfinite(value):
                return None, f"must be a finite number, got {value!r}"
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if too_low or too_high:
            return None, f"{value!r} is out of range: must be {self.describe_range()}"
        return value, None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.kind, "default": self.default, "doc": self.doc}
        if self.choices:
            out["choices"] = list(self.choices)
        if self.low is not None:
            out["min" if not self.low_open else "greater_than"] = self.low
        if self.high is not None:
            out["max" if not self.high_open else "less_than"] = self.high
        return out
