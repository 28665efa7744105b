"""Are two run directories the same results? Every run record (timing fields left out: `seconds`
of a run and of each epoch), every stored array (predictions, final weights), the data split and
the resolved study must be equal, bit for bit. Keys that only one side's records have (fields
added to the record format in between) are listed, not compared. Used to show that a change to
start-up or speed changed no result (issue 19):

    python benchmarks/compare_runs.py RUN_DIR_BEFORE RUN_DIR_AFTER
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

TIMING = {"seconds"}
CHECKSUM = {"sha256"}  # a run record's checksum covers its times too: the record itself is compared
CREATED = {"created"}  # when the directory was made (manifest.json)


def _common(a, b, path: str, only: set[str]):
    """a and b restricted to the keys both have, noting the others in `only`."""
    if isinstance(a, dict) and isinstance(b, dict):
        only.update(f"{path}{k}" for k in set(a) ^ set(b))
        return ({k: _common(a[k], b[k], f"{path}{k}.", only)[0] for k in a if k in b},
                {k: _common(a[k], b[k], f"{path}{k}.", only)[1] for k in b if k in a})
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = [_common(x, y, path, only) for x, y in zip(a, b)]
        return [x for x, _ in pairs], [y for _, y in pairs]
    return a, b


def _without(value, keys):
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


def differences(before: Path, after: Path) -> list[str]:
    problems = []
    names = sorted({p.relative_to(before) for p in before.rglob("*") if p.is_file()}
                   | {p.relative_to(after) for p in after.rglob("*") if p.is_file()})
    compared = 0
    only: set[str] = set()
    for name in names:
        if name.name in (".writer.lock", "environment.json", "options.json") or "report" in name.parts:
            continue  # the machine and the times of this attempt, the writer's lock, the report's pages
        a, b = before / name, after / name
        if not a.is_file() or not b.is_file():
            problems.append(f"{name}: only in {'after' if b.is_file() else 'before'}")
            continue
        compared += 1
        if name.suffix == ".json":
            ja, jb = (_without(json.loads(p.read_text()), TIMING | CREATED | CHECKSUM) for p in (a, b))
            ja, jb = _common(ja, jb, "", only)
            if ja != jb:
                problems.append(f"{name}: differs")
        elif name.suffix == ".npz":
            with np.load(a) as za, np.load(b) as zb:
                if sorted(za.files) != sorted(zb.files) or any(
                        not np.array_equal(za[k], zb[k]) or za[k].dtype != zb[k].dtype for k in za.files):
                    problems.append(f"{name}: arrays differ")
        elif a.read_bytes() != b.read_bytes():
            problems.append(f"{name}: bytes differ")
    if compared == 0:
        problems.append("nothing was compared")
    print(f"compared {compared} files", file=sys.stderr)
    if only:
        print(f"keys in one side's records only (not compared): {', '.join(sorted(only))}", file=sys.stderr)
    return problems


if __name__ == "__main__":
    found = differences(Path(sys.argv[1]), Path(sys.argv[2]))
    print("\n".join(found) if found else "identical (timing fields left out)")
    sys.exit(1 if found else 0)
