"""One conformance suite over every registered technique (scikit-learn style), generated from the
registries (no list of techniques or architectures is written here):

- each technique builds from its defaults, trains a few epochs on a small problem and lowers the
  loss, and its resolved configuration round-trips through TOML and through the stored study (on
  the first architecture that accepts it: spatial dropout on a CNN, stochastic depth on the
  residual MLP);
- every technique x architecture x engine: trained a few steps, checkpointed after its first
  epoch and resumed (bit for bit the uninterrupted run), and the fast engine's run compared with
  the reference loop's; where the fast engine declines, its reason is the registry's; where an
  architecture refuses a technique, the study loader says why. The matrix is written to
  docs/techniques.md (REGLAB_WRITE_DOCS=1 rewrites it; otherwise a stale one fails).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tomli_w

from reglab.config import parse_study, study_from_dict
from reglab import models
from reglab.engine.checkpoint import Checkpointer
from reglab.engine.core import evaluate
from reglab.engine.fast import declines, stack_key, train_stack
from reglab.engine.reference import train_run
from reglab.engine.seeding import generator
from reglab.errors import ConfigError
from reglab.techniques import registry
from reglab.techniques.registry import CHOICE_FAMILIES
from same_runs import assert_identical_runs, assert_same_records

DOCS = Path(__file__).parents[2] / "docs" / "techniques.md"
BEGIN, END = "<!-- conformance matrix: generated -->", "<!-- end of the generated matrix -->"


def every_technique():
    for family, members in registry.families().items():
        for name in members:
            yield pytest.param(family, name, id=f"{family}/{name}")


def technique_keys(family: str, name: str) -> dict:
    """What turns the technique on with its defaults in a variant."""
    if family not in CHOICE_FAMILIES:
        return {name: True}
    return {family: name}


def study_text(family: str, name: str) -> str:
    # Enough learning rate for every optimizer to move in a few epochs on this problem.
    fast_lr = {"sgd": 0.5, "momentum": 0.1, "nesterov": 0.1, "adagrad": 0.1, "adadelta": 1.0}
    lines = ['[[variants]]', 'name = "probe"', "hidden = [32, 16]", "epochs = 4", "batch_size = 32"]
    # The first architecture that accepts the technique (the MLP for most, a CNN for spatial dropout).
    architecture = next(a for a in models.architectures().values() if name not in a.refuses)
    own = {k: v for k, v in architecture.example.items() if k != "hidden"}  # its small network, these widths
    lines += [f'model = "{architecture.name}"', *tomli_w.dumps(own).splitlines()]
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


# ------------------------------------------------------------------ technique x architecture x engine

def first_architecture(name: str) -> str:
    return next(a for a, architecture in models.architectures().items() if name not in architecture.refuses)


# Families that act on the optimizer alone (its update, its learning rate): the network they train
# does not change their code, so beyond the first architecture they are trained where the fast
# engine stacks them (to compare the engines), not on every architecture: half the matrix's cost.
OPTIMIZER_SIDE = ("optimizer", "schedule")


def combinations():
    """(family, technique, architecture) for every registered pair (see OPTIMIZER_SIDE)."""
    for architecture, declared in models.architectures().items():
        for family, members in registry.families().items():
            for name in members:
                if (family in OPTIMIZER_SIDE and declared.stacker is None
                        and architecture != first_architecture(name)):
                    continue
                yield family, name, architecture


def matrix_study(family: str, name: str, architecture: str) -> str:
    variant = {"name": "probe", "model": architecture, **models.lookup(architecture).example, "epochs": 2,
               "batch_size": 32, **technique_keys(family, name)}
    return tomli_w.dumps({"keras_compat": False, "variants": [variant]})


def refusal(family: str, name: str, architecture: str) -> str | None:
    return models.lookup(architecture).refuses.get(name)


@pytest.fixture(scope="module")
def tiny(blobs):
    # Two steps an epoch: enough to reach every hook, a checkpoint and a resume.
    return blobs(seed=3, n_train=64, n_val=32, n_test=32, spread=0.1, shape=(8, 8), images=True)


def interrupted_and_resumed(train, path: Path):
    """The run stopped after its first epoch (as Ctrl-C does: the checkpoint is written first), then
    trained again from that checkpoint."""
    def stop(*_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(Checkpointer(path, 0.0, engine=train.engine), stop)
    assert path.exists()
    return train(Checkpointer(path, 0.0, engine=train.engine), None)


# The default suite trains each technique on the first architecture that accepts it (in both
# engines where the fast one stacks it); the other combinations are `slow` (CI's second step).
# About 0.5 s of CPU each on two shared cores (1.7 s at a load of 7).
@pytest.mark.parametrize("family, name, architecture", [
    pytest.param(*c, id=f"{c[2]}-{c[0]}/{c[1]}",
                 marks=() if c[2] == first_architecture(c[1]) or refusal(*c) else pytest.mark.slow)
    for c in combinations()])
def test_every_technique_on_every_architecture_in_both_engines(tiny, tmp_path, family, name, architecture):
    text = matrix_study(family, name, architecture)
    refused = refusal(family, name, architecture)
    if refused is not None:
        with pytest.raises(ConfigError, match=name):
            parse_study(text)
        return
    variant = parse_study(text).variants[0]

    def reference(checkpoint=None, on_epoch=None):
        return train_run(tiny, variant, 0, checkpoint=checkpoint, on_epoch=on_epoch)
    reference.engine = "reference"

    plain = reference()
    assert plain.record.status == "completed" and len(plain.record.history) == 2
    assert_identical_runs(interrupted_and_resumed(reference, tmp_path / "reference.ckpt"), plain)

    reason = declines(variant)
    assert (reason is None) == (stack_key(variant) is not None)
    if reason is not None:
        return

    def fast(checkpoint=None, on_epoch=None):
        return train_stack(tiny, [(variant, 0)], checkpoint=checkpoint,
                           on_epoch=None if on_epoch is None else lambda _, record: on_epoch(record))[0]
    fast.engine = "fast"

    stacked = fast()
    assert stacked.record.engine == "fast"
    assert_same_records(stacked, plain)
    assert_identical_runs(interrupted_and_resumed(fast, tmp_path / "fast.ckpt"), stacked)


def matrix_markdown() -> str:
    """The matrix as docs/techniques.md shows it: what each combination does, from the registries."""
    names = list(models.architectures())
    rows, counts = [], {"both engines": 0, "reference loop only": 0, "refused": 0}
    declined: dict[str, list[str]] = {}
    for family, members in registry.families().items():
        for name in members:
            cells = []
            for architecture in names:
                if refusal(family, name, architecture) is not None:
                    cells.append("refused")
                    counts["refused"] += 1
                    continue
                reason = declines(parse_study(matrix_study(family, name, architecture)).variants[0])
                if reason is None:
                    cells.append("both engines")
                    counts["both engines"] += 1
                else:
                    cells.append("reference only")
                    counts["reference loop only"] += 1
                    declined.setdefault(reason, []).append(f"{architecture} + {name}")
            rows.append(f"| {family} | {name} | " + " | ".join(cells) + " |")
    total = sum(counts.values())
    lines = [BEGIN, "",
             f"{total} technique x architecture combinations ({len(rows)} techniques, {len(names)} architectures), "
             "each in both engines: " + ", ".join(f"{n} {what}" for what, n in counts.items()) + ". "
             f"The suite trains {sum(1 for _ in combinations()) - counts['refused']} of them (optimizers and schedules "
             "act on the optimizer alone: on architectures without a stacked form only on the first that takes "
             "them); each is checkpointed after its first epoch and resumed, and the fast engine's run is "
             "compared with the reference loop's (tests/techniques/test_conformance.py).", "",
             "| family | technique | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names), *rows, "",
             "Where the fast engine declines (the variant trains in the reference loop), and why:", ""]
    for reason, pairs in declined.items():
        for architecture in names:
            mine = [pair.split(" + ")[1] for pair in pairs if pair.startswith(architecture + " + ")]
            accepted = sum(refusal(f, t, architecture) is None for f, m in registry.families().items() for t in m)
            if mine:
                what = f"all {len(mine)} techniques it accepts" if len(mine) == accepted else ", ".join(mine)
                lines.append(f"- {architecture}, {what}: {reason}")
    lines += ["", "Where an architecture refuses a technique, the study loader says why:", ""]
    for architecture in names:
        for technique, why in models.lookup(architecture).refuses.items():
            lines.append(f"- {architecture} refuses {technique}: {why}")
    return "\n".join([*lines, "", END])


def test_the_documented_matrix_is_the_registries():
    text = DOCS.read_text(encoding="utf-8")
    generated = matrix_markdown()
    if os.environ.get("REGLAB_WRITE_DOCS"):
        start, end = text.find(BEGIN), text.find(END)
        text = (text[:start] + generated + text[end + len(END):]) if start >= 0 else text.rstrip() + "\n\n" + generated + "\n"
        DOCS.write_text(text, encoding="utf-8")
    assert generated in text, "docs/techniques.md: regenerate its matrix with REGLAB_WRITE_DOCS=1 pytest -k documented_matrix"
