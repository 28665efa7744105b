"""One conformance suite over every registered technique (scikit-learn style): each builds from
its defaults, trains a few epochs on a small problem and lowers the loss, and its resolved
configuration round-trips through TOML and through the stored study. Each trains on the MLP, or
on the first architecture that accepts it where the MLP refuses it (spatial dropout on a CNN,
stochastic depth on the residual MLP)."""

from __future__ import annotations

import pytest
import tomli_w

from reglab.config import parse_study, study_from_dict
from reglab import models
from reglab.engine.core import evaluate
from reglab.engine.reference import train_run
from reglab.engine.seeding import generator
from reglab.techniques import registry
from reglab.techniques.registry import CHOICE_FAMILIES


def every_technique():
    for family, members in registry.families().items():
        for name in members:
            yield pytest.param(family, name, id=f"{family}/{name}")


# Small settings for an architecture's own keys (the MLP has none; a missing entry uses the defaults).
ARCHITECTURE_KEYS = {"cnn": ['conv = [{ filters = 8, kernel_size = 3, padding = "same", pool = 2 }]'],
                     "resmlp": ["width = 16"]}


def study_text(family: str, name: str) -> str:
    # Enough learning rate for every optimizer to move in a few epochs on this problem.
    fast_lr = {"sgd": 0.5, "momentum": 0.1, "nesterov": 0.1, "adagrad": 0.1, "adadelta": 1.0}
    lines = ['[[variants]]', 'name = "probe"', "hidden = [32, 16]", "epochs = 4", "batch_size = 32"]
    # The first architecture that accepts the technique (the MLP for most, a CNN for spatial dropout).
    architecture = next(a for a in models.architectures().values() if name not in a.refuses)
    lines += [f'model = "{architecture.name}"', *ARCHITECTURE_KEYS.get(architecture.name, ())]
    if family == "optimizer":
        lines.append(f'optimizer = {{ name = "{name}", lr = {fast_lr.get(name, 0.01)} }}')
    else:
        lines.append('optimizer = { name = "adam", lr = 0.01 }')
    if family in CHOICE_FAMILIES and family != "optimizer":
        lines.append(f'{family} = "{name}"')
    elif family not in CHOICE_FAMILIES:
        lines.append(f"{name} = true")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def data(blobs):
    return blobs(seed=1, n_train=400, n_val=200, n_test=200, spread=0.05, images=True)


@pytest.mark.parametrize("family, name", list(every_technique()))
def test_every_technique_trains_and_round_trips(data, family, name):
    study = parse_study(study_text(family, name))
    variant = study.variants[0]
    chosen = getattr(variant, family) if family in CHOICE_FAMILIES else variant.switch(name)
    assert chosen is not None and chosen.name == name

    initial = models.build(variant, data.image_shape, data.classes, generator(0, "init"))
    initial_loss = evaluate(initial, data.x_val, data.y_val)[0]
    outcome = train_run(data, variant, seed=0)
    assert outcome.record.status == "completed"
    assert outcome.record.history[-1].val_loss < 0.9 * initial_loss, (initial_loss, outcome.record.history)

    resolved = study.to_dict()
    assert parse_study(tomli_w.dumps(resolved)) == study  # through TOML text
    assert study_from_dict(resolved) == study  # as the run store keeps it (study.json)


def test_every_technique_documents_itself():
    for family, members in registry.families().items():
        for technique in members.values():
            assert technique.summary_en and technique.summary_ja, technique.name
            for param in technique.params:
                assert param.doc, (technique.name, param.name)
                value, problem = param.check(param.default) if param.kind not in ("floats", "ints") else (None, None)
                assert problem is None, (technique.name, param.name, problem)
