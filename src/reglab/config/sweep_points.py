"""Sweeps: a base variant expanded over values of its settings, one variant per point (pure).

In a study TOML:

    [[sweeps]]
    name = "l2"                      # the sweep's name (default: its factors joined by " x ")
    base = "none"                    # a variant of the study to start from (default: [defaults])
    choose = "val_loss"              # or "val_accuracy": how the best point is chosen (validation only)
    values.l2 = { log = [1e-6, 1e-1], points = 11 }
    values."dropout.rate" = [0.0, 0.3, 0.5]      # a list of values
    # values.optimizer.lr = { log = [1e-4, 1e-1], points = 4 }   (dotted keys nest; both forms work)
    # random = 20 ; seed = 0        # 20 random points instead of the full grid (log-uniform on log ranges)

A range is `{ log = [low, high], points = N }` or `{ linear = [low, high], points = N }`; integer
bounds give integer values (rounded; batch_size, epochs, patience), `integer = false` says otherwise.
Several factors make a full factorial grid, first factor outermost. Seeds replicate every point:
they are never a factor. A point is an ordinary variant (validated by config.py exactly like a
hand-written one) whose name says its values (`l2=1e-04`, `dropout=0.3 l2=1e-03`) and whose
`sweep` table keeps them as data.
"""

from __future__ import annotations

import copy
import itertools
import math
import random as _random
from dataclasses import dataclass
from typing import Any

from reglab.techniques import registry

SWEEP_KEYS = ("name", "base", "description", "description_ja", "values", "random", "seed", "choose", "baseline")
RANGE_KEYS = ("log", "linear", "points", "integer")
CHOOSE = ("val_loss", "val_accuracy")
MAX_POINTS_PER_FACTOR = 1000
# Keys a point cannot vary, and why: a sweep's factors are a variant's settings.
_NAMED = "a point's {} is the sweep's to set (from its values). Fix: sweep a setting of the variant"
NOT_SETTINGS = {
    **{key: _NAMED.format(key) for key in ("name", "description", "description_ja", "baseline", "sweep")},
    "seeds": "seeds are not a factor: every point is trained with each of the study's seeds. Fix: --seeds N, "
             "or seeds = [...] in the study",
    **{key: "one study trains on one dataset and one split. Fix: run the study once per dataset (--dataset NAME), "
            "each into its own run directory" for key in ("data", "dataset", "train", "validation", "test",
                                                           "split_seed", "path", "target", "features",
                                                           "categorical", "missing", "image_size")},
    **{key: f"{key} is the study's, not a variant's. Fix: sweep a setting of the variant" for key in ("max_runs", "keras_compat", "references")},
}


class SweepError(ValueError):
    """A problem in one sweep; `where` is a path inside it (values.l2)."""

    def __init__(self, where: str, message: str):
        super().__init__(message)
        self.where = where
        self.message = message


@dataclass(frozen=True)
class Factor:
    key: str  # a dotted setting: l2, dropout.rate, optimizer.lr, batch_size
    values: tuple[Any, ...]  # the grid's values, in order (a random sweep draws from `low`..`high` or these)
    scale: str  # "log", "linear" or "list"
    integer: bool = False
    low: float | None = None  # the range, for random draws
    high: float | None = None


@dataclass(frozen=True)
class Point:
    name: str
    values: tuple[tuple[str, Any], ...]  # (key, value) per factor, in the sweep's order


@dataclass(frozen=True)
class SweepTag:
    """What a point's variant carries as data: its sweep, its values, how the sweep chooses.
    Stored in study.json under the variant's `sweep` key and read back by the analysis."""

    sweep: str
    values: tuple[tuple[str, Any], ...]
    scales: tuple[tuple[str, str], ...]
    choose: str = "val_loss"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.sweep, "values": {k: _jsonable(v) for k, v in self.values},
                "scales": dict(self.scales), "choose": self.choose}

    @classmethod
    def from_dict(cls, raw: Any) -> SweepTag:
        """Raises ValueError for a table that is not one `to_dict` wrote."""
        if (not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not isinstance(raw.get("values"), dict)
                or not isinstance(raw.get("scales", {}), dict) or raw.get("choose", "val_loss") not in CHOOSE):
            raise ValueError("must be the table a sweep writes: { name, values, scales, choose }")
        return cls(raw["name"], tuple((k, _frozen(v)) for k, v in raw["values"].items()),
                   tuple((str(k), str(v)) for k, v in raw.get("scales", {}).items()), raw.get("choose", "val_loss"))


@dataclass(frozen=True)
class Sweep:
    name: str
    base: str | None
    factors: tuple[Factor, ...]
    choose: str
    random: int | None
    seed: int
    description: str = ""
    baseline: str | None = None
    description_ja: str = ""

    def describe(self, point: Point) -> tuple[str, str]:
        """A point's description in English and Japanese: the sweep's, with the point's values."""
        return (f"{self.description or f'{self.name} sweep'}: {point.name}",
                f"{self.description_ja or f'{self.name} のスイープ'}: {point.name}")

    @property
    def size(self) -> int:
        return self.random if self.random is not None else math.prod(len(f.values) for f in self.factors)

    def points(self) -> list[Point]:
        if self.random is None:
            combos = list(itertools.product(*(f.values for f in self.factors)))
        else:
            # A stated seed: the same sweep draws the same points on any machine (Python's Mersenne
            # Twister is specified, unlike numpy's legacy global state).
            rng = _random.Random(self.seed)
            combos = [tuple(_draw(f, rng) for f in self.factors) for _ in range(self.random)]
        labels = _labels([f.key for f in self.factors])
        texts = [_format_column(f, [c[i] for c in combos]) for i, f in enumerate(self.factors)]
        points, seen = [], set()
        for index, combo in enumerate(combos):
            name = " ".join(f"{label}={texts[i][index]}" for i, label in enumerate(labels))
            if name in seen:
                continue  # a random draw may repeat a point of a list factor: train it once
            seen.add(name)
            points.append(Point(name, tuple(zip((f.key for f in self.factors), combo))))
        return points

    def tag(self, point: Point) -> SweepTag:
        return SweepTag(self.name, tuple((k, _frozen(v)) for k, v in point.values),
                        tuple((f.key, f.scale) for f in self.factors), self.choose)


def parse_sweep(raw: Any, index: int) -> Sweep:
    """A [[sweeps]] table -> Sweep. Raises SweepError naming the key at fault."""
    if not isinstance(raw, dict):
        raise SweepError("", "must be a table: [[sweeps]]")
    for key in raw:
        if key not in SWEEP_KEYS:
            raise SweepError(key, f"unknown key. Allowed in a sweep: {', '.join(SWEEP_KEYS)}")
    values = raw.get("values")
    if not isinstance(values, dict) or not values:
        raise SweepError("values", "a sweep needs `values`: a table of setting = list or range, "
                                   "e.g. values.l2 = { log = [1e-6, 1e-1], points = 11 }")
    flat = _flatten(values)
    for key, _ in flat:
        if key.partition(".")[0] in NOT_SETTINGS:
            raise SweepError(f"values.{key}", NOT_SETTINGS[key.partition(".")[0]])
    factors = tuple(_factor(key, spec) for key, spec in flat)
    random_points = raw.get("random")
    if random_points is not None and (isinstance(random_points, bool) or not isinstance(random_points, int)
                                      or random_points < 1):
        raise SweepError("random", f"must be a number of points (1 or more), got {random_points!r}")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SweepError("seed", f"must be an integer >= 0, got {seed!r}")
    if "seed" in raw and random_points is None:
        raise SweepError("seed", "a grid has no random draws: `seed` goes with `random = N`")
    choose = raw.get("choose", "val_loss")
    if choose not in CHOOSE:
        raise SweepError("choose", f"must be one of {', '.join(CHOOSE)} (validation data only), got {choose!r}")
    for key in ("name", "base", "description", "description_ja", "baseline"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key].strip()):
            raise SweepError(key, f"must be a non-empty string, got {raw[key]!r}")
    name = raw.get("name") or " x ".join(_labels([f.key for f in factors]))
    return Sweep(name, raw.get("base"), factors, choose, random_points, seed, raw.get("description", ""),
                 raw.get("baseline"), raw.get("description_ja", ""))


def apply(own: dict[str, Any], inherited: dict[str, Any], key: str, value: Any, shorthands: dict[str, str]) -> None:
    """Sets a dotted setting in a variant's own table. `inherited` is what the variant would have
    without its own table (defaults), so that optimizer.lr keeps the optimizer's name and other
    parameters; `shorthands` maps a switch to the parameter a bare value sets (dropout -> rate)."""
    head, _, rest = key.partition(".")
    if not rest:
        own[head] = value
        return
    current = own.get(head, inherited.get(head))
    if isinstance(current, str):
        current = {"name": current}
    elif current is True or current is None or current is False:
        current = {}
    elif not isinstance(current, dict):
        current = {shorthands[head]: current} if head in shorthands else {}
    table = copy.deepcopy(current)
    table[rest] = value
    own[head] = table


def parse_cli(texts: list[str], *, random_points: int | None = None, seed: int | None = None,
              base: str | None = None, choose: str | None = None) -> dict[str, Any]:
    """`--sweep l2=1e-6:1e-1:log:11` (range: low:high:log|linear:points), `--sweep dropout.rate=0,0.3,0.5`
    (a list), one flag per factor -> the raw [[sweeps]] table the TOML would hold."""
    values: dict[str, Any] = {}
    for text in texts:
        key, sep, spec = text.partition("=")
        key = key.strip()
        if not sep or not key or not spec:
            raise SweepError(text, "write SETTING=LOW:HIGH:log|linear:POINTS or SETTING=V1,V2,... "
                                   "(e.g. l2=1e-6:1e-1:log:11, dropout.rate=0,0.2,0.5)")
        if key in values:
            raise SweepError(text, f"{key} is swept twice: give each setting one --sweep")
        parts = spec.split(":")
        if len(parts) == 4:
            low, high, scale, points = parts
            if scale not in ("log", "linear"):
                raise SweepError(text, f"the scale is {scale!r}: use log or linear (LOW:HIGH:log:POINTS)")
            values[key] = {scale: [_cli_number(low, text), _cli_number(high, text)], "points": _cli_int(points, text)}
        elif len(parts) == 1:
            values[key] = [_cli_value(item, text) for item in spec.split(",")]
        else:
            raise SweepError(text, "a range has four parts, LOW:HIGH:log|linear:POINTS (e.g. 1e-6:1e-1:log:11)")
    raw: dict[str, Any] = {"values": values}
    if random_points is not None:
        raw["random"] = random_points
        if seed is not None:
            raw["seed"] = seed
    if base:
        raw["base"] = base
    if choose:
        raw["choose"] = choose
    return raw


# ------------------------------------------------------------------------------------ pieces


def _flatten(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """values.optimizer.lr = {...} arrives nested from TOML; "optimizer.lr" = {...} flat. Both -> flat."""
    out = []
    for key, spec in values.items():
        path = f"{prefix}{key}"
        if isinstance(spec, dict) and not (set(spec) & set(RANGE_KEYS)):
            if not spec:
                raise SweepError(f"values.{path}", "an empty table: give a list or a range")
            out += _flatten(spec, f"{path}.")
        else:
            out.append((path, spec))
    return out


def _factor(key: str, spec: Any) -> Factor:
    where = f"values.{key}"
    if isinstance(spec, list):
        if not spec:
            raise SweepError(where, "an empty list: give at least one value")
        if len({_hashable(v) for v in spec}) != len(spec):
            raise SweepError(where, f"values repeat: {spec}")
        return Factor(key, tuple(spec), "list")
    if not isinstance(spec, dict):
        raise SweepError(where, f"must be a list of values or a range {{ log = [low, high], points = N }}, got {spec!r}")
    for k in spec:
        if k not in RANGE_KEYS:
            raise SweepError(f"{where}.{k}", f"unknown key in a range. Allowed: {', '.join(RANGE_KEYS)}")
    scales = [s for s in ("log", "linear") if s in spec]
    if len(scales) != 1:
        raise SweepError(where, "a range needs exactly one of log = [low, high] or linear = [low, high]")
    scale = scales[0]
    bounds = spec[scale]
    if (not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b) for b in bounds)):
        raise SweepError(f"{where}.{scale}", f"must be two numbers [low, high], got {bounds!r}")
    low, high = bounds
    if not low < high:
        raise SweepError(f"{where}.{scale}", f"low must be below high, got [{low}, {high}]")
    if scale == "log" and low <= 0:
        raise SweepError(f"{where}.{scale}", f"a log range needs low > 0, got {low} (sweep 0 as a list value)")
    points = spec.get("points")
    if isinstance(points, bool) or not isinstance(points, int) or not 2 <= points <= MAX_POINTS_PER_FACTOR:
        raise SweepError(f"{where}.points", f"must be a whole number of points from 2 to {MAX_POINTS_PER_FACTOR}, "
                                            f"got {points!r}")
    integer = spec.get("integer", isinstance(low, int) and isinstance(high, int))
    if not isinstance(integer, bool):
        raise SweepError(f"{where}.integer", f"must be true or false, got {integer!r}")
    if scale == "log":
        values = [math.exp(math.log(low) + i * (math.log(high) - math.log(low)) / (points - 1)) for i in range(points)]
    else:
        values = [low + i * (high - low) / (points - 1) for i in range(points)]
    if not integer:  # 1e-05, not 1.0000000000000016e-05, in results; still inside the range
        values = [min(max(float(f"{v:.12g}"), low), high) for v in values]
    values[0], values[-1] = low, high  # exactly the ends written, not exp(log(x)) nor a rounding of them
    if integer:
        values = [int(round(v)) for v in values]
        if len(set(values)) != len(values):
            raise SweepError(where, f"{points} integer points between {low} and {high} repeat ({values}): "
                                    "use fewer points, or write the bounds as 0.0 and 1.0 for real values")
    else:
        values = [float(v) for v in values]
    return Factor(key, tuple(values), scale, integer, float(low), float(high))


def _draw(factor: Factor, rng: _random.Random) -> Any:
    if factor.scale == "list":
        return factor.values[rng.randrange(len(factor.values))]
    assert factor.low is not None and factor.high is not None
    if factor.scale == "log":
        value = math.exp(rng.uniform(math.log(factor.low), math.log(factor.high)))
    else:
        value = rng.uniform(factor.low, factor.high)
    return int(round(value)) if factor.integer else value


def _labels(keys: list[str]) -> list[str]:
    """A factor's label in point names: the switch itself for its shorthand where its registration
    says so (dropout.rate -> dropout, l2.strength -> l2: Words.point_label), the full dotted key
    otherwise (optimizer.lr)."""
    short = {f"{t.name}.{t.shorthand}": t.name for t in registry.switches().values()
             if t.shorthand and t.words is not None and t.words.point_label}
    labels = [short.get(k, k) for k in keys]
    return labels if len(set(labels)) == len(labels) else keys


def _format_column(factor: Factor, values: list[Any]) -> list[str]:
    """The shortest text that keeps every distinct value of the column distinct (and at least
    readable: 1e-04, 0.3, 64), so that names are stable and unique, and that reads back as a number
    inside the range (1.7e308 is not written 2e+308, which is past the range and not even finite)."""
    if (all(isinstance(v, bool) or not isinstance(v, float) for v in values)
            or any(isinstance(v, (str, list, tuple, bool)) for v in values)):
        return [_plain(v) for v in values]
    distinct = sorted(set(values))
    if factor.scale == "list" and len({f"{v:g}" for v in distinct}) == len(distinct):
        return [f"{v:g}" for v in values]
    for digits in range(0, 12):
        if factor.scale == "log":
            texts = {v: f"{v:.{digits}e}" for v in distinct}
        else:
            texts = {v: _trim(f"{v:.{digits}f}") for v in distinct}
        if len(set(texts.values())) == len(distinct) and all(_inside(factor, float(t)) for t in texts.values()):
            return [texts[v] for v in values]
    return [repr(v) for v in values]


def _inside(factor: Factor, value: float) -> bool:
    if factor.low is None or factor.high is None:  # a list: its values are written as given
        return math.isfinite(value)
    return factor.low <= value <= factor.high


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(_plain(v) for v in value) + "]"
    if isinstance(value, float):
        return _trim(f"{value:.6g}") if "e" not in f"{value:.6g}" else f"{value:.6g}"
    return str(value)


def _frozen(value: Any) -> Any:
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def _jsonable(value: Any) -> Any:
    return [_jsonable(v) for v in value] if isinstance(value, tuple) else value


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else (type(value).__name__, value)


def _cli_number(text: str, where: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise SweepError(where, f"{text!r} is not a number") from None


def _cli_int(text: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SweepError(where, f"the number of points {text!r} is not a whole number") from None


def _cli_value(text: str, where: str) -> Any:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    try:
        return _cli_number(text, where)
    except SweepError:
        return text  # a name: optimizer.name=sgd,adam

