"""What a sweep may set, and what the names it makes say (issue 24, faults 1 and 8).

A setting given both by a sweep and by the command line (or reglab.run's keyword) is refused
with the fix, for every override there is; a key that is not a variant's setting cannot be a
factor; names hold only characters a reader sees; a point's label reads back as a value inside
its range; one bad point is reported once, not as every other point's missing baseline.
"""

from __future__ import annotations

import math
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reglab import lab
from reglab.cli import main
from reglab.config import DATA_KEYS, STUDY_KEYS, TRAINING_KEYS, parse_study
from reglab.config.study_spec import OWN_DATA_KEYS
from reglab.visible_text import unseen_character
from reglab.config.sweep_points import NOT_SETTINGS, parse_sweep
from reglab.errors import ConfigError

HEAD = """
name = "s"
seeds = 1
[defaults]
hidden = [16]
epochs = 2
[[variants]]
name = "none"
"""

# Every override lab.load_study (so the command line and reglab.run) accepts, with a sweep of the same key.
OVERRIDES = [
    ({"epochs": 2}, "epochs=5,50"),
    ({"seeds": 1}, "seeds=1,2"),
    ({"dataset": "digits"}, "dataset=digits,mnist"),
    ({"max_runs": 100}, "max_runs=3,4"),
    ({"data": "/nonexistent/table.csv"}, "path=a.csv,b.csv"),
    ({"target": "label"}, "target=a,b"),
    ({"missing": "impute"}, "missing=error,impute"),
]


@pytest.mark.parametrize("override, sweep", OVERRIDES, ids=[s for _, s in OVERRIDES])
def test_a_sweep_over_a_setting_the_command_line_also_sets_is_refused(override, sweep, fault_log):
    with pytest.raises(ConfigError) as caught:
        lab.load_study("tutorial", sweep=sweep, **override)
    key = sweep.partition("=")[0]
    assert f"values.{key}" in str(caught.value) and "Fix" in str(caught.value)
    if key == "epochs":
        fault_log("--epochs N with a sweep over epochs (the points would all train N epochs)", 1,
                  "a configuration error naming both and the fix; the sweep's range still checked")


def test_every_override_the_loader_takes_is_covered():
    import inspect

    taken = {p for p in inspect.signature(lab.load_study).parameters} - {"source", "sweep", "sweep_random",
                                                                        "sweep_seed", "sweep_base", "choose"}
    assert taken == {key for override, _ in OVERRIDES for key in override}


def test_the_sweeps_range_is_checked_even_when_refused_for_the_override():
    with pytest.raises(ConfigError) as caught:
        lab.load_study("tutorial", epochs=1, sweep="epochs=1:1000000000:log:3")
    assert "--epochs 1" in str(caught.value) and "1000000000 is out of range" in str(caught.value)


def test_a_sweep_over_epochs_in_the_study_file_with_epochs_from_the_command_line(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text(HEAD + '[[sweeps]]\nvalues.epochs = [5, 50]\n', encoding="utf-8")
    code = main(["run", str(study), "--epochs", "2", "--dataset", "digits", "--out", str(tmp_path / "r"),
                 "--no-report"])
    err = capsys.readouterr().err
    assert code == 2 and "--epochs" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()
    # Without --epochs the sweep is the study's own and trains as its names say.
    spec = parse_study(study.read_text(encoding="utf-8"), "s.toml")
    assert sorted(v.epochs for v in spec.variants if v.sweep) == [5, 50]


@pytest.mark.parametrize("key", sorted(NOT_SETTINGS))
def test_keys_that_are_not_a_variants_settings_cannot_be_swept(key):
    with pytest.raises(ValueError) as caught:
        parse_sweep({"values": {key: [1, 2]}}, 0)
    assert NOT_SETTINGS[key] in str(caught.value)


def test_every_study_level_key_is_refused_as_a_factor():
    # The class: a key of the study or its data, not of a variant, is in NOT_SETTINGS (a new one too).
    variant_keys = set(TRAINING_KEYS) | {"model"}
    for key in (set(STUDY_KEYS) | set(DATA_KEYS) | set(OWN_DATA_KEYS)) - variant_keys - {"defaults", "variants", "sweeps"}:
        assert key in NOT_SETTINGS, key


# ------------------------------------------------------------------------------------ names

UNSEEN = ["\x00", "\x1b", "\n", "\x7f", "\u202e", "\u200b", "\u2066", "\ufeff", "\u2028", "\u2029", "\ue000"]


@pytest.mark.parametrize("char", UNSEEN, ids=[f"U+{ord(c):04X}" for c in UNSEEN])
def test_names_holding_unseen_characters_are_refused(char, fault_log):
    name = f"a{char}b"
    for text, where in ((HEAD.replace('name = "none"', f'name = "{_toml(name)}"'), "variants[0]"),
                        (HEAD.replace('name = "s"', f'name = "{_toml(name)}"'), "- name"),
                        (HEAD + f'[[sweeps]]\nname = "{_toml(name)}"\nvalues.l2 = [0.1]\n', "sweeps[0]")):
        with pytest.raises(ConfigError) as caught:
            parse_study(text, "s.toml")
        assert f"holds U+{ord(char):04X}" in str(caught.value) and where in str(caught.value), str(caught.value)
    if char == UNSEEN[-1]:
        fault_log(f"variant, study and sweep names holding NUL, ESC, U+202E and {len(UNSEEN) - 3} other "
                  "unseen characters", 3 * len(UNSEEN), "a configuration error naming the character")


def test_the_class_of_unseen_characters():
    # Every code point of the categories a reader does not see is caught, and no printable one is.
    for code in range(0x3000):
        char = chr(code)
        hidden = unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
        assert (unseen_character(char) is not None) == hidden, hex(code)
    assert unseen_character("dropout 0.5 ドロップアウト λ=1e-4") is None


def _toml(text: str) -> str:
    return "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in text)


# ------------------------------------------------------------------------------------ points


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scale=st.sampled_from(["log", "linear"]),
       low=st.floats(1e-300, 1e300, allow_nan=False), ratio=st.floats(1.0001, 1e300),
       points=st.integers(2, 12))
def test_point_labels_read_back_inside_the_range(scale, low, ratio, points):
    high = low * ratio
    if not math.isfinite(high) or not low < high:
        return
    sweep = parse_sweep({"values": {"l2": {scale: [low, high], "points": points}}}, 0)
    labels = [p.name.partition("=")[2] for p in sweep.points()]
    assert len(set(labels)) == len(labels)
    for label in labels:
        value = float(label)
        assert math.isfinite(value) and low <= value <= high, (label, low, high)


def test_the_issues_label_case():
    sweep = parse_sweep({"values": {"l2": {"log": [1e307, 1.7e308], "points": 3}}}, 0)
    assert [p.name for p in sweep.points()][-1] == "l2=1.7e+308"


def test_one_bad_point_is_reported_once(fault_log):
    with pytest.raises(ConfigError) as caught:
        lab.load_study("tutorial", sweep="l2=nan,0.1,0.2")
    assert caught.value.problems == [p for p in caught.value.problems if "l2=nan" in p]
    assert len(caught.value.problems) == 1 and "not a variant" not in str(caught.value)
    # The same for hand-written variants: a refused variant is not also "not a variant" to the others.
    text = (HEAD.replace("seeds = 1", 'seeds = 1\nbaseline = "none"').replace('name = "none"', 'name = "none"\nepochs = -1')
            + '[[variants]]\nname = "b"\nbaseline = "none"\n')
    with pytest.raises(ConfigError) as caught:
        parse_study(text, "s.toml")
    assert len(caught.value.problems) == 1 and "epochs" in caught.value.problems[0], caught.value.problems
    fault_log("one sweep point (or variant) that fails its checks, the others' baseline", 3,
              "its own problem listed once; no 'is not a variant' for the others")


def test_the_run_limit_message_reads_as_a_sum():
    for sweep, expected in ((None, "3,600 runs: 10 variants x 360 seeds,"),
                            ("l2=1e-6:1e-1:log:11", "3,960 runs: 11 l2 sweep points x 360 seeds,")):
        with pytest.raises(ConfigError) as caught:
            lab.load_study("tutorial", seeds=360, sweep=sweep)
        assert expected in str(caught.value) and "+  " not in str(caught.value), str(caught.value)
    with pytest.raises(ConfigError) as caught:
        parse_study(HEAD.replace("seeds = 1", "seeds = 1000") + "[[sweeps]]\nvalues.l2 = [0.1, 0.2]\n", "s.toml")
    assert "(1 variant + 2 l2 sweep points) x 1000 seeds" in str(caught.value)
