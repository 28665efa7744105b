"""Studies that used to crash or exhaust the machine (issue 12's "also found"): each is now a
ConfigError naming the problem, or trains."""

from __future__ import annotations

import json
import math

import pytest

import reglab
from reglab.config import parse_study

SMALL = """
name = "hostile"
seeds = [0]
[data]
dataset = "digits"
[defaults]
hidden = [16]
epochs = 1
[[variants]]
name = "v"
"""


def test_deeply_nested_toml_is_a_config_error_not_a_recursion_error():
    nested = "x = " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(reglab.ConfigError):
        parse_study(SMALL + nested)


def test_a_key_of_twenty_thousand_dotted_parts_is_refused():
    key = ".".join(f"k{i}" for i in range(20_000))
    with pytest.raises(reglab.ConfigError) as error:
        parse_study(SMALL + f"{key} = 1\n")
    assert "32" in str(error.value)  # the stated limit on a key's parts


def test_a_network_that_cannot_fit_in_memory_is_refused_before_anything_is_built():
    with pytest.raises(reglab.ConfigError) as error:
        parse_study(SMALL.replace("hidden = [16]", "hidden = [65536, 65536]"))
    assert "GiB" in str(error.value)


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_batch_norm_trains_when_the_last_batch_holds_one_example(tmp_path, engine):
    study = SMALL.replace("epochs = 1", "epochs = 1\nbatch_size = 16\nbatch_norm = true")
    path = tmp_path / "study.toml"
    path.write_text(study, encoding="utf-8")
    result = reglab.run(path, out=tmp_path / "run", engine=engine, device="cpu", offline=True,
                        progress=False, report=False)
    train = json.loads((tmp_path / "run" / "data.json").read_text(encoding="utf-8"))["splits"]["train"]
    assert train % 16 == 1  # digits' 817 training images: the last batch is one example
    assert result.complete
    assert all(math.isfinite(v) for v in result.history("v")["loss"])
