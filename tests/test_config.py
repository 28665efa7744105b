"""The study loader: the tutorial exactly as DESIGN.md section 2, and every bad input reported
together, with its place in the file, as one ConfigError."""

from __future__ import annotations

import pytest

from reglab.config import load_study, parse_study, study_from_dict
from reglab.errors import ConfigError

MINIMAL = '[[variants]]\nname = "a"\n'


def test_tutorial_matches_the_design_exactly():
    study = load_study("tutorial")
    assert study.keras_compat
    assert (study.data.dataset, study.data.train, study.data.validation, study.data.test) == ("auto", 10000, 2000, 10000)
    by_name = {v.name: v for v in study.variants}
    assert list(by_name) == ["basic", "l1", "l2", "dropout", "combined", "sgd", "momentum", "rmsprop", "adam", "adam_lr"]
    for name in ["basic", "l1", "l2", "dropout", "combined"]:
        v = by_name[name]
        assert v.hidden == (512, 256, 128, 64) and v.epochs == 15 and v.batch_size == 128
        assert v.optimizer.name == "adam" and v.optimizer["lr"] == 0.001 and v.optimizer["eps"] == 1e-7
        assert v.init.name == "glorot_uniform" and v.activation.name == "relu"
    assert by_name["l1"].switch("l1")["strength"] == 0.001 and by_name["l1"].switch("l2") is None
    assert by_name["l2"].switch("l2")["strength"] == 0.001
    assert by_name["dropout"].dropout_rates() == (0.3, 0.3, 0.3, 0.3)
    assert by_name["combined"].dropout_rates() == (0.3, 0.3, 0.2, 0.2)
    assert by_name["combined"].switch("l2")["strength"] == 0.001
    assert by_name["basic"].switches == ()
    for name in ["sgd", "momentum", "rmsprop", "adam", "adam_lr"]:
        assert by_name[name].hidden == (256, 128) and by_name[name].epochs == 10
    assert by_name["sgd"].optimizer.as_dict() == {"name": "sgd", "lr": 0.01}
    assert by_name["momentum"].optimizer.as_dict() == {"name": "momentum", "lr": 0.01, "momentum": 0.9}
    assert by_name["rmsprop"].optimizer.as_dict() == {
        "name": "rmsprop", "lr": 0.001, "rho": 0.9, "eps": 1e-7, "eps_inside_sqrt": True}
    schedule = by_name["adam_lr"].schedule
    assert schedule.name == "step" and schedule["boundaries"] == (5, 10) and schedule["values"] == (1e-3, 5e-4, 1e-4)
    assert by_name["adam"].schedule.name == "constant"
    assert by_name["basic"].baseline is None and by_name["sgd"].baseline is None
    assert by_name["l1"].baseline == "basic" and by_name["momentum"].baseline == "sgd"


def test_pytorch_conventions_when_keras_compat_is_off():
    study = parse_study('keras_compat = false\n[[variants]]\nname = "a"\noptimizer = "rmsprop"\n')
    variant = study.variants[0]
    assert variant.init.name == "torch_default"
    assert variant.optimizer["rho"] == 0.99 and variant.optimizer["eps"] == 1e-8
    assert variant.optimizer["eps_inside_sqrt"] is False


def test_resolved_study_round_trips():
    study = load_study("tutorial")
    again = study_from_dict(study.to_dict())
    assert again == study


def test_overrides_apply_before_validation():
    study = load_study("tutorial", {"seeds": 3, "epochs": 2, "dataset": "digits"})
    assert study.seeds == (0, 1, 2)
    assert {v.epochs for v in study.variants} == {2}
    assert study.data.dataset == "digits"


def test_shorthand_and_table_forms_are_the_same():
    a = parse_study('[[variants]]\nname = "a"\nl2 = 0.01\noptimizer = "adam"\n')
    b = parse_study('[[variants]]\nname = "a"\nl2 = { strength = 0.01 }\noptimizer = { name = "adam" }\n')
    assert a.variants == b.variants


def test_zero_strength_means_off():
    study = parse_study('[[variants]]\nname = "a"\nl1 = 0.0\ndropout = 0\n')
    assert study.variants[0].switches == ()


BAD_STUDIES = [
    # (TOML, fragments that must all appear in the error)
    ('[[variants]]\nname = "a"\nl1 = -0.1\n', ["variants[0] ('a').l1.strength", "out of range", ">= 0"]),
    ('[[variants]]\nname = "a"\noptimizer = "adma"\n', ["unknown optimizer 'adma'", "did you mean 'adam'"]),
    ('[[variants]]\nname = "a"\ndropout = 1.0\n', ["dropout.rate", "must be >= 0 and < 1"]),
    ('[[variants]]\nname = "a"\ndropout = [0.1, 0.2]\nhidden = [8, 8, 8]\n', ["2 rates for 3 hidden layers"]),
    ('[[variants]]\nname = "a"\nlearning_rate = 0.1\n', ["learning_rate", "unknown key"]),
    ('[[variants]]\nname = "a"\noptimizer = { name = "adam", lr = -1 }\n', ["optimizer.lr", "must be > 0"]),
    ('[[variants]]\nname = "a"\noptimizer = { name = "adam", momentum = 0.9 }\n', ["adam has no parameter 'momentum'"]),
    ('[[variants]]\nname = "a"\nepochs = 0\n', ["epochs", "out of range"]),
    ('[[variants]]\nname = "a"\nbatch_size = "big"\n', ["batch_size", "must be an integer"]),
    ('[[variants]]\nname = "a"\nhidden = []\n', ["hidden", "non-empty list"]),
    ('[[variants]]\nname = "a"\nhidden = [64, true]\n', ["hidden"]),
    ('[[variants]]\nname = "a"\n[[variants]]\nname = "a"\n', ["two variants are named 'a'"]),
    ('[[variants]]\ndescription = "no name"\n', ["needs a `name`"]),
    ('name = "x"\n', ["at least one [[variants]]"]),
    ('seeds = 0\n' + MINIMAL, ["seeds", "out of range"]),
    ('seeds = [1, 1]\n' + MINIMAL, ["seeds repeat"]),
    ('seeds = "many"\n' + MINIMAL, ["seeds", "must be a number of seeds"]),
    ('[data]\ntrain = -5\n' + MINIMAL, ["data.train", "out of range"]),
    ('[data]\ntrian = 5\n' + MINIMAL, ["data.trian", "did you mean 'train'"]),
    ('baseline = "b"\n' + MINIMAL, ["baseline", "'b' is not a variant"]),
    ('[[variants]]\nname = "a"\nschedule = { name = "step", boundaries = [5], values = [0.1] }\n',
     ["one more entry than boundaries"]),
    ('[[variants]]\nname = "a"\nschedule = { name = "step", boundaries = [5, 3], values = [0.1, 0.2, 0.3] }\n',
     ["boundaries: must increase"]),
    ('[[variants]]\nname = "a"\nactivation = "swish"\n', ["unknown activation 'swish'"]),
    ('keras_compat = "yes"\n' + MINIMAL, ["keras_compat", "true or false"]),
    ('[[variants]]\nname = "a"\nl2 = "strong"\n', ["l2.strength", "must be a number"]),
    ('[[variants]]\nname = "a"\nl2 = nan\n', ["l2.strength", "finite"]),
    ('[[variants]]\nname = "a"\noptimizer = 3\n', ["optimizer", "must be a name or a table"]),
    ('colour = "red"\n' + MINIMAL, ["colour", "unknown key"]),
    ('[[variants]]\nname = "a"\ndescription_ja = 3\n', ["description_ja (line 3)", "must be a string"]),
    ('[[variants]\nname = "a"\n', ["not valid TOML", "line 1"]),
]


@pytest.mark.parametrize("text, fragments", BAD_STUDIES, ids=[f"bad{i}" for i in range(len(BAD_STUDIES))])
def test_bad_studies_are_reported_clearly(text, fragments):
    with pytest.raises(ConfigError) as caught:
        parse_study(text, "bad.toml")
    message = str(caught.value)
    assert message.startswith("bad.toml:")
    for fragment in fragments:
        assert fragment in message, message


def test_every_problem_is_reported_at_once_with_lines():
    text = '[[variants]]\nname = "a"\n\n[[variants]]\nname = "b"\nl1 = -1\noptimizer = "sdg"\n'
    with pytest.raises(ConfigError) as caught:
        parse_study(text, "two.toml")
    problems = caught.value.problems
    assert len(problems) == 2
    assert any("variants[1] ('b').l1.strength (line 6)" in p for p in problems)
    assert any("variants[1] ('b').optimizer (line 7)" in p and "did you mean 'sgd'" in p for p in problems)


def test_unknown_study_names_the_built_ins():
    with pytest.raises(ConfigError) as caught:
        load_study("tutorail")
    assert "did you mean 'tutorial'" in str(caught.value) and "reglab studies" in str(caught.value)


def test_split_seed_must_fit_the_splitter():
    with pytest.raises(ConfigError, match="data.split_seed"):
        parse_study('[data]\nsplit_seed = 1099511627776\n' + MINIMAL)


@pytest.mark.parametrize("typed, meant", [("adma", "adam"), ("adamx", "adamax"), ("lino", "lion"), ("sdg", "sgd")])
def test_a_misspelled_optimizer_suggests_the_fewest_edits(typed, meant):
    # difflib's ratio alone ranks 'adamax' before 'adam' for 'adma' (0.8 against 0.75).
    with pytest.raises(ConfigError, match=rf"did you mean '{meant}'\?"):
        parse_study(f'[[variants]]\nname = "a"\noptimizer = "{typed}"\n', "s.toml")
