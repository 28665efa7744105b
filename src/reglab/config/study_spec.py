"""A study: variants x seeds on a dataset. Loaded from TOML into frozen dataclasses and
validated once, here, at the edge: everything past this module may trust its input.

Every problem is collected (not just the first) and reported with where it is in the file.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from reglab.config import sweep_points as sweeping
from reglab.cost import memory_model as memory
from reglab.errors import ConfigError
from reglab.visible_text import unseen_character
from reglab.models import registry as models
from reglab.techniques import registry
from reglab.techniques.registry import CHOICE_FAMILIES, Choice

STUDY_KEYS = ("name", "description", "keras_compat", "seeds", "baseline", "data", "defaults", "variants", "sweeps",
              "max_runs", "references")
DATA_KEYS = ("dataset", "train", "validation", "test", "split_seed")
# A user's own data (docs/data.md): written to study.json only when set, so that the studies stored
# before them read back equal (and resume).
OWN_DATA_KEYS = ("path", "target", "features", "categorical", "missing", "image_size")
MISSING_RULES = ("error", "impute")
TRAINING_KEYS = ("model", "hidden", "epochs", "batch_size") + CHOICE_FAMILIES
VARIANT_ONLY_KEYS = ("name", "description", "description_ja", "baseline", "sweep")
# The command line's (and reglab.run's) overrides that set a variant's setting in every variant.
VARIANT_OVERRIDES = ("epochs",)
# Words for the reader, not settings: they may change without changing what a run trains.
DESCRIPTIVE_KEYS = ("description", "description_ja")

# What a variant gets when neither it nor the study's [defaults] says otherwise.
BUILTIN_DEFAULTS: dict[str, Any] = {
    "hidden": [512, 256, 128, 64],
    "activation": "relu",
    "epochs": 10,
    "batch_size": 128,
    "optimizer": "adam",
    "schedule": "constant",
}
MAX_SEEDS = 1000
# A study making more runs than this is refused before anything trains (a sweep grid grows fast);
# a study may raise it with `max_runs = N`, the command line with --max-runs N.
MAX_RUNS = 2000
# How far max_runs may be raised: the most runs (variants x seeds) reglab trains in one study.
# What it costs: planning 100,000 runs took 2 s and 50 MB here (two cores), the report holds every
# record in memory (a few kB per run and epoch), and the run directory two files per run.
MAX_RUNS_CEILING = 100_000
NAME_LIMIT = 80

# Other libraries' spellings of a parameter, accepted wherever the reglab name is a parameter of
# the technique (a Keras user writes `learning_rate`, `beta_1`, `epsilon`, `restore_best_weights`;
# a PyTorch user writes RMSprop's `alpha`). The resolved study keeps the reglab name.
ALIASES: dict[str, str] = {
    "learning_rate": "lr", "beta_1": "beta1", "beta_2": "beta2", "epsilon": "eps",
    "restore_best_weights": "restore_best", "alpha": "rho", "max_norm": "max_value", "smoothing": "amount",
    "initial_accumulator": "initial_accumulator_value",
}


@dataclass(frozen=True)
class DataSpec:
    dataset: str = "auto"
    # Upper bounds: a smaller dataset gets a proportional stratified split (see data.splits).
    train: int = 10000
    validation: int = 2000
    test: int = 10000
    split_seed: int = 0
    path: str | None = None  # a .csv, .parquet, .npz or .npy file, or a folder of images (absolute once loaded)
    target: str | None = None  # a table's label column
    features: tuple[str, ...] | None = None  # a table's input columns (default: all but the target)
    categorical: tuple[str, ...] = ()  # numeric columns to one-hot encode as categories
    missing: str = "error"  # "error": refuse missing values with the fix; "impute": training median + indicator
    image_size: tuple[int, int] | None = None  # resize an image folder's images to H x W (default: refuse sizes that differ)

    def to_dict(self) -> dict[str, Any]:
        plain = {k: getattr(self, k) for k in DATA_KEYS}
        for key in OWN_DATA_KEYS:
            value = getattr(self, key)
            if value != getattr(DataSpec, key):
                plain[key] = list(value) if isinstance(value, tuple) else value
        return plain


@dataclass(frozen=True)
class VariantSpec:
    name: str
    description: str
    baseline: str | None  # the variant this one is compared against; None for a baseline
    hidden: tuple[int, ...]
    epochs: int
    batch_size: int
    optimizer: Choice
    schedule: Choice
    activation: Choice
    init: Choice
    switches: tuple[Choice, ...] = ()  # techniques turned on by their own key, sorted by name
    description_ja: str = ""  # the description in a Japanese report (else `description` is shown)
    sweep: sweeping.SweepTag | None = None  # a sweep's point: its sweep and values, as data
    model: str = models.DEFAULT  # the architecture (models/registry.py); `hidden` are its dense widths
    model_params: tuple[tuple[str, Any], ...] = ()  # the architecture's own keys (a CNN's conv), sorted

    @property
    def architecture(self) -> models.Architecture:
        return models.lookup(self.model)

    def model_param(self, key: str) -> Any:
        return dict(self.model_params)[key]

    def switch(self, name: str) -> Choice | None:
        return next((c for c in self.switches if c.name == name), None)

    def dropout_rates(self) -> tuple[float, ...]:
        """The drop rate after each hidden layer (0 where there is no dropout)."""
        choice = self.switch("dropout")
        slots = self.architecture.dropout_slots(self)
        if choice is None:
            return (0.0,) * slots
        rate = choice["rate"]
        return tuple(rate) if isinstance(rate, tuple) else (rate,) * slots

    def init_key(self) -> tuple[Any, ...]:
        """Variants with equal keys start from the same weights for the same seed."""
        key = self.architecture.init_key(self)
        return key if self.model == models.DEFAULT else (self.model, *key)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        if self.description_ja:
            out["description_ja"] = self.description_ja
        # A baseline names itself, so that reloading does not compare it to the study's baseline.
        out["baseline"] = self.baseline if self.baseline is not None else self.name
        if self.model != models.DEFAULT:  # an MLP's study.json stays as it was before architectures
            out["model"] = self.model
            architecture = self.architecture
            out.update({k: architecture.key(k).to_json(v) for k, v in self.model_params})
        out.update(hidden=list(self.hidden), epochs=self.epochs, batch_size=self.batch_size)
        for key in CHOICE_FAMILIES:
            out[key] = getattr(self, key).as_dict()
        for choice in self.switches:
            out[choice.name] = {k: v for k, v in choice.as_dict().items() if k != "name"}
        if self.sweep is not None:
            out["sweep"] = self.sweep.to_dict()
        return out


@dataclass(frozen=True)
class StudySpec:
    name: str
    description: str
    keras_compat: bool
    seeds: tuple[int, ...]
    data: DataSpec
    variants: tuple[VariantSpec, ...]
    source: str = field(default="", compare=False)
    max_runs: int = MAX_RUNS
    references: tuple[str, ...] = ()  # scikit-learn models beside the networks (models/sklearn_references.py)

    def variant(self, name: str) -> VariantSpec:
        return next(v for v in self.variants if v.name == name)

    def to_dict(self) -> dict[str, Any]:
        """The resolved study: every default filled in. Loading it again gives an equal study."""
        return {
            "name": self.name,
            "description": self.description,
            "keras_compat": self.keras_compat,
            "seeds": list(self.seeds),
            "data": self.data.to_dict(),
            "variants": [v.to_dict() for v in self.variants],
        } | ({"max_runs": self.max_runs} if self.max_runs != MAX_RUNS else {}) \
          | ({"references": list(self.references)} if self.references else {})


# --------------------------------------------------------------------------------------- loading


def builtin_studies() -> dict[str, Path]:
    folder = resources.files("reglab") / "studies"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".toml")}


def load_study(source: str, overrides: dict[str, Any] | None = None) -> StudySpec:
    """A built-in name or a path to a .toml file; `overrides` come from the command line."""
    builtins = builtin_studies()
    if source in builtins:
        path, label = builtins[source], f"built-in study {source!r}"
    else:
        path, label = Path(source), source
        if not path.is_file():
            hint = _did_you_mean(source, builtins)
            raise ConfigError(label, [
                f"no built-in study of that name and no such file{hint}. "
                f"Built-in studies: {', '.join(sorted(builtins))} (see `reglab studies`)."
            ])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(label, [f"cannot read the file: {exc}"]) from None
    return parse_study(text, label, overrides)


# No study key is more than a few levels deep: a longer dotted key is refused before parsing
# (tomllib takes quadratic time over one: 77 s for 20,000 parts), a deeper nesting after it.
MAX_KEY_PARTS = 32
_KEY_LINE = re.compile(r"""^\s*(\[\[?[^\]]*|[A-Za-z0-9_\-."' ]+=)""", re.MULTILINE)


def parse_study(text: str, label: str = "<study>", overrides: dict[str, Any] | None = None) -> StudySpec:
    deepest = max((match.group(1).count(".") + 1 for match in _KEY_LINE.finditer(text)), default=0)
    if deepest > MAX_KEY_PARTS:
        raise ConfigError(label, [f"a dotted key or table name with {deepest:,} parts; no study key has more than "
                                  f"a few (at most {MAX_KEY_PARTS}). Fix: check the file is a reglab study"])
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(label, [f"not valid TOML: {exc}. Check quotes, brackets and `key = value` syntax."]) from None
    except RecursionError:
        raise ConfigError(label, ["tables or arrays nested thousands deep; no study nests more than a few levels. "
                                  "Fix: check the file is a reglab study"]) from None
    try:
        return study_from_dict(raw, label, overrides, text=text)
    except RecursionError:
        raise ConfigError(label, ["tables or arrays nested too deep to read. Fix: check the file is a reglab study"]) from None


def study_from_dict(
    raw: dict[str, Any], label: str = "<study>", overrides: dict[str, Any] | None = None, *, text: str = ""
) -> StudySpec:
    checker = _Checker(label, text)
    spec = checker.study(raw, overrides or {})
    if checker.problems:
        raise ConfigError(label, checker.problems)
    assert spec is not None
    return spec


# ------------------------------------------------------------------------------------ validation


class _Checker:
    """Walks the raw TOML once, collecting every problem with its location."""

    def __init__(self, label: str, text: str):
        self.label = label
        self.lines = text.splitlines()
        self.problems: list[str] = []
        self.variant_names: dict[int, str] = {}
        self.sweep_names: dict[int, str] = {}
        self.point_names: dict[tuple[int, int], str] = {}
        self.variant_places: dict[str, str] = {}  # variant name -> where it is (variants[2], sweeps[0].points[3])
        self.refused: set[str] = set()  # variants with problems of their own

    def problem(self, where: str, message: str) -> None:
        """`where` is a plain path (variants[2].optimizer.lr); the message also shows the variant's name."""
        line = self._line_of(where)
        shown = where
        match = re.match(r"variants\[(\d+)\]", where)
        if match and int(match.group(1)) in self.variant_names:
            name = self.variant_names[int(match.group(1))]
            shown = f"{match.group(0)} ({name!r}){where[match.end():]}"
        match = re.match(r"sweeps\[(\d+)\](?:\.points\[(\d+)\])?", where)
        if match:
            sweep = int(match.group(1))
            shown = f"sweeps[{sweep}]" + (f" ({self.sweep_names[sweep]!r})" if sweep in self.sweep_names else "")
            if match.group(2) is not None:
                shown += f", point {self.point_names.get((sweep, int(match.group(2))), match.group(2))!r}"
            shown += where[match.end():]
            line = self._sweep_line(sweep, where[match.end():].lstrip("."))
        self.problems.append(f"{shown}{f' (line {line})' if line else ''}: {message}")

    def study(self, raw: dict[str, Any], overrides: dict[str, Any]) -> StudySpec | None:
        self._unknown_keys(raw, STUDY_KEYS, "")
        name = self._string(raw, "name", "", default="study")
        if (hidden_char := unseen_character(name)) is not None:
            self.problem("name", f"{name!r} holds {hidden_char}: the study's name is shown in terminals and "
                         "reports and names its run directory. Fix: printable characters only")
        description = self._string(raw, "description", "", default="")
        keras_compat = raw.get("keras_compat", True)
        if not isinstance(keras_compat, bool):
            self.problem("keras_compat", f"must be true or false, got {keras_compat!r}")
            keras_compat = True
        seeds = self._seeds(overrides.get("seeds", raw.get("seeds", [0])), "seeds")
        data = self._data(raw.get("data", {}), overrides)
        defaults = raw.get("defaults", {})
        if not isinstance(defaults, dict):
            self.problem("defaults", "must be a table: [defaults]")
            defaults = {}
        self._unknown_keys(defaults, TRAINING_KEYS + models.all_keys() + tuple(registry.switches()), "defaults")
        defaults = self._checked_defaults(defaults, keras_compat)

        raw_variants = raw.get("variants", [])
        raw_sweeps = raw.get("sweeps", [])
        study_baseline = raw.get("baseline")
        if "sweeps" in overrides:  # --sweep: the sweep's points replace the study's own variants ...
            raw_sweeps, trained, study_baseline = overrides["sweeps"], [], None
            # ... and start from the study's baseline (its first variant) unless --sweep-base says otherwise
            first = raw.get("baseline") or next((v.get("name") for v in raw_variants if isinstance(v, dict)), None) \
                if isinstance(raw_variants, list) else None
            raw_sweeps = [{"base": first, **s} if isinstance(s, dict) and first and "base" not in s else s
                          for s in raw_sweeps]
        else:
            trained = raw_variants
        if not isinstance(raw_sweeps, list):
            self.problem("sweeps", "must be [[sweeps]] tables")
            raw_sweeps = []
        if not isinstance(raw_variants, list) or (not raw_variants and not raw_sweeps):
            self.problem("variants", "a study needs at least one [[variants]] table with a name (or a [[sweeps]])")
            return None
        variants = []
        for index, raw_variant in enumerate(trained):
            where = f"variants[{index}]"
            if not isinstance(raw_variant, dict):
                self.problem(where, "must be a table: [[variants]]")
                continue
            merged = {**BUILTIN_DEFAULTS, **defaults, **raw_variant,
                      **{k: overrides[k] for k in VARIANT_OVERRIDES if k in overrides}}
            variant = self._variant(merged, raw_variant, where, keras_compat)
            if variant is not None:
                variants.append(variant)
        max_runs = overrides.get("max_runs") or raw.get("max_runs", MAX_RUNS)
        if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
            self.problem("max_runs", f"must be a whole number of runs, 1 or more, got {max_runs!r}")
            max_runs = MAX_RUNS
        elif max_runs > MAX_RUNS_CEILING:
            self.problem("max_runs", f"{max_runs:,} is over the {MAX_RUNS_CEILING:,} runs reglab trains in one "
                         "study. Fix: split the study into several (each its own run directory)")
            max_runs = MAX_RUNS_CEILING
        variants += self._sweeps(raw_sweeps, raw_variants, defaults, overrides, keras_compat,
                                 max_runs, len(seeds), len(variants))
        variants = self._baselines(variants, study_baseline, trained)
        if not self.problems:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            at_once = min(cores, len(variants) * len(seeds))
            for index, message in memory.problems(variants, data.dataset, at_once):
                self.problem(f"variants[{index}].hidden" if index < len(raw_variants) else "sweeps",
                             f"{variants[index].name!r}: {message}")
        if self.problems:
            return None
        return StudySpec(name, description, keras_compat, seeds, data, tuple(variants), self.label, max_runs,
                         self._references(raw.get("references", [])))

    def _references(self, raw: Any) -> tuple[str, ...]:
        from reglab.models.sklearn_references import REFERENCES

        if isinstance(raw, list) and all(isinstance(n, str) and n in REFERENCES for n in raw) and \
                len(set(raw)) == len(raw):
            return tuple(raw)
        self.problem("references", f"must be a list of reference models, each once, from {', '.join(REFERENCES)}; "
                     f"got {raw!r}")
        return ()

    # --- pieces

    def _checked_defaults(self, defaults: dict[str, Any], keras: bool) -> dict[str, Any]:
        """Checks each [defaults] setting once, where it is written, and returns those that passed:
        a mistake there is one problem at its own line, not one per variant that inherits it."""
        switches = registry.switches()
        good = {}
        for key, value in defaults.items():
            before = len(self.problems)
            if key in CHOICE_FAMILIES:
                self._technique(key, value, "defaults", keras)
            elif key in switches:
                if value is not None:
                    self._switch(switches[key], value, "defaults", keras)
            elif key in ("epochs", "batch_size"):
                self._int(defaults, key, "defaults", 0, low=1, high=100000 if key == "epochs" else 1 << 20)
            elif key == "hidden":
                self._hidden(value, "defaults", least=0)  # each variant's model says how many it needs
            elif key == "model" or key in models.all_keys():
                pass  # checked with each variant, against the model it ends up with
            else:
                continue  # an unknown key: reported above
            if len(self.problems) == before:
                good[key] = value
        return good

    def _hidden(self, hidden: Any, label: str, least: int = 1) -> list[int]:
        """Dense widths: an MLP needs at least one; a CNN's head may have none (least=0)."""
        if (not isinstance(hidden, list) or len(hidden) < least
                or not all(isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= 65536 for h in hidden)):
            kind = "a non-empty list" if least else "a list"
            self.problem(f"{label}.hidden", f"must be {kind} of layer widths from 1 to 65536, got {hidden!r}")
            return [1] * max(least, 1)
        return hidden

    def _data(self, raw: Any, overrides: dict[str, Any]) -> DataSpec:
        if not isinstance(raw, dict):
            self.problem("data", "must be a table: [data]")
            return DataSpec()
        self._unknown_keys(raw, DATA_KEYS + OWN_DATA_KEYS, "data")
        values = {**raw, **{k: overrides[k] for k in ("dataset",) + OWN_DATA_KEYS if k in overrides}}
        dataset = values.get("dataset", "auto")
        if not isinstance(dataset, str) or not dataset:
            self.problem("data.dataset", f"must be a dataset name, got {dataset!r} (see `reglab data list`)")
            dataset = "auto"
        sizes = {}
        for key in ("train", "validation", "test"):
            sizes[key] = self._int(values, key, "data", getattr(DataSpec, key), low=1)
        split_seed = self._int(values, "split_seed", "data", 0, low=0, high=2**32 - 1)
        return DataSpec(dataset, sizes["train"], sizes["validation"], sizes["test"], split_seed, **self._own_data(values))

    def _own_data(self, values: dict[str, Any]) -> dict[str, Any]:
        """[data]'s keys for a user's own file, table or image folder (checked for form here; the
        data themselves are checked when read, data/prepared.py)."""
        own: dict[str, Any] = {}
        path = values.get("path")
        if path is not None:
            if not isinstance(path, str) or not path.strip():
                self.problem("data.path", f"must be the path of a file or folder, got {path!r}")
            else:
                # Relative to the study file's folder (else the working directory), stored absolute:
                # a resume from elsewhere reads the same file.
                place = Path(path).expanduser()
                base = Path(self.label).parent if self.label.endswith(".toml") and Path(self.label).is_file() else Path()
                own["path"] = str((place if place.is_absolute() else base / place).absolute())
        target = values.get("target")
        if target is not None:
            if isinstance(target, str) and target:
                own["target"] = target
            else:
                self.problem("data.target", f"must be a column name, got {target!r}")
        for key in ("features", "categorical"):
            names = values.get(key)
            if names is None:
                continue
            if isinstance(names, list) and all(isinstance(n, str) and n for n in names) and (names or key != "features"):
                own[key] = tuple(names)
            else:
                self.problem(f"data.{key}", f"must be a list of column names, got {names!r}")
        missing = values.get("missing", "error")
        if missing in MISSING_RULES:
            own["missing"] = missing
        else:
            self.problem("data.missing", f"must be one of {', '.join(MISSING_RULES)}, got {missing!r}: \"error\" "
                         "refuses missing values, \"impute\" fills them from the training rows")
        size = values.get("image_size")
        if size is not None:
            if (isinstance(size, list) and len(size) == 2
                    and all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 4096 for n in size)):
                own["image_size"] = tuple(size)
            else:
                self.problem("data.image_size", f"must be [height, width] in pixels (1 to 4096), got {size!r}")
        return own

    def _seeds(self, value: Any, where: str) -> tuple[int, ...]:
        # An integer N means seeds 0..N-1; a list names the seeds.
        if isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= MAX_SEEDS:
                self.problem(where, f"{value} seeds is out of range: must be 1 to {MAX_SEEDS}")
                return (0,)
            return tuple(range(value))
        if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) for s in value):
            if len(set(value)) != len(value):
                self.problem(where, f"seeds repeat: {value}")
            if any(s < 0 or s >= 2**31 for s in value):
                self.problem(where, "seeds must be between 0 and 2**31 - 1")
            return tuple(value)
        self.problem(where, f"must be a number of seeds or a non-empty list of integers, got {value!r}")
        return (0,)

    def _variant(self, merged: dict[str, Any], own: dict[str, Any], where: str, keras: bool) -> VariantSpec | None:
        before = len(self.problems)
        try:
            return self._checked_variant(merged, own, where, keras, before)
        finally:
            if len(self.problems) > before and isinstance(own.get("name"), str):
                self.refused.add(own["name"])  # its own problems are listed: not also "not a variant" elsewhere

    def _checked_variant(self, merged: dict[str, Any], own: dict[str, Any], where: str, keras: bool,
                         before: int) -> VariantSpec | None:
        switches = registry.switches()
        self._unknown_keys(own, VARIANT_ONLY_KEYS + TRAINING_KEYS + models.all_keys() + tuple(switches), where)
        name = own.get("name")
        if not isinstance(name, str) or not name.strip():
            self.problem(where, "every variant needs a `name` (a non-empty string)")
            name = f"variant-{where}"
        else:
            self.variant_places[name] = where
            if where.startswith("variants["):
                self.variant_names[int(where[len("variants["):-1])] = name
            if len(name) > NAME_LIMIT:
                self.problem(f"{where}.name", f"is {len(name)} characters long: at most {NAME_LIMIT}")
            if (hidden_char := unseen_character(name)) is not None:
                self.problem(f"{where}.name", f"{name!r} holds {hidden_char}: names are shown in terminals, "
                             "figures and file exports, where it would be invisible or reorder the text. "
                             "Fix: printable characters only")
        label = where
        description = self._string(own, "description", label, default="")
        description_ja = self._string(own, "description_ja", label, default="")
        baseline = own.get("baseline")
        if baseline is not None and not isinstance(baseline, str):
            self.problem(f"{label}.baseline", f"must be the name of another variant, got {baseline!r}")
            baseline = None

        architecture, model_params = self._model(merged, own, label)
        hidden = self._hidden(merged.get("hidden"), label, least=architecture.min_hidden)
        epochs = self._int(merged, "epochs", label, 10, low=1, high=100000)
        batch_size = self._int(merged, "batch_size", label, 128, low=1, high=1 << 20)
        choices = {key: self._technique(key, merged.get(key, _default_member(key, keras)), label, keras)
                   for key in CHOICE_FAMILIES}
        enabled = []
        for key in sorted(switches):
            if key in merged and merged[key] is not None:
                choice = self._switch(switches[key], merged[key], label, keras)
                if choice is not None and not _is_off(choice):
                    enabled.append(choice)
        if {c.name for c in enabled} >= {"batch_norm", "layer_norm"}:
            self.problem(f"{label}.layer_norm", "batch_norm and layer_norm cannot both be on: choose one")
        for choice in enabled:
            if choice.name in architecture.refuses:
                self.problem(f"{label}.{choice.name}", f"does not apply to model {architecture.name!r}: "
                             f"{architecture.refuses[choice.name]}")
        tag = None
        if own.get("sweep") is not None:  # a stored study.json: the point's values, as its sweep wrote them
            try:
                tag = sweeping.SweepTag.from_dict(own["sweep"])
            except ValueError as exc:
                self.problem(f"{label}.sweep", str(exc))
        if len(self.problems) > before:
            return None
        variant = VariantSpec(
            name=name, description=description, baseline=baseline, hidden=tuple(hidden), epochs=epochs,
            batch_size=batch_size, switches=tuple(enabled), description_ja=description_ja, sweep=tag, **choices,
            model=architecture.name, model_params=model_params,
        )
        for message in architecture.check(variant):
            self.problem(label, message)
        dropout = variant.switch("dropout")
        if dropout is not None and isinstance(dropout["rate"], tuple):
            slots = architecture.dropout_slots(variant)
            if len(dropout["rate"]) != slots:
                places = (f"{slots} hidden layers: give one rate, or one per hidden layer"
                          if architecture.name == models.DEFAULT else
                          f"{slots} places (after the flattened features, then after each hidden layer): "
                          "give one rate, or one per place")
                self.problem(f"{label}.dropout", f"gives {len(dropout['rate'])} rates for {places}")
                return None
        return variant

    def _model(self, merged: dict[str, Any], own: dict[str, Any], label: str
               ) -> tuple[models.Architecture, tuple[tuple[str, Any], ...]]:
        """The variant's architecture and its own keys (a CNN's conv), checked by the architecture.
        A key of another architecture is an error in the variant itself; from [defaults] it is
        meant for that architecture's variants, and ignored here."""
        known = models.architectures()
        name = merged.get("model", models.DEFAULT)
        if not isinstance(name, str) or name not in known:
            self.problem(f"{label}.model", f"unknown model {name!r}{_did_you_mean(str(name), known)}. "
                         f"Known: {', '.join(known)}")
            name = models.DEFAULT
        architecture = known[name]
        params = []
        for key in models.all_keys():
            mine = architecture.key(key)
            if mine is None:
                if key in own:
                    owners = [a.name for a in known.values() if a.key(key)]
                    self.problem(f"{label}.{key}", f"belongs to model {' or '.join(map(repr, owners))}, and this "
                                 f"variant's model is {name!r}: remove it, or set model = {owners[0]!r}")
                continue
            if key not in merged and mine.default is None:
                self.problem(f"{label}.{key}", f"model {name!r} needs `{key}`: {mine.doc}")
                continue
            value, message = mine.check(merged.get(key, mine.default))
            if message:
                self.problem(f"{label}.{key}", message)
            else:
                params.append((key, value))
        return architecture, tuple(params)

    def _technique(self, fam: str, value: Any, where: str, keras: bool) -> Choice:
        """A member of a choice family: "adam" or { name = "adam", lr = 1e-3 }."""
        members = registry.family(fam)
        fallback = Choice(_default_member(fam, keras))
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            self.problem(f"{where}.{fam}", f"must be a name or a table with a `name`, got {value!r}")
            return fallback
        member = members.get(value["name"])
        if member is None:
            self.problem(f"{where}.{fam}", f"unknown {fam} {value['name']!r}{_did_you_mean(value['name'], members)}. "
                         f"Known: {', '.join(members)}")
            return fallback
        params = {k: v for k, v in value.items() if k != "name"}
        return self._resolve(member, params, f"{where}.{fam}", keras) or fallback

    def _switch(self, technique: registry.Technique, value: Any, where: str, keras: bool) -> Choice | None:
        """`dropout = true` (defaults), `false` (off), `0.3` (the shorthand) or `{ rate = 0.3 }`."""
        if value is False:
            return None
        if value is True:
            params: dict[str, Any] = {}
        elif isinstance(value, dict):
            params = value
        elif technique.shorthand is not None:
            params = {technique.shorthand: value}
        else:
            self.problem(f"{where}.{technique.name}", f"must be true, false or a table of parameters, got {value!r}")
            return None
        return self._resolve(technique, params, f"{where}.{technique.name}", keras)

    def _resolve(self, technique: registry.Technique, given: dict[str, Any], where: str, keras: bool) -> Choice | None:
        before = len(self.problems)
        values = technique.defaults(keras)
        seen: dict[str, str] = {}
        for key, raw_value in given.items():
            param = technique.param(key) or technique.param(ALIASES.get(key, ""))
            if param is None:
                known = ", ".join(p.name for p in technique.params) or "none"
                self.problem(f"{where}.{key}", f"{technique.name} has no parameter {key!r}"
                             f"{_suggest_param(key, technique)}. Its parameters: {known}")
                continue
            if param.name in seen:
                self.problem(f"{where}.{key}", f"sets {param.name} again (as {seen[param.name]!r} too): give it once")
                continue
            seen[param.name] = key
            value, message = param.check(raw_value)
            if message:
                self.problem(f"{where}.{key}", f"{message} ({param.doc})")
                continue
            values[param.name] = value
        if len(self.problems) == before and technique.check is not None:
            for message in technique.check(values):
                self.problem(where, message)
        if len(self.problems) > before:
            return None
        return Choice(technique.name, tuple(sorted(values.items())))

    def _baselines(self, variants: list[VariantSpec], study_baseline: Any, raw_variants: list[Any]) -> list[VariantSpec]:
        names = [v.name for v in variants]
        for name in {n for n in names if names.count(n) > 1}:
            self.problem("variants", f"two variants are named {name!r}: names must be unique")
        if not variants:
            return variants
        if study_baseline is None:
            study_baseline = variants[0].name
        elif study_baseline not in names:
            if isinstance(study_baseline, str) and study_baseline in self.refused:
                return variants
            self.problem("baseline", f"{study_baseline!r} is not a variant{_did_you_mean(study_baseline, names)}")
            return variants
        resolved = []
        for variant in variants:
            baseline = variant.baseline if variant.baseline is not None else study_baseline
            if baseline not in names and not (isinstance(baseline, str) and baseline in self.refused):
                self.problem(f"{self.variant_places.get(variant.name, 'variants')}.baseline",
                             f"{baseline!r} is not a variant{_did_you_mean(baseline, names)}")
            resolved.append(replace(variant, baseline=None if baseline == variant.name else baseline))
        return resolved

    def _sweeps(self, raw_sweeps: list[Any], raw_variants: list[Any], defaults: dict[str, Any],
                overrides: dict[str, Any], keras: bool, max_runs: int, seeds: int, fixed: int) -> list[VariantSpec]:
        """Each sweep's points, validated one by one like hand-written variants; refused as a whole
        (before expanding anything) when the study would make more than `max_runs` runs."""
        parsed: list[tuple[int, sweeping.Sweep]] = []
        for index, raw_sweep in enumerate(raw_sweeps):
            try:
                sweep = sweeping.parse_sweep(raw_sweep, index)
            except sweeping.SweepError as exc:
                self.problem(f"sweeps[{index}]" + (f".{exc.where}" if exc.where else ""), exc.message)
                continue
            self.sweep_names[index] = sweep.name
            if (hidden_char := unseen_character(sweep.name)) is not None:
                self.problem(f"sweeps[{index}].name", f"{sweep.name!r} holds {hidden_char}. Fix: printable "
                             "characters only")
                continue
            for factor in sweep.factors:
                if factor.key in VARIANT_OVERRIDES and factor.key in overrides:
                    # The override would replace every point's value: identical runs under different names.
                    given = overrides[factor.key]
                    self.problem(f"sweeps[{index}].values.{factor.key}",
                                 f"the sweep sets {factor.key}, and so does --{factor.key} {given} ({factor.key}="
                                 f"{given} in Python): every point would train with {factor.key} {given} whatever "
                                 f"its name says. Fix: leave out --{factor.key} (the sweep's points set it), or "
                                 "sweep another setting")
            parsed.append((index, sweep))
        points = sum(s.size for _, s in parsed)
        if (fixed + points) * seeds > max_runs:
            parts = [f"{fixed} variant{'s' * (fixed != 1)}"] if fixed or not parsed else []
            parts += [f"{s.size} {s.name} sweep point{'s' * (s.size != 1)}" for _, s in parsed]
            made = " + ".join(parts) if len(parts) == 1 else f"({' + '.join(parts)})"
            self.problem("sweeps" if parsed else "variants",
                         f"the study makes {(fixed + points) * seeds:,} runs: {made} x {seeds} "
                         f"seed{'s' * (seeds != 1)}, over the maximum of {max_runs:,}. Fix: "
                         + ("fewer points or `random = N` in a sweep, " if parsed else "fewer variants, ")
                         + "fewer seeds, or raise the limit (max_runs = N in the study, --max-runs N)")
            return []
        by_name = {v["name"]: v for v in raw_variants if isinstance(v, dict) and isinstance(v.get("name"), str)}
        shorthands = {name: t.shorthand for name, t in registry.switches().items() if t.shorthand}
        inherited = {**BUILTIN_DEFAULTS, **defaults}
        out = []
        for index, sweep in parsed:
            base: dict[str, Any] = {}
            if sweep.base is not None:
                if sweep.base not in by_name:
                    self.problem(f"sweeps[{index}].base", f"{sweep.base!r} is not a variant of the study"
                                 f"{_did_you_mean(sweep.base, by_name)}")
                    continue
                base = {k: v for k, v in by_name[sweep.base].items() if k not in VARIANT_ONLY_KEYS}
            # A point is compared with the sweep's `baseline`, else its base when that is trained too,
            # else the sweep's first point.
            points = sweep.points()
            baseline = sweep.baseline or (sweep.base if sweep.base and "sweeps" not in overrides else points[0].name)
            for number, point in enumerate(points):
                where = f"sweeps[{index}].points[{number}]"
                self.point_names[(index, number)] = point.name
                own = copy.deepcopy(base)
                for key, value in point.values:
                    sweeping.apply(own, inherited, key, value, shorthands)
                english, japanese = sweep.describe(point)
                own.update(name=point.name, description=english, description_ja=japanese, baseline=baseline)
                # An override the sweep also sets is refused above, and the point's own value is
                # still checked against its range.
                merged = {**inherited, **own, **{k: overrides[k] for k in VARIANT_OVERRIDES
                                                 if k in overrides and k not in own}}
                variant = self._variant(merged, own, where, keras)
                if variant is not None:
                    out.append(replace(variant, sweep=sweep.tag(point)))
        return out

    def _sweep_line(self, index: int, rest: str) -> int | None:
        """The line of a sweep's factor (values.l2, "dropout.rate", optimizer.lr) or of its header."""
        headers = [i for i, line in enumerate(self.lines) if re.match(r"\s*\[\[\s*sweeps\s*\]\]", line)]
        if index >= len(headers):
            return None
        start = headers[index]
        end = headers[index + 1] if index + 1 < len(headers) else len(self.lines)
        end = next((i for i in range(start + 1, end) if re.match(r"\s*\[\[?\s*(variants|data|defaults)", self.lines[i])),
                   end)
        words = [w for w in re.findall(r"[A-Za-z_][\w-]*", rest) if w not in ("values", "points")]
        for word in words[:1]:
            for i in range(start, end):
                if re.search(rf'(^|[\s."]){re.escape(word)}"?\s*[.=]', self.lines[i]):
                    return i + 1
        return start + 1

    # --- primitives

    def _unknown_keys(self, table: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in allowed:
                self.problem(f"{where}.{key}" if where else key,
                             f"unknown key{_did_you_mean(key, allowed)}. Allowed here: {', '.join(allowed)}")

    def _string(self, table: dict[str, Any], key: str, where: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            self.problem(f"{where}.{key}" if where else key, f"must be a string, got {value!r}")
            return default
        return value

    def _int(self, table: dict[str, Any], key: str, where: str, default: int, low: int, high: int | None = None) -> int:
        value = table.get(key, default)
        place = f"{where}.{key}"
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(place, f"must be an integer, got {value!r}")
            return default
        if value < low or (high is not None and value > high):
            self.problem(place, f"{value} is out of range: must be >= {low}" + (f" and <= {high}" if high else ""))
            return default
        return value

    def _line_of(self, where: str) -> int | None:
        """Best-effort line number for a path like variants[2].optimizer.lr (tomllib keeps none)."""
        if not self.lines:
            return None
        parts = re.findall(r"[A-Za-z_][\w-]*|\[\d+\]", where)
        start, end = 0, len(self.lines)
        if parts and parts[0] == "variants" and len(parts) > 1 and parts[1].startswith("["):
            index = int(parts[1][1:-1])
            headers = [i for i, line in enumerate(self.lines) if re.match(r"\s*\[\[\s*variants\s*\]\]", line)]
            if index >= len(headers):
                return None
            start = headers[index]
            end = headers[index + 1] if index + 1 < len(headers) else len(self.lines)
            keys = [p for p in parts[2:] if not p.startswith("[")]
        elif parts and parts[0] in ("data", "defaults"):
            header = next((i for i, line in enumerate(self.lines) if re.match(rf"\s*\[\s*{parts[0]}\s*\]", line)), None)
            if header is None:
                return None
            start = header
            keys = parts[1:]
        else:
            keys = parts
        for key in keys[:1]:
            for i in range(start, end):
                if re.match(rf"\s*{re.escape(key)}\s*=", self.lines[i]):
                    return i + 1
        return start + 1 if start else None


def _default_member(fam: str, keras: bool) -> str:
    if fam == "init":
        return "glorot_uniform" if keras else "torch_default"
    return str(BUILTIN_DEFAULTS[fam])


def _is_off(choice: Choice) -> bool:
    """`l1 = 0` or `dropout = 0` means the technique is off; keep the config honest about it."""
    return all(v == 0 or v == () or (isinstance(v, tuple) and not any(v)) for _, v in choice.params) and bool(choice.params)


def _suggest_param(word: str, technique: registry.Technique) -> str:
    """" (did you mean ...?)" over a technique's parameter names and their Keras/PyTorch spellings."""
    names = {p.name: p.name for p in technique.params}
    names |= {alias: name for alias, name in ALIASES.items() if name in names}
    close = _closest(str(word), list(names))
    if not close:
        return ""
    if close[0] == names[close[0]]:
        return f" (did you mean {close[0]!r}?)"
    return f" (did you mean {names[close[0]]!r}? {close[0]!r} is accepted too)"


def _did_you_mean(word: str, options: Any) -> str:
    close = _closest(str(word), [str(o) for o in options])
    return f" (did you mean {close[0]!r}?)" if close else ""


def _closest(word: str, options: list[str]) -> list[str]:
    """The likeliest meant option, as a list of at most one: among difflib's close matches, the
    fewest typing edits (two swapped letters count as one), so that 'adma' is 'adam', not 'adamax'
    (which difflib's ratio ranks first: 0.8 against 0.75)."""
    close = difflib.get_close_matches(word, options, n=5, cutoff=0.6)
    return sorted(close, key=lambda option: _edits(word, option))[:1]


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]
