"""A study built in Python, with the TOML's own key names:

    study = reglab.Study("mine", [
        reglab.Variant("basic"),
        reglab.Variant("combined", l2=1e-3, dropout=[0.3, 0.3, 0.2, 0.2]),
    ], seeds=3, data={"dataset": "digits"})

A Study is checked by the same checker as a TOML file (config.py) when it is made: a bad one raises
reglab.ConfigError listing every problem, with the same words as the TOML path. Study and Variant
are immutable; the helpers (with_seeds, with_epochs, ...) return new ones. Torch-free.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from reglab.config import api_checks as A
from reglab.config import StudySpec, builtin_studies, study_from_dict
from reglab.errors import ConfigError, UnknownName


class Variant:
    """One model and its training: `Variant(name, **settings)`, settings as a [[variants]] table
    names them (hidden, epochs, batch_size, optimizer, schedule, activation, init, l1, l2, dropout,
    batch_norm, early_stopping, ...; `reglab.techniques()` lists them). What a variant leaves out
    comes from the study's `defaults`, then reglab's."""

    def __init__(self, name: str, **settings: Any):
        A.text("reglab.Variant", "name", name)
        self._table = {"name": name, **copy.deepcopy(settings)}

    @property
    def name(self) -> str:
        return self._table["name"]

    def settings(self) -> dict[str, Any]:
        """The variant's own settings (a copy), as its [[variants]] table holds them."""
        return {k: copy.deepcopy(v) for k, v in self._table.items() if k != "name"}

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._table)

    def replace(self, **settings: Any) -> Variant:
        """This variant with some settings changed (None removes one)."""
        table = {**self._table, **settings}
        return Variant(**{k: v for k, v in table.items() if v is not None})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Variant) and self._table == other._table

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        settings = "".join(f", {k}={v!r}" for k, v in self.settings().items())
        return f"Variant({self.name!r}{settings})"


class Study:
    """Variants x seeds on a dataset, validated on creation (raises reglab.ConfigError).

    Keyword arguments are the TOML's top-level keys: `seeds` (a count or a list), `data` (dataset,
    train, validation, test, split_seed), `defaults` (settings every variant starts from),
    `baseline`, `description`, `keras_compat`, `sweeps` (a list of [[sweeps]] tables), `max_runs`."""

    def __init__(self, name: str, variants: Iterable[Variant | Mapping[str, Any]] = (), *,
                 seeds: int | list[int] = 1, description: str = "", data: Mapping[str, Any] | None = None,
                 defaults: Mapping[str, Any] | None = None, baseline: str | None = None,
                 keras_compat: bool = True, sweeps: list[Mapping[str, Any]] | None = None,
                 max_runs: int | None = None, references: list[str] | None = None):
        where = f"reglab.Study({name!r})"
        A.text(where, "name", name)
        if not isinstance(description, str):
            raise A.refuse(where, "description", description, "takes a string")
        if isinstance(variants, (Variant, Mapping, str)) or not isinstance(variants, Iterable):
            raise A.refuse(where, "variants", variants, "takes a list of reglab.Variant (or dicts), "
                           "even for one: [reglab.Variant(...)]")
        for key, value in (("data", data), ("defaults", defaults)):
            A.table(where, key, value)
        A.tables(where, "sweeps", sweeps)
        raw: dict[str, Any] = {"name": name}
        if description:
            raw["description"] = description
        if keras_compat is not True:
            raw["keras_compat"] = keras_compat
        raw["seeds"] = list(seeds) if isinstance(seeds, (list, tuple, range)) else seeds
        if baseline is not None:
            raw["baseline"] = baseline
        if max_runs is not None:
            raw["max_runs"] = max_runs
        if references is not None:  # scikit-learn beside the networks (docs/data.md); checked with the rest
            raw["references"] = list(references) if isinstance(references, (list, tuple)) else references
        if data:
            raw["data"] = dict(data)
        if defaults:
            raw["defaults"] = dict(defaults)
        raw["variants"] = [v.to_dict() if isinstance(v, Variant) else dict(v) if isinstance(v, Mapping) else v
                           for v in variants]
        if sweeps:
            raw["sweeps"] = [dict(s) if isinstance(s, Mapping) else s for s in sweeps]
        self._set(raw, f"Study({name!r})")

    def _set(self, raw: dict[str, Any], label: str) -> None:
        self._raw = copy.deepcopy(raw)
        self.spec: StudySpec = study_from_dict(self._raw, label)

    # --------------------------------------------------------------- making one

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], label: str | None = None) -> Study:
        """From a dict shaped like the TOML file (what tomllib gives)."""
        raw = A.table("reglab.Study.from_dict", "raw", raw, optional=False)
        A.text("reglab.Study.from_dict", "label", label, optional=True)
        study = cls.__new__(cls)
        study._set(dict(raw), label or f"Study({raw.get('name', 'study')!r})")
        return study

    @classmethod
    def from_toml(cls, path: str | Path) -> Study:
        """A study file, or the name of a built-in study."""
        builtins = builtin_studies()
        source = builtins.get(str(path), A.path("reglab.Study.from_toml", "path", path))
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(str(path), [f"cannot read the file: {exc}"]) from None
        return cls.from_toml_text(text, str(path))

    @classmethod
    def from_toml_text(cls, text: str, label: str = "<study>") -> Study:
        A.text("reglab.Study.from_toml_text", "label", label)
        if not isinstance(text, str):
            raise A.refuse(label, "text", text, "takes the TOML file's text (a str; Study.from_toml reads a file)")
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(label, [f"not valid TOML: {exc}"]) from None
        study_from_dict(raw, label, text=text)  # problems worded with the file's line numbers
        return cls.from_dict(raw, label)

    @classmethod
    def builtin(cls, name: str) -> Study:
        A.text("reglab.Study.builtin", "name", name)
        if name not in builtin_studies():
            raise ConfigError(name, [f"no built-in study of that name. Built-in: {', '.join(sorted(builtin_studies()))}"])
        return cls.from_toml(name)

    # --------------------------------------------------------------- reading

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def description(self) -> str:
        return self.spec.description

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.spec.seeds

    @property
    def variants(self) -> list[Variant]:
        return [Variant(**v) for v in self._raw["variants"]]

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise UnknownName(f"{name!r} is not a variant of {self.name!r}: {', '.join(v.name for v in self.variants)}")

    def model_summary(self, input_dim: int | None = None):
        """Each variant's layers, output shapes and parameters, as Keras's model.summary() lists
        them, as a pandas DataFrame (inputs: 64 for digits, else 784, unless given). Builds the
        models, so it imports torch."""
        import pandas as pd

        from reglab.models import summaries

        A.whole(f"{self.name}.model_summary", "input_dim", input_dim, low=1, optional=True)

        return pd.DataFrame([{"variant": name, "layer": row.layer, "output_shape": row.output_shape,
                              "params": row.params, "trainable": row.trainable}
                             for name, _, rows in summaries(self.spec, input_dim) for row in rows])

    def to_dict(self) -> dict[str, Any]:
        """As written (defaults not filled in): the TOML file's table."""
        return copy.deepcopy(self._raw)

    def resolved(self) -> dict[str, Any]:
        """Every default filled in, sweeps expanded: what the run directory's study.json holds."""
        return self.spec.to_dict()

    def to_toml(self) -> str:
        """The study as a TOML file that `reglab run` reads back to the same study."""
        return to_toml(self._raw)

    def save(self, path: str | Path) -> Path:
        path = A.path(f"{self.name}.save", "path", path)
        path.write_text(self.to_toml(), encoding="utf-8")
        return path

    # --------------------------------------------------------------- new studies from this one

    def _with(self, **changes: Any) -> Study:
        return Study.from_dict({**self._raw, **changes})

    def with_seeds(self, seeds: int | list[int]) -> Study:
        """Seeds 0..N-1 for a count, else the listed seeds."""
        return self._with(seeds=A.seeds(f"{self.name}.with_seeds", "seeds", seeds, optional=False))

    def with_epochs(self, epochs: int) -> Study:
        """Every variant trained for `epochs` (as `reglab run --epochs`)."""
        defaults = {**self._raw.get("defaults", {}), "epochs": epochs}
        variants = [{k: v for k, v in variant.items() if k != "epochs"} for variant in self._raw["variants"]]
        return self._with(defaults=defaults, variants=variants)

    def with_dataset(self, dataset: str, **sizes: int) -> Study:
        """Another dataset (and split sizes: train=, validation=, test=)."""
        return self._with(data={**self._raw.get("data", {}), "dataset": dataset, **sizes})

    def with_variants(self, *variants: Variant) -> Study:
        """These variants added, or replacing the ones of the same name."""
        tables = {v["name"]: v for v in self._raw["variants"]}
        for variant in variants:
            if not isinstance(variant, Variant):
                raise A.refuse(f"{self.name}.with_variants", "variants", variant, "takes reglab.Variant objects")
            tables[variant.name] = variant.to_dict()
        return self._with(variants=list(tables.values()))

    def only(self, *names: str) -> Study:
        """Only the named variants (the baseline moves to the first when it is left out)."""
        known = [v["name"] for v in self._raw["variants"]]
        for name in names:
            A.text(f"{self.name}.only", "names", name)
        missing = [n for n in names if n not in known]
        if missing or not names:
            raise UnknownName(f"{', '.join(map(repr, missing)) or 'no name'}: not "
                              f"{'a variant' if len(missing) == 1 else 'variants'} of {self.name!r}. "
                              f"Its variants: {', '.join(known)}")
        kept = [v for v in self._raw["variants"] if v["name"] in names]
        changes: dict[str, Any] = {"variants": kept}
        if self._raw.get("baseline") not in (None, *names):
            changes["baseline"] = kept[0]["name"]
        for variant in kept:
            if variant.get("baseline") not in (None, *names):
                variant["baseline"] = kept[0]["name"]
        return self._with(**changes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Study) and self.spec == other.spec

    def __repr__(self) -> str:
        return (f"Study({self.name!r}, {len(self.spec.variants)} variants: "
                f"{', '.join(v.name for v in self.spec.variants)}; seeds {list(self.seeds)})")


# ------------------------------------------------------------------------------------ TOML out

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def to_toml(raw: Mapping[str, Any]) -> str:
    """A study's table as TOML: top-level values, then [data], [defaults], [[variants]], [[sweeps]]."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in raw.items() if not _is_section(k, v)]
    for section in ("data", "defaults"):
        if section in raw:
            lines += ["", f"[{section}]", *(f"{_key(k)} = {_value(v)}" for k, v in raw[section].items())]
    for array in ("variants", "sweeps"):
        for table in raw.get(array, []):
            lines += ["", f"[[{array}]]", *(f"{_key(k)} = {_value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"


def _is_section(key: str, value: Any) -> bool:
    return key in ("data", "defaults", "variants", "sweeps")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # shortest text that reads back to the same float
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items()) + " }"
    raise ConfigError("<study>", [f"{value!r} ({type(value).__name__}) cannot be written to TOML: use numbers, "
                                  "strings, booleans, lists and tables"])
