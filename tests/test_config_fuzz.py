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


def loads_cleanly(load, tried: dict[str, int]) -> None:
    try:
        load()
        tried["spec"] += 1
    except ConfigError as error:
        assert str(error) and error.problems
        tried["config error"] += 1


def fuzz(check, fault_log, what: str) -> None:
    """Run the hypothesis test `check(tried)` and log its own row of the fault table: what it
    tried and what came of it (each test its own, whatever ran before it: issue 24)."""
    tried = {"spec": 0, "config error": 0}
    check(tried)
    assert sum(tried.values()) > 0
    studies = "study" if tried["spec"] == 1 else "studies"
    fault_log(what, sum(tried.values()), f"{tried['config error']} clean configuration errors (exit 2), "
                                        f"{tried['spec']} valid {studies}, no other exception")


def test_any_study_structure_gives_a_spec_or_a_config_error(fault_log):
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(study)
    def check(tried, raw):
        loads_cleanly(lambda: study_from_dict(raw, "fuzz.toml"), tried)

    fuzz(lambda tried: check(tried), fault_log, "random study structures (hypothesis)")


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


def test_the_tutorial_with_one_value_replaced_gives_a_spec_or_a_config_error(fault_log):
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(LEAVES), values)
    def check(tried, path, value):
        loads_cleanly(lambda: study_from_dict(_replaced(path, value), "fuzz.toml"), tried)

    fuzz(lambda tried: check(tried), fault_log, "the tutorial with one value replaced by a random one (hypothesis)")


def _toml_safe(value):
    # TOML has no null: drop None the way a user could not have written it anyway.
    if isinstance(value, dict):
        return {k: _toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_toml_safe(v) for v in value if v is not None]
    return value


def test_any_study_written_as_toml_gives_a_spec_or_a_config_error(fault_log):
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(study)
    def check(tried, raw):
        try:
            text = tomli_w.dumps(_toml_safe(raw))
        except (TypeError, ValueError):
            return  # not expressible in TOML (e.g. mixed-type arrays in old TOML writers)
        loads_cleanly(lambda: parse_study(text, "fuzz.toml"), tried)

    fuzz(lambda tried: check(tried), fault_log, "random study structures written as TOML text (hypothesis)")


def test_any_text_gives_a_spec_or_a_config_error(fault_log):
    @settings(max_examples=150, deadline=None)
    @given(st.text(max_size=300))
    def check(tried, text):
        loads_cleanly(lambda: parse_study(text, "fuzz.toml"), tried)

    fuzz(lambda tried: check(tried), fault_log, "arbitrary text as a study file (hypothesis)")


def test_any_bytes_decoded_loosely_give_a_spec_or_a_config_error(fault_log):
    @settings(max_examples=100, deadline=None)
    @given(st.binary(max_size=200))
    def check(tried, data):
        loads_cleanly(lambda: parse_study(data.decode("utf-8", errors="replace"), "fuzz.toml"), tried)

    fuzz(lambda tried: check(tried), fault_log, "arbitrary bytes as a study file (hypothesis)")
