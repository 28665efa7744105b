"""What may import torch. Importing torch takes seconds (2.6 s on two cores, measured), so the
commands that train nothing, `import reglab`, and the words of a study (the technique registry's
names, parameters, defaults, ranges and descriptions; a study's validation; the run store;
analysis and report) must not import it. Each check runs in a fresh interpreter and reads its
`sys.modules` after the command's own code path has run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import reglab

sys.path.insert(0, str(Path(__file__).parent / "report"))
from synthetic_runs import STANDARD, make_run  # noqa: E402


def _factory_modules() -> tuple[str, ...]:
    """The modules that registrations name as their runtime's factory ("module:Class"): the
    registry imports them only when something trains, so they may import torch."""
    from reglab.techniques import registry

    return tuple(sorted({t.factory.partition(":")[0] for members in registry.families().values()
                         for t in members.values() if isinstance(t.factory, str)}))


# Modules that build or train networks, and may import torch. Everything else under reglab must
# import without it: a new module that needs torch belongs here (or is a registration's factory
# module, found by itself), behind a lazy import where the torch-free side needs its behaviour (as
# registry.Technique.build does for factories).
TORCH_SIDE = (
    "reglab.engine",
    "reglab.explain",  # attributions: Captum on the rebuilt networks
    "reglab.models",
    "reglab.techniques.dropout",  # the seeded layers, which dropout's and other techniques' layers are
    "reglab.techniques.keras_optimizers",  # the optimizers' update rules (optimizers.py builds them)
    "reglab.techniques.soft_targets",  # the fast engine's objective gradients
    "reglab.cost.time_estimate",  # times a few training steps
    "reglab.lrfind",  # the learning-rate range test trains a copy of a model
    *_factory_modules(),
)

CHECK_COMMAND = """
import json, sys
from reglab.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "torch": sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))}),
      file=sys.stderr)
"""

CHECK_CODE = """
import json, sys
{code}
print(json.dumps({{"torch": sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))}}),
      file=sys.stderr)
"""


def _loaded_torch(args: list[str], cwd: Path) -> tuple[int | None, list[str], str]:
    done = subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True, cwd=cwd,
                          env=_environment(), timeout=300)
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "{}"
    try:
        result = json.loads(last)
    except json.JSONDecodeError:
        raise AssertionError(f"{args}: no report from the child\n{done.stdout}\n{done.stderr}") from None
    return result.get("code", done.returncode), result["torch"], done.stdout + done.stderr


def _environment() -> dict[str, str]:
    import os

    return {**os.environ, "COLUMNS": "80", "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("imports") / "run", STANDARD, [0, 1, 2])


COMMANDS = [
    ["--help"],
    ["--version"],
    ["studies"],
    ["techniques"],
    ["techniques", "--format", "json", "--lang", "ja"],
    ["data", "list"],
    ["run", "--help"],
    ["results", "{run}"],
    ["results", "{run}", "--format", "json"],
    ["report", "{run}", "--out", "{tmp}/report"],
    ["export", "{run}", "--to", "csv", "{tmp}/csv"],
    ["export", "{run}", "--to", "tensorboard", "{tmp}/tb"],
    ["watch", "--help"],
    ["predict", "--help"],
    ["run", "no-such-study"],  # a usage error is reported before anything heavy
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_commands_that_train_nothing_do_not_import_torch(command, run_dir, tmp_path):
    args = [part.format(run=run_dir, tmp=tmp_path) for part in command]
    code, torch_modules, output = _loaded_torch([CHECK_COMMAND, *args], tmp_path)
    assert code in (0, 2, None), output  # argparse exits 0 for --help/--version; 2 for a usage error
    assert torch_modules == [], f"reglab {' '.join(args)} imported {torch_modules[:5]}"


@pytest.mark.parametrize("code", [
    "import reglab",
    # The words of a study: every technique with its parameters, the built-in studies validated.
    "from reglab.techniques import registry\n"
    "assert all(t.params is not None for f in registry.families().values() for t in f.values())",
    "from reglab.config import builtin_studies, load_study\n"
    "assert all(load_study(name).variants for name in builtin_studies())",
    # The Python API's reading side: what a notebook does before (or without) training.
    "import reglab\nassert reglab.studies() and reglab.techniques()",
], ids=["import reglab", "technique registry", "built-in studies", "reglab.studies and techniques"])
def test_the_words_of_a_study_need_no_torch(code, tmp_path):
    _, torch_modules, output = _loaded_torch([CHECK_CODE.format(code=code)], tmp_path)
    assert torch_modules == [], f"{code!r} imported {torch_modules[:5]}\n{output}"


def test_a_stored_run_reads_back_without_torch(run_dir, tmp_path):
    code = (f"import reglab\nresult = reglab.load({str(run_dir)!r})\n"
            "assert result.history('basic', seed=0)['val_loss']")
    _, torch_modules, output = _loaded_torch([CHECK_CODE.format(code=code)], tmp_path)
    assert torch_modules == [], f"reglab.load imported {torch_modules[:5]}\n{output}"


def test_every_module_outside_the_torch_side_imports_without_torch(tmp_path):
    root = Path(reglab.__file__).parent
    # From the files, not pkgutil: reglab.techniques is a namespace package, which pkgutil skips.
    every = {".".join(("reglab", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
             for path in root.rglob("*.py")}
    names = sorted(name for name in every - {"reglab.__main__"}
                   if not any(name == side or name.startswith(side + ".") for side in TORCH_SIDE))
    assert "reglab.techniques.catalog" in names and "reglab.config" in names
    code = "import importlib\n" + "\n".join(f"importlib.import_module({name!r})" for name in names)
    _, torch_modules, output = _loaded_torch([CHECK_CODE.format(code=code)], tmp_path)
    assert torch_modules == [], (
        f"one of {names} imported {torch_modules[:5]}: import torch lazily there, or list the module "
        f"in TORCH_SIDE if it trains\n{output}")


def test_the_check_sees_torch_when_it_is_imported(tmp_path):
    # The checks above would pass vacuously if the child could not see an import of torch.
    code = "from reglab.techniques import registry\nregistry.lookup('activation', 'relu').build({})"
    _, torch_modules, _ = _loaded_torch([CHECK_CODE.format(code=code)], tmp_path)
    assert "torch" in torch_modules
