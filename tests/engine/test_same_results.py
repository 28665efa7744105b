"""The results of the built-in studies' kinds of variant, in both engines, are the ones the code
gave before it was reshaped (tests/engine/golden_runs.py made the hashes from that code)."""

from __future__ import annotations

import json

import pytest

from golden_runs import GOLDEN, chosen_variants, machine, results


def test_every_kind_of_built_in_variant_trains_to_the_same_bits_as_before():
    golden = json.loads(GOLDEN.read_text())
    if golden["machine"] != machine():
        pytest.skip(f"the hashes were made on {golden['machine']}, this is {machine()}: float results are "
                    "bit-identical only on the same kind of machine (benchmarks/compare_runs.py compares studies)")
    now = results()
    assert sorted(now) == sorted(golden["runs"])
    assert len({label.split(" ")[0] for label in now}) == len(chosen_variants())
    changed = [label for label, digest in now.items() if golden["runs"][label] != digest]
    assert not changed, f"results changed: {changed}"
