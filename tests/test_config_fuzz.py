"""Hostile and broken studies: whatever the TOML holds, the loader answers with a StudySpec or a
ConfigError (which the CLI prints with exit code 2), never with another exception."""

from __future__ import annotations

import copy

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reglab.config import STUDY_KEYS, TRAINING_KEYS, load_study, parse_study, study_from_dict
from reglab.errors import ConfigError
from reglab.techniques import registry

KEYS = list(STUDY_KEYS) + list(TRAINING_KEYS) + list(registry.switches()) + ["name", "rate", "lr", "strength",
                                                                            "patience", "monitor", "boundaries"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["adam", "sgd", "step", "relu", "val_loss", "digits", "<script>", "../../etc"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=12,
)
variant = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)
study = st.fixed_dictionaries(
    {},
    optional={
        "name": values, "seeds": values, "keras_compat": values, "baseline": values,
        "data": st.dictionaries(st.sampled_from(["dataset", "train", "validation", "test", "split_seed", "x"]),
                                values, max_size=4),
        "defaults": variant, "variants": st.one_of(values, st.lists(variant, max_size=3)),
    },
)


TRIED = {"spec": 0, "config error": 0}


def loads_cleanly(load) -> None:
    try:
        load()
        TRIED["spec"] += 1
    except ConfigError as error:
        assert str(error) and error.problems
        TRIED["config error"] += 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(study)
def test_any_study_structure_gives_a_spec_or_a_config_error(raw):
    loads_cleanly(lambda: study_from_dict(raw, "fuzz.toml"))


def _leaves(tree, path=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _leaves(value, (*path, index))
    yield path


TUTORIAL = load_study("tutorial").to_dict()
LEAVES = [p for p in _leaves(TUTORIAL) if p]


def _replaced(path, value):
    tree = copy.deepcopy(TUTORIAL)
    node = tree
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return tree


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(LEAVES), values)
def test_the_tutorial_with_one_value_replaced_gives_a_spec_or_a_config_error(path, value):
    loads_cleanly(lambda: study_from_dict(_replaced(path, value), "fuzz.toml"))


def _toml_safe(value):
    # TOML has no null: drop None the way a user could not have written it anyway.
    if isinstance(value, dict):
        return {k: _toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_toml_safe(v) for v in value if v is not None]
    return value


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(study)
def test_any_study_written_as_toml_gives_a_spec_or_a_config_error(raw):
    try:
        text = tomli_w.dumps(_toml_safe(raw))
    except (TypeError, ValueError):
        return  # not expressible in TOML (e.g. mixed-type arrays in old TOML writers)
    loads_cleanly(lambda: parse_study(text, "fuzz.toml"))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_spec_or_a_config_error(text):
    loads_cleanly(lambda: parse_study(text, "fuzz.toml"))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decoded_loosely_give_a_spec_or_a_config_error(data):
    loads_cleanly(lambda: parse_study(data.decode("utf-8", errors="replace"), "fuzz.toml"))


def test_log_what_was_tried(fault_log):
    studies = "study" if TRIED["spec"] == 1 else "studies"
    fault_log("random study structures, TOML text, arbitrary text and bytes (hypothesis)", sum(TRIED.values()),
              f"{TRIED['config error']} clean configuration errors (exit 2), {TRIED['spec']} valid {studies}, "
              "no other exception")
