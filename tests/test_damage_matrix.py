"""The damage matrix: every kind of file the store writes, in a finished and in a half-finished run
directory, times every damage an outside tester tried (issue 12), each followed by `reglab
results`, `reglab report` and `reglab resume`.

Every case must show: no traceback (the CLI runs in this process: an exception that is not turned
into a message fails the test), nothing written, deleted or read outside the directory (links
lead to valid files outside it, whose access times are watched), and after the resume the
results of an undamaged directory, number for number.

The cases are generated from the tables below. A sample (one damage per kind, rotating) runs on
every test run; the whole matrix is marked `slow` (`pytest -m slow`; CI runs it too).
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
from run_dirs import TINY, cli, numbers, snapshot, stop_after_first_run, train, write_study

from reglab.store.files import seal_json

# What the store writes, by kind: where it is in a run directory ("*" picks the first match), and
# what sort of thing it is (JSON, text, binary, the lock, a folder).
KINDS = {
    "manifest.json": ("manifest.json", "json"),
    "study.json": ("study.json", "json"),
    "study.toml": ("study.toml", "text"),
    "environment.json": ("environment.json", "json"),
    "options.json": ("options.json", "json"),
    "data.json": ("data.json", "json"),
    "test_split.npz": ("test_split.npz", "binary"),
    "references.json": ("references.json", "json"),
    "model.json": ("runs/00-basic/model.json", "json"),
    "run record": ("runs/*/seed-*.json", "json"),
    "run arrays": ("runs/*/seed-*.npz", "binary"),
    "checkpoint": ("runs/*/seed-*.ckpt", "binary"),
    ".writer.lock": (".writer.lock", "lock"),
    "report folder": ("report", "folder"),
    "variant folder": ("runs/*/seed-*.json/..", "folder"),
}

CONTENT = ["truncated to 0", "truncated to half", "random bytes", "32 bytes in the middle"]
PLACE = ["deleted", "a directory", "a symlink out of the directory"]
WRONG_SHAPE = ["JSON []", "JSON null", "JSON of the wrong shape with a valid checksum"]
DAMAGES = {
    "json": CONTENT + PLACE + WRONG_SHAPE,
    "text": CONTENT + PLACE + ["JSON []"],
    "binary": CONTENT + PLACE + ["JSON []"],
    "lock": ["random bytes"] + PLACE,
    "folder": ["deleted", "a file in its place", "a symlink out of the directory"],
}
STATES = ("finished", "half-finished")


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for state in STATES:
        for kind, (_, sort) in KINDS.items():
            if kind == "checkpoint" and state == "finished":
                continue  # a finished directory has none
            if kind == "references.json" and state == "half-finished":
                continue  # the references are fitted once the networks have trained
            cases += [(state, kind, damage) for damage in DAMAGES[sort]]
    return cases


CASES = _cases()
# One case per (state, kind) on every run, the damage rotating so that each is sampled.
SAMPLE = [(state, kind, DAMAGES[KINDS[kind][1]][(i + 3 * STATES.index(state)) % len(DAMAGES[KINDS[kind][1]])])
          for i, (state, kind) in enumerate(dict.fromkeys((s, k) for s, k, _ in CASES))]


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """The two undamaged directories (with their reports) and the numbers each must come back to."""
    root = tmp_path_factory.mktemp("bases")
    study = write_study(root, TINY.replace("seeds = [0, 1]", 'seeds = [0, 1]\nreferences = ["logistic"]'))
    finished, half, half_clean = root / "finished", root / "half-finished", root / "half-clean"
    assert train(study, finished) == 0
    stop_after_first_run(study, half)
    assert list(half.glob("runs/*/seed-*.ckpt")) and list(half.glob("runs/*/seed-*.json"))
    for directory in (finished, half):
        assert cli("report", str(directory)) == 0
    shutil.copytree(half, half_clean)
    assert cli("resume", str(half_clean), "--no-report") == 0
    return {"finished": (finished, numbers(finished)), "half-finished": (half, numbers(half_clean))}


def _target(directory: Path, kind: str) -> Path:
    pattern = KINDS[kind][0]
    if pattern.endswith("/.."):
        return sorted(directory.glob(pattern[:-3]))[0].parent
    if "*" in pattern:
        return sorted(directory.glob(pattern))[0]
    return directory / pattern


def _wrong_types(value):
    """Every field of a JSON object given a value of another type."""
    if isinstance(value, dict):
        return {k: _wrong_types(v) for k, v in value.items()}
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return {"not": "a list"}
    return "not a number"


def damage(path: Path, what: str, outside: Path, rng: random.Random) -> None:
    original = path.read_bytes() if path.is_file() else None
    if what == "truncated to 0":
        path.write_bytes(b"")
    elif what == "truncated to half":
        path.write_bytes(original[:len(original) // 2])
    elif what == "random bytes":
        path.write_bytes(rng.randbytes(max(len(original or b""), 64)))
    elif what == "32 bytes in the middle":
        middle = len(original) // 2
        path.write_bytes(original[:middle] + rng.randbytes(32) + original[middle + 32:])
    elif what == "deleted":
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    elif what == "a directory":
        path.unlink()
        path.mkdir()
        (path / "inside").write_text("a file inside")
    elif what == "a file in its place":
        shutil.rmtree(path)
        path.write_bytes(rng.randbytes(100))
    elif what == "a symlink out of the directory":
        # To a valid copy outside: following it would give plausible data, so only not following it passes.
        copy = outside / f"copy-of-{path.name}"
        shutil.move(path, copy)
        path.symlink_to(copy, target_is_directory=copy.is_dir())
    elif what == "JSON []":
        path.write_text("[]")
    elif what == "JSON null":
        path.write_text("null")
    elif what == "JSON of the wrong shape with a valid checksum":
        stored = json.loads(original)
        stored.pop("sha256", None)
        path.write_bytes(seal_json(_wrong_types(stored)))
    else:
        raise AssertionError(what)


def _age_access_times(folder: Path) -> dict[str, float]:
    """Set every access time under `folder` before its modification time: with relatime (Linux's
    default) the next read then moves it. Returns the times to compare with later."""
    times = {}
    for path in [folder, *folder.rglob("*")]:
        info = os.lstat(path)
        os.utime(path, (info.st_mtime - 10_000, info.st_mtime), follow_symlinks=False)
        times[str(path)] = os.lstat(path).st_atime
    return times


def _reads_are_visible(folder: Path) -> bool:
    probe = folder / ".probe"
    probe.write_text("x")
    before = _age_access_times(folder)[str(probe)]
    probe.read_text()
    seen = os.lstat(probe).st_atime != before
    probe.unlink()
    return seen


_EXECUTED: list[tuple[str, str, str]] = []


@pytest.fixture(scope="module", autouse=True)
def _log_the_cases_run(fault_table):
    """One row in docs/faults.md with the number of cases this session ran (sample or whole)."""
    yield
    if _EXECUTED:
        kinds = len({(s, k) for s, k, _ in _EXECUTED})
        damages = len({d for _, _, d in _EXECUTED})
        fault_table(
            f"damage matrix: {kinds} (file kind, finished or half-finished directory) pairs x {damages} kinds of "
            "damage (truncated to 0 or half, random bytes, bytes in the middle, deleted, a directory, a symlink out, "
            "valid JSON of the wrong shape); then results, report, resume", len(_EXECUTED),
            "no traceback; nothing outside written, deleted or read; results after resume identical to an "
            f"undamaged directory's (of {len(CASES)} cases: a sample of {len(SAMPLE)} on every run, all with -m slow)")


def check_case(bases, tmp_path: Path, state: str, kind: str, what: str, capsys) -> None:
    base, clean = bases[state]
    directory, outside = tmp_path / "run", tmp_path / "outside"
    shutil.copytree(base, directory, symlinks=True)
    outside.mkdir()
    (outside / "someone-elses.txt").write_text("not reglab's")
    rng = random.Random(f"{state}/{kind}/{what}")
    target = _target(directory, kind)
    damage(target, what, outside, rng)
    visible = _reads_are_visible(outside)
    before = snapshot(outside)
    accessed = _age_access_times(outside)

    assert cli("results", str(directory), "--format", "json") == 0
    json.loads(capsys.readouterr().out)
    assert cli("report", str(directory)) == 0
    assert cli("resume", str(directory), "--no-report") == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err

    if visible:
        read = [p for p, t in accessed.items() if os.lstat(p).st_atime != t]
        assert not read, f"read outside the run directory: {read}"
    assert snapshot(outside) == before, "something outside the run directory was written or deleted"
    assert numbers(directory) == clean
    assert cli("results", str(directory), "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["damaged"] == []
    _EXECUTED.append((state, kind, what))


@pytest.mark.parametrize("state, kind, what", SAMPLE, ids=[f"{s}:{k}:{d}" for s, k, d in SAMPLE])
def test_damage_sample(bases, tmp_path, state, kind, what, capsys):
    check_case(bases, tmp_path, state, kind, what, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("state, kind, what", CASES, ids=[f"{s}:{k}:{d}" for s, k, d in CASES])
def test_damage_matrix(bases, tmp_path, state, kind, what, capsys):
    check_case(bases, tmp_path, state, kind, what, capsys)


def test_the_matrix_covers_every_file_the_store_writes():
    # A new kind of file in the store needs a row in KINDS.
    from reglab.store import run_dir

    named = {pattern.split("/")[-1] for pattern, _ in KINDS.values()}
    assert set(run_dir.CREATION_FILES) - {".write-test"} <= named
    assert {"manifest.json", "data.json", "test_split.npz", "model.json", "seed-*.json", "seed-*.npz",
            "seed-*.ckpt"} <= named
    assert len(SAMPLE) == len(STATES) * len(KINDS) - 2  # no checkpoint when finished, no references half-way
    assert {d for _, _, d in SAMPLE} == {d for damages in DAMAGES.values() for d in damages}
