"""One registry of techniques. Each entry is a small factory plus its parameter table.

The table (names, families, descriptions, parameters, defaults, ranges) is importable without
torch: `reglab techniques`, the study loader and the report read it, and importing torch costs
seconds. A factory that needs torch is named by its import path ("module:function") and imported
on the first `build`, that is, only when something is trained.

Two kinds of family:
- choice families (`optimizer`, `schedule`, `activation`, `init`): every variant uses exactly one
  member, chosen by name under the family's key (`optimizer = { name = "adam", lr = 1e-3 }`);
- switch techniques (`l1`, `l2`, `dropout`, ...): present or absent, keyed by their own name
  (`l2 = 0.001` or `l2 = { strength = 0.001 }`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reglab.techniques.params import Param

CHOICE_FAMILIES = ("optimizer", "schedule", "activation", "init")
LAYERS = "layers"  # Technique.stacked of a layer technique whose layers the stacked networks draw
PER_RUN = "reglab.techniques.hooks:PerRun"


@dataclass(frozen=True)
class Words:
    """What reglab writes about a technique, each in (English, Japanese)."""

    name: tuple[str, str]  # in findings and comparisons: "L1 penalty"
    short: tuple[str, str] | None = None  # what a sweep turns off ("without L1"); None: the name
    note: tuple[str, str] | None = None  # what the report's techniques section says it does (trusted HTML)
    axis: tuple[str, str] | None = None  # its shorthand parameter on a sweep's axis ("L2 λ")
    # A sweep point's name writes the technique for its shorthand parameter (l2=1e-03 for l2.strength).
    point_label: bool = False


@dataclass(frozen=True)
class Technique:
    name: str
    family: str
    summary_en: str
    summary_ja: str
    params: tuple[Param, ...]
    # Makes what the engines use from the resolved parameters: a callable, or "module:function"
    # for one that needs torch (imported by `build`, so that the table stays torch-free).
    factory: Callable[..., Any] | str
    # Defaults that differ in Keras-compatible mode (Adam epsilon 1e-7, RMSprop rho 0.9, ...).
    keras_defaults: Mapping[str, Any] = field(default_factory=dict)
    # The parameter that a bare value sets: `l1 = 0.001` means `l1 = { strength = 0.001 }`.
    shorthand: str | None = None
    # Checks across parameters (step: one more value than boundaries); returns problems.
    check: Callable[[dict[str, Any]], list[str]] | None = None
    # The fast engine's form of it: "module:Class" of a techniques.hooks.Stacked (PerRun: each
    # run's own hooks on its slice), LAYERS for layers that the architectures' stacked forms draw
    # themselves, or None: the fast engine declines its variants (they train in the reference loop).
    stacked: str | None = None
    # The random stream its runtime object draws from (Hooks.generator), seeded from the run's seed
    # and this name (engine/seeding.py); None: it draws nothing.
    stream: str | None = None
    # Its layers normalize over the batch: a batch of one cannot train (the engines merge a last
    # batch of one into the one before), and epoch ends record the training loss in evaluation mode.
    batch_statistics: bool = False
    # Where its hooks act among a variant's techniques at each point of a step: lower first, then by
    # name (gradient clipping after the penalties have added their gradients).
    order: int = 0
    # Its words in findings, sweeps and the report (None: its name).
    words: Words | None = None

    def build(self, *args: Any) -> Any:
        factory = self.factory
        if isinstance(factory, str):
            factory = _imported(factory)
        return factory(*args)

    def stacked_form(self) -> type | None:
        """The class of its stacked form (techniques.hooks.Stacked), None for LAYERS or none."""
        if self.stacked is None or self.stacked == LAYERS:
            return None
        return _imported(self.stacked)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def defaults(self, keras_compat: bool) -> dict[str, Any]:
        values = {p.name: p.default for p in self.params}
        if keras_compat:
            values.update(self.keras_defaults)
        return values


@dataclass(frozen=True)
class Choice:
    """A technique with every parameter resolved; immutable and hashable."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    def __getitem__(self, key: str) -> Any:
        for name, value in self.params:
            if name == key:
                return value
        raise KeyError(f"{self.name} has no parameter {key!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, **{k: list(v) if isinstance(v, tuple) else v for k, v in self.params}}


def _imported(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


_REGISTRY: dict[str, dict[str, Technique]] = {}
_FAMILY_WORDS: dict[str, Words] = {}


def describe_family(family_name: str, words: Words) -> None:
    """The words of a choice family itself ("optimizer", "schedule"), as a technique's own."""
    _FAMILY_WORDS[family_name] = words


def words(key: str) -> Words | None:
    """The words of a study key that names a technique (`l2`) or a choice family (`optimizer`)."""
    technique = next((t for f, m in _REGISTRY.items() if f not in CHOICE_FAMILIES for t in m.values() if t.name == key),
                     None)
    return technique.words if technique is not None else _FAMILY_WORDS.get(key)


def described() -> dict[str, Words]:
    """Every switch technique's and choice family's words, by study key: switches by family and
    registration, then the families."""
    out = {t.name: t.words for fam, members in sorted(_REGISTRY.items()) if fam not in CHOICE_FAMILIES
           for t in members.values() if t.words is not None}
    return {**out, **_FAMILY_WORDS}


def register(technique: Technique) -> Technique:
    family = _REGISTRY.setdefault(technique.family, {})
    if technique.name in family:
        raise ValueError(f"technique {technique.family}/{technique.name} registered twice")
    family[technique.name] = technique
    return technique


def family(name: str) -> dict[str, Technique]:
    return dict(_REGISTRY.get(name, {}))


def families() -> dict[str, dict[str, Technique]]:
    """Every family by name, in alphabetical order (not the order modules happened to register)."""
    return {name: dict(_REGISTRY[name]) for name in sorted(_REGISTRY)}


def switches() -> dict[str, Technique]:
    """Techniques that a variant turns on by their own key."""
    return {t.name: t for fam, members in _REGISTRY.items() if fam not in CHOICE_FAMILIES for t in members.values()}


def built(variant: Any) -> list[tuple[Technique, Any]]:
    """A variant's switch techniques with their runtime objects (techniques/hooks.py), in the order
    their hooks act: by `order`, then by name. Imports the runtime modules (torch) on first use."""
    members = switches()
    chosen = sorted((members[c.name] for c in variant.switches), key=lambda t: t.order)  # stable: by name
    return [(t, t.build(dict(variant.switch(t.name).params))) for t in chosen]


def lookup(family_name: str, name: str) -> Technique:
    return family(family_name)[name]


def listing() -> list[dict[str, Any]]:
    """Every technique as `reglab.techniques()` and `reglab techniques --format json` list it: name,
    family, the key that turns it on, a one-line summary in English and Japanese, its parameters
    (type, default, range) and its Keras defaults."""
    return [
        {"name": t.name, "family": family, "key": family if family in CHOICE_FAMILIES else t.name,
         "summary": {"en": t.summary_en, "ja": t.summary_ja},
         "parameters": [p.as_json() for p in t.params],
         "keras_defaults": dict(t.keras_defaults)}
        for family, members in families().items() for t in members.values()
    ]
