"""Runs whose results must not change when the code that trains them is reshaped: one variant of
the built-in studies for each combination of architecture, schedule and techniques they use
(found from the studies, not listed), one epoch on 128 training images of the embedded digits,
in both engines. Each run's record (times left out) and arrays are hashed.

    PYTHONPATH=<an older src> python tests/engine/golden_runs.py --write

writes tests/engine/golden_runs.json from that code; tests/engine/test_same_results.py trains
the same runs with this code and compares the hashes. Float results are bit-identical only on the
same kind of machine (vector instructions, BLAS), so the file names the machine it was made on and
the test runs only there (benchmarks/compare_runs.py compares whole studies anywhere)."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch

GOLDEN = Path(__file__).with_name("golden_runs.json")
ROWS = 128


def machine() -> dict:
    return {"torch": torch.__version__, "cpu": torch.backends.cpu.get_cpu_capability(),
            "machine": platform.machine()}


def chosen_variants() -> list[tuple[str, object]]:
    from reglab.config import builtin_studies, load_study

    seen, chosen = set(), []
    for name in sorted(builtin_studies()):
        for variant in load_study(name).variants:
            key = (variant.model, variant.schedule.name, tuple(c.name for c in variant.switches))
            if key not in seen:
                seen.add(key)
                chosen.append((f"{name}/{variant.name}", variant))
    return chosen


def digits():
    from reglab.data.load import load_dataset
    from reglab.data.splits import make_splits
    from reglab.engine.core import DeviceData

    splits = make_splits(load_dataset("digits"), train=ROWS, validation=64, test=64, split_seed=0)
    return DeviceData.from_arrays(splits, "cpu")


def digest(outcome) -> str:
    record = outcome.record.to_json()
    record.pop("seconds")
    for epoch in record["history"]:
        epoch.pop("seconds")
    h = hashlib.sha256(json.dumps(record, sort_keys=True).encode())
    arrays = outcome.arrays
    for name in sorted(arrays.weights):
        h.update(name.encode() + np.ascontiguousarray(arrays.weights[name]).tobytes())
    h.update(np.ascontiguousarray(arrays.test_predictions).tobytes())
    h.update(np.ascontiguousarray(arrays.weight_sketches).tobytes())
    return h.hexdigest()


def results() -> dict[str, str]:
    from dataclasses import replace

    from reglab.engine.fast import stack_key, train_stack
    from reglab.engine.reference import train_run

    data, out = digits(), {}
    for label, variant in chosen_variants():
        variant = replace(variant, epochs=1)
        out[f"{label} reference"] = digest(train_run(data, variant, 0))
        if stack_key(variant) is not None:
            out[f"{label} fast"] = digest(train_stack(data, [(variant, 0)])[0])
    return out


if __name__ == "__main__":
    if "--write" not in sys.argv:
        sys.exit(__doc__)
    GOLDEN.write_text(json.dumps({"machine": machine(), "runs": results()}, indent=1) + "\n")
    print(f"wrote {GOLDEN}")
