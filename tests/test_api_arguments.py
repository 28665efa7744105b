"""The Python API's arguments and its run directory's lock (issue 24, faults 3 and 7).

Every public function and method is called with values of a type its signature does not take,
one argument at a time (the arguments found from the signatures, so a new one is covered): the
answer is a reglab error naming the argument, never a raw TypeError, KeyError or AttributeError,
and nothing is written. A finished directory run or resumed from Python is left unlocked.
"""

from __future__ import annotations

import fcntl
import inspect
import math
import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reglab
from reglab import Study, Variant
from reglab.errors import ReglabError, UnknownName

TINY = Study("tiny", [Variant("a", hidden=[8]), Variant("b", hidden=[8], l2=1e-3)], seeds=1,
             data={"dataset": "digits", "train": 200, "validation": 50, "test": 100}, defaults={"epochs": 1})


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("api-args") / "run"
    reglab.run(TINY, out=out, progress=False, report=False, offline=True)
    return out


# ------------------------------------------------------------------------------------ fault 3


def _unlocked(run_dir: Path) -> bool:
    """True when no open file of this process (or any other) holds the directory's writer lock."""
    fd = os.open(run_dir / ".writer.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new open file: conflicts even within this process
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_run_and_resume_of_a_finished_directory_leave_it_unlocked(finished, fault_log, monkeypatch):
    assert _unlocked(finished)
    for _ in range(2):  # a notebook cell run again: the finished path, twice
        reglab.resume(finished, progress=False, report=False)
        assert _unlocked(finished)
    reglab.run(TINY, out=finished, progress=False, report=False, offline=True)
    assert _unlocked(finished)
    # The failure paths: the finished path's clean-up failing, and a report that cannot be written.
    from reglab.store import RunStore

    def fail(self):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(RunStore, "remove_partial_writes", fail)
    with pytest.raises(OSError):
        reglab.resume(finished, progress=False, report=False)
    monkeypatch.undo()
    assert _unlocked(finished)
    blocker = finished.parent / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(ReglabError):
        reglab.load(finished).write_report(blocker / "report")
    assert _unlocked(finished)
    fault_log("reglab.run into a finished directory, then reglab.resume twice, in one Python process "
              "(and with the clean-up failing)", 4, "the directory unlocked after each call")


# ------------------------------------------------------------------------------------ fault 7

# Values of every common type; for each argument, those its annotation does not name are wrong.
SAMPLES = [None, 7, -1, 2.5, math.nan, "zz", b"x", [object()], {"k": object()}, object(), True]
TYPES = {"str": (str,), "Path": (Path,), "None": (type(None),), "int": (int,), "float": (int, float),
         "bool": (bool,), "list": (list, tuple, range), "tuple": (tuple, list), "Mapping": (dict,),
         "dict": (dict,), "Iterable": (list, tuple), "Variant": (Variant,)}


def _taken(annotation: str) -> tuple[type, ...] | None:
    """The types an annotation names ("str | Path | None"); None when it takes anything (Any) or a
    type this table does not know."""
    taken: tuple[type, ...] = ()
    for part in re.sub(r"\[.*\]", "", annotation).split("|"):
        if part.strip() not in TYPES:
            return None
        taken += TYPES[part.strip()]
    return taken or None


def _wrong(value: object, taken: tuple[type, ...]) -> bool:
    return bool not in taken if isinstance(value, bool) else not isinstance(value, taken)


# A valid value for each required argument of the public API, by name: what the fuzz passes for the
# arguments it is not trying. A new method with a required argument not named here fails the test
# below until it is added, so that every public method is fuzzed.
VALID = {"variant": "a", "seed": 0, "name": "a", "names": "a", "epochs": 1, "seeds": 1, "dataset": "digits",
         "raw": {"name": "x", "variants": [{"name": "a"}]}, "text": 'name = "x"\n[[variants]]\nname = "a"\n',
         "path": "tutorial", "X": [[0.0] * 64], "folder": "FOLDER", "run_dir": "FINISHED", "study": None}
# Calls that would do a study's work when every argument is right: their other arguments are kept cheap.
CHEAP = {"reglab.run": {"study": TINY, "progress": False, "report": False, "offline": True},
         "reglab.resume": {"run_dir": "FINISHED", "progress": False, "report": False},
         "reglab.lr_find": {"study": TINY, "steps": 2, "offline": True},
         "Study": {"name": "x", "variants": [Variant("a")]}}


def _calls(finished: Path, tmp_path: Path):
    """(label, function, the other arguments) for every public function and method."""
    result = reglab.load(finished)
    places = {"FINISHED": finished, "FOLDER": tmp_path / "folder"}
    owners = [("reglab", reglab, [n for n in ("run", "resume", "load", "lr_find")]),
              ("Study", TINY, None), ("Variant", Variant("a"), None), ("StudyResult", result, None)]
    yield "Study", Study, CHEAP["Study"]
    yield "Variant", Variant, {}
    for owner, value, names in owners:
        for name in names or [n for n in dir(type(value)) if not n.startswith("_")]:
            function = getattr(value, name)
            if not callable(function) or isinstance(function, type):
                continue
            label = f"{owner}.{name}"
            others = {}
            for parameter, spec in inspect.signature(function).parameters.items():
                if spec.default is spec.empty and spec.kind not in (spec.VAR_POSITIONAL, spec.VAR_KEYWORD):
                    assert parameter in VALID, f"{label}({parameter}): give VALID a value for it"
                    others[parameter] = VALID[parameter]
            others.update(CHEAP.get(label, {}))
            yield label, function, {k: places.get(v, v) if isinstance(v, str) else v for k, v in others.items()}


def _cases(finished: Path, tmp_path: Path) -> list[tuple[str, object, dict, str, object]]:
    cases = []
    for label, function, others in _calls(finished, tmp_path):
        for name, parameter in inspect.signature(function).parameters.items():
            if parameter.kind in (parameter.VAR_KEYWORD,) or name in ("self", "cls"):
                continue
            annotation = parameter.annotation if isinstance(parameter.annotation, str) else ""
            if parameter.kind is parameter.VAR_POSITIONAL:
                annotation = annotation or "str"
            taken = _taken(annotation)
            if taken is None:
                continue
            for value in SAMPLES:
                if _wrong(value, taken):
                    cases.append((label, function, others, name, value))
    return cases


def _call(function, others: dict, name: str, value: object, out: Path):
    parameter = inspect.signature(function).parameters[name]
    kwargs = dict(others)
    if "out" in inspect.signature(function).parameters and name != "out" and function is not reglab.lr_find:
        kwargs["out"] = out
    if parameter.kind is parameter.VAR_POSITIONAL:
        return function(value)
    kwargs[name] = value
    return function(**kwargs)


def test_wrong_types_anywhere_in_the_public_api_are_reglab_errors(finished, tmp_path, fault_log):
    cases = _cases(finished, tmp_path)
    assert len(cases) > 300  # the signatures were read: run, resume, Study, ... each with several arguments
    before = sorted(p.name for p in finished.rglob("*"))
    tried = 0

    @settings(max_examples=300, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.sampled_from(cases))
    def one(case):
        nonlocal tried
        label, function, others, name, value = case
        out = tmp_path / f"out-{tried}"
        with pytest.raises(ReglabError) as caught:
            _call(function, others, name, value, out)
        assert name in str(caught.value) or isinstance(caught.value, UnknownName), (label, name, value, caught.value)
        assert not out.exists(), (label, name, value)
        tried += 1

    one()
    assert sorted(p.name for p in finished.rglob("*")) == before  # nothing written into the run directory
    fault_log(f"wrong types in the Python API's arguments (hypothesis over {len(cases)} (function, argument, "
              "value) cases read from the signatures)", tried, "a reglab error naming the argument; nothing written")


ISSUE_CASES = {
    'Study("x", None)': lambda d: Study("x", None),
    'Study("x", Variant("a"))': lambda d: Study("x", Variant("a")),
    'Study(..., data="digits")': lambda d: Study("x", [Variant("a")], data="digits"),
    "Study.from_dict([1, 2])": lambda d: Study.from_dict([1, 2]),
    "Study.from_toml_text(None)": lambda d: Study.from_toml_text(None),
    "run(out=5)": lambda d: reglab.run(TINY, out=5, progress=False),
    "run(observers=5)": lambda d: reglab.run(TINY, out=d / "o", observers=5, progress=False),
    "load(None)": lambda d: reglab.load(None),
    'history("a", "0")': lambda d: reglab.load(d).history("a", "0"),
    "checkpoint_seconds=nan": lambda d: reglab.run(TINY, out=d / "n", checkpoint_seconds=math.nan, progress=False),
    "checkpoint_seconds=-1": lambda d: reglab.resume(d, checkpoint_seconds=-1, progress=False),
}


@pytest.mark.parametrize("case", list(ISSUE_CASES))
def test_the_issues_cases(case, finished):
    with pytest.raises(reglab.ConfigError) as caught:
        ISSUE_CASES[case](finished)
    assert "in the arguments" in str(caught.value)
    assert not (finished / "o").exists() and not (finished / "n").exists()


def test_names_not_there_are_unknown_names_with_the_choices(finished):
    for call in (lambda: TINY.only("zzz"), lambda: TINY.variant("zzz"), lambda: reglab.load(finished).run("zzz"),
                 lambda: reglab.load(finished).history("a", 3)):
        with pytest.raises(UnknownName) as caught:
            call()
        assert isinstance(caught.value, KeyError) and str(caught.value) == caught.value.args[0]  # not quoted as a key
        assert isinstance(caught.value, reglab.UnknownName)
        assert "a, b" in str(caught.value) or "stored seeds: [0]" in str(caught.value)


def test_predictions_of_a_linked_arrays_file_is_a_reglab_error(finished, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    npz = next((copy / "runs").glob("00-a/seed-0.npz"))
    moved = tmp_path / "elsewhere.npz"
    npz.rename(moved)
    npz.symlink_to(moved)
    with pytest.raises(ReglabError) as caught:
        reglab.load(copy).predictions("a", 0)
    assert "seed-0.npz" in str(caught.value) and "reglab resume" in str(caught.value)
    assert type(caught.value).__module__ == "reglab.errors"


def test_one_observer_alone_is_taken_as_a_list_of_one(finished):
    from reglab.progress.events import Recorder

    heard = Recorder()
    reglab.resume(finished, progress=False, report=False, observers=heard)
    assert any(event == "notice" for event, _ in heard.events)
