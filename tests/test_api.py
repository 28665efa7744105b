"""The Python API (import reglab) against the command line, the stored records and the TOML checker."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import tomllib

import pytest

import reglab
from reglab.cli import main
from reglab.config import parse_study



def numbers(run_dir) -> list[dict]:
    """Every stored number of every run, without wall-clock seconds (they differ between any two runs)."""
    from reglab import lab

    variants = lab.results(run_dir)["variants"]
    for variant in variants:
        for run in variant["runs"]:
            run.pop("seconds")
            for epoch in run["history"]:
                epoch.pop("seconds")
    return variants


@pytest.fixture(scope="module")
def from_python(tmp_path_factory, tiny_study_text):
    from reglab.progress.events import Recorder

    study = reglab.Study.from_toml_text(tiny_study_text)
    events = Recorder()
    result = reglab.run(study, out=tmp_path_factory.mktemp("api") / "run", offline=True, progress=False,
                        report=False, observers=(events,))
    result.events = events
    return result


def test_observers_hear_the_whole_study_in_order(from_python):
    events = from_python.events
    names = [name for name, _ in events.events]
    assert names.count("study_started") == 1 and events.of("study_started") == [(4, 8)]
    assert names.count("epoch_finished") == 8 and names.count("run_finished") == 4
    assert names[-1] == "study_finished" and events.of("study_finished") == [(from_python.run_dir,)]
    assert names.index("study_started") < names.index("epoch_finished")
    assert "report_written" not in names  # report=False


def test_import_reglab_loads_no_torch():
    code = ("import sys, reglab; reglab.Study; reglab.StudyResult; reglab.run; reglab.ConfigError; "
            "assert 'torch' not in sys.modules and 'pandas' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_api_and_cli_store_identical_results(from_python, tmp_path, tiny_study_file, capsys):
    # The CLI on the TOML file, the API on the same study built in Python: the same numbers, both read back
    # by the other face.
    out = tmp_path / "cli"
    assert main(["run", str(tiny_study_file), "--out", str(out), "--offline", "--no-report"]) == 0
    assert numbers(out) == numbers(from_python.run_dir)
    python_built = reglab.Study("tiny", [reglab.Variant("basic"), reglab.Variant("l2", l2=0.001, dropout=0.2)],
                                seeds=[0, 1], description="two small variants for tests",
                                data={"dataset": "digits", "train": 400, "validation": 100, "test": 200},
                                defaults={"hidden": [32, 16], "epochs": 2, "batch_size": 64})
    assert python_built.spec.to_dict() == parse_study(tiny_study_file.read_text()).to_dict()
    frame = reglab.load(out).to_pandas().drop(columns="seconds")
    assert frame.equals(from_python.to_pandas().drop(columns="seconds"))
    # The command line reads the API's directory as its own.
    capsys.readouterr()
    assert main(["results", str(from_python.run_dir), "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == from_python.results() and printed["runs_found"] == 4


def test_history_is_keras_form_of_the_stored_records(from_python):
    for record in from_python.runs:
        history = from_python.history(record.variant, record.seed)
        assert list(history) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
        assert history["loss"] == [e.train_loss + e.train_penalty for e in record.history]
        assert history["val_loss"] == [e.val_loss + e.penalty for e in record.history]
        assert history["accuracy"] == [e.train_accuracy for e in record.history]
        assert history["val_accuracy"] == [e.val_accuracy for e in record.history]
        assert history["lr"] == [e.lr for e in record.history]
    assert any(e.train_penalty > 0 for e in from_python.run("l2", 0).history)  # the L2 term is in Keras's loss
    with pytest.raises(KeyError, match="no stored run of seed 7"):
        from_python.history("l2", 7)


def test_to_pandas_round_trips_every_epoch_of_every_run(from_python):
    frame = from_python.to_pandas()
    stored = [json.loads(p.read_text()) for p in sorted(from_python.run_dir.glob("runs/*/seed-*.json"))]
    assert len(frame) == sum(len(r["history"]) for r in stored) == 2 * 2 * 2
    for record in stored:
        rows = frame[(frame.variant == record["variant"]) & (frame.seed == record["seed"])].sort_values("epoch")
        for row, epoch in zip(rows.itertuples(index=False), record["history"], strict=True):
            row = row._asdict()
            for key, value in epoch.items():
                assert row[key] == value or (value is None and math.isnan(row[key])), key
            assert row["test_accuracy"] == record["test_accuracy"]
    # The variant's settings as columns: what differs between the variants is there to group by.
    l2 = frame[frame.variant == "l2"].iloc[0]
    assert l2["l2.strength"] == 0.001 and l2["dropout.rate"] == (0.2, 0.2) and l2["hidden"] == (32, 16)
    assert math.isnan(frame[frame.variant == "basic"].iloc[0]["l2.strength"])
    summary = from_python.summary()
    assert list(summary.index) == ["basic", "l2"] and summary.loc["l2", "baseline"] == "basic"
    assert summary.loc["basic", "test_accuracy_mean"] == pytest.approx(
        frame[frame.variant == "basic"].groupby("seed").test_accuracy.first().mean())


def test_report_plots_and_findings_from_python(from_python, tmp_path):
    report = from_python.report(lang="ja")
    assert "<iframe" in report._repr_html_() and "reglab レポート" in report.html
    assert report.save(tmp_path / "r.html").read_text(encoding="utf-8") == report.html
    for figure in (from_python.plot.learning_curves(), from_python.plot.test_accuracy(lang="ja"),
                   from_python.plot.confusion_matrix()):
        assert figure.axes
    found = from_python.findings(lang="ja")
    assert found[0]["kind"] == "best" and found[0]["text"] == found[0]["ja"]
    assert "<table" in from_python._repr_html_()


# Bad variants: each problem the TOML file would have, from Python too (the same words, less line numbers).
BAD_VARIANTS = [
    {"name": "a", "dropuot": 0.3},
    {"name": "b", "l2": -1},
    {"name": "c", "optimizer": {"name": "adamm"}},
    {"name": "d", "optimizer": {"name": "sgd", "lr": "fast"}},
    {"name": "e", "dropout": [0.1, 0.2, 0.3]},
    {"name": "f", "batch_norm": True, "layer_norm": True},
    {"name": "g", "hidden": [0]},
    {"name": "h", "epochs": 0, "baseline": "nobody"},
    {"name": "i", "schedule": {"name": "step", "boundaries": [5], "values": [0.1]}},
]


@pytest.mark.parametrize("bad", BAD_VARIANTS, ids=[v["name"] for v in BAD_VARIANTS])
def test_config_error_from_python_lists_the_problems_the_toml_file_has(bad):
    from reglab.config.python_study import to_toml

    table = {"name": "s", "seeds": 2, "variants": [{"name": "ok"}, bad]}
    with pytest.raises(reglab.ConfigError) as from_toml:
        parse_study(to_toml(table), "s.toml")
    settings = {k: v for k, v in bad.items() if k != "name"}
    with pytest.raises(reglab.ConfigError) as from_python:
        reglab.Study("s", [reglab.Variant("ok"), reglab.Variant(bad["name"], **settings)], seeds=2)
    without_lines = [re.sub(r" \(line \d+\)", "", p) for p in from_toml.value.problems]
    assert from_python.value.problems == without_lines and without_lines
    assert isinstance(from_python.value, reglab.ReglabError) and from_python.value.exit_code == 2


def test_all_problems_at_once_and_study_helpers():
    with pytest.raises(reglab.ConfigError) as error:
        reglab.Study("s", [reglab.Variant(v["name"], **{k: x for k, x in v.items() if k != "name"})
                           for v in BAD_VARIANTS[:3]])
    assert len(error.value.problems) == 3
    study = reglab.studies()["tutorial"]
    assert study == reglab.Study.from_toml("tutorial")
    assert tomllib.loads(study.to_toml()) == study.to_dict()
    assert reglab.Study.from_toml_text(study.to_toml()) == study
    five = study.with_seeds(5).with_epochs(3).with_dataset("digits")
    assert five.seeds == (0, 1, 2, 3, 4) and {v.epochs for v in five.spec.variants} == {3}
    assert study.seeds == (0,)  # helpers return new studies
    two = study.only("l2", "dropout")
    assert [v.name for v in two.variants] == ["l2", "dropout"] and two.spec.variants[0].baseline is None
    more = two.with_variants(reglab.Variant("combined", l2=1e-3, dropout=[0.3, 0.3, 0.2, 0.2]))
    assert more.variant("combined").settings() == {"l2": 1e-3, "dropout": [0.3, 0.3, 0.2, 0.2]}
    assert any(t["name"] == "dropout" for t in reglab.techniques())


class InterruptAfter:
    """Interrupts this process (SIGINT, what Ctrl-C or Jupyter's "interrupt the kernel" sends) once
    `epochs` epochs have finished."""

    def __init__(self, epochs: int):
        self.left = epochs

    def epoch_finished(self, variant, record):
        self.left -= 1
        if self.left == 0:
            os.kill(os.getpid(), signal.SIGINT)


def test_interrupt_from_python_saves_then_resume_gives_the_uninterrupted_results(tmp_path):
    study = reglab.Study("interrupted", [reglab.Variant("plain"), reglab.Variant("dropout", dropout=0.3)],
                         seeds=[0], data={"dataset": "digits"}, defaults={"hidden": [48], "epochs": 12})
    clean = reglab.run(study, out=tmp_path / "clean", offline=True, progress=False, report=False)
    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt) as interrupt:
        reglab.run(study, out=stopped, offline=True, progress=False, report=False, observers=(InterruptAfter(5),))
    assert isinstance(interrupt.value, reglab.StudyInterrupted) and interrupt.value.run_dir == stopped
    assert "reglab.resume" in str(interrupt.value)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    assert not reglab.load(stopped).complete
    assert list(stopped.glob("runs/*/seed-0.ckpt"))  # saved at the epoch's end
    resumed = reglab.resume(stopped, progress=False, report=False)
    assert resumed.complete and numbers(stopped) == numbers(clean.run_dir)


class InterruptWhenFinished:
    """Ctrl-C once every run is stored, while the study's end is being said (before its report)."""

    def study_finished(self, run_dir):
        os.kill(os.getpid(), signal.SIGINT)


def test_an_interrupt_after_every_run_is_stored_still_names_the_run_directory(tmp_path):
    # It used to escape as a bare KeyboardInterrupt ("interrupted." and no directory on the command line).
    study = reglab.Study("late", [reglab.Variant("plain")], seeds=[0], data={"dataset": "digits"},
                         defaults={"hidden": [16], "epochs": 2})
    out = tmp_path / "run"
    with pytest.raises(reglab.StudyInterrupted) as interrupt:
        reglab.run(study, out=out, offline=True, progress=False, observers=(InterruptWhenFinished(),))
    assert interrupt.value.run_dir == out and reglab.load(out).complete


def test_the_command_line_holds_no_orchestration():
    # cli.py parses, calls the library (lab.py, the API) and prints: it reaches no engine, store or
    # analysis of its own, so the command line and the Python API cannot drift apart.
    import ast
    from pathlib import Path

    import reglab.cli

    tree = ast.parse(Path(reglab.cli.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    reached = sorted(m for m in imported if m.split(".")[:2] in (["reglab", "engine"], ["reglab", "store"],
                                                                 ["reglab", "analysis"], ["reglab", "models"]))
    assert reached == []
    assert "lab" in {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                     and node.module == "reglab" for alias in node.names}
