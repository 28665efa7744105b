"""The command line end to end, on the embedded digits: real training, real store, real output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from reglab.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    # A real process: what a user sees, including that no traceback is ever printed.
    return subprocess.run([sys.executable, "-m", "reglab", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, timeout=600)


def test_run_then_results_json(tmp_path, tiny_study_file):
    out = tmp_path / "run"
    done = run_cli("run", str(tiny_study_file), "--out", str(out), "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert "basic" in done.stdout and "Run directory" in done.stderr
    results = json.loads(run_cli("results", str(out), "--format", "json").stdout)
    assert results["study"] == "tiny" and results["dataset"] == "digits"
    assert results["splits"] == {"train": 400, "validation": 100, "test": 200}
    names = [v["name"] for v in results["variants"]]
    assert names == ["basic", "l2"]
    for variant in results["variants"]:
        accuracy = variant["test_accuracy"]
        assert accuracy["n"] == 2 and 0 <= accuracy["mean"] <= 1 and accuracy["std"] is not None
        assert [r["seed"] for r in variant["runs"]] == [0, 1]
        for run in variant["runs"]:
            # auto on the CPU: single runs in the fast engine
            assert run["best_epoch"] is None and run["stopped_epoch"] is None and run["engine"] == "fast"
            assert len(run["history"]) == 2
            assert set(run["history"][0]) >= {"epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr"}
        mean = sum(r["test_accuracy"] for r in variant["runs"]) / 2
        assert accuracy["mean"] == pytest.approx(mean)
    from reglab.store import RunStore

    labels, images = RunStore.open(out).test_split()
    assert labels.shape == (200,) and images.shape == (200, 8, 8) and images.dtype.name == "uint8"
    assert images.max() == 255 and images.min() == 0
    model = json.loads((out / "runs" / "00-basic" / "model.json").read_text())
    assert [layer["params"] for layer in model["layers"] if layer["params"]] == [64 * 32 + 32, 32 * 16 + 16, 16 * 10 + 10]
    assert (out / "report" / "report.html").is_file()  # written at the end of `reglab run`
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    done = run_cli("report", str(out), "--out", str(blocker / "report"))
    assert done.returncode == 2 and "cannot write the report" in done.stderr and "Traceback" not in done.stderr
    csv_lines = run_cli("results", str(out), "--format", "csv").stdout.strip().splitlines()
    assert csv_lines[0].startswith("variant,seed,status") and len(csv_lines) == 5


def test_seeds_and_epochs_overrides(tmp_path, tiny_study_file, capsys):
    code = main(["run", str(tiny_study_file), "--out", str(tmp_path / "r"), "--seeds", "1", "--epochs", "1",
                 "--no-report"])
    assert code == 0
    capsys.readouterr()
    main(["results", str(tmp_path / "r"), "--format", "json"])
    results = json.loads(capsys.readouterr().out)
    assert [len(v["runs"]) for v in results["variants"]] == [1, 1]
    assert all(len(r["history"]) == 1 for v in results["variants"] for r in v["runs"])


@pytest.mark.parametrize("args, fragment", [
    (["run", "no-such-study"], "no built-in study of that name"),
    (["run", "tutorial", "--device", "cuda"], None),
    (["run", "tutorial", "--dataset", "mnist", "--data-dir", "/nonexistent-dir"], "mnist"),
    (["results", "/"], "not a reglab run directory"),
])
def test_usage_errors_exit_2_without_traceback(args, fragment):
    import torch

    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    done = run_cli(*args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "error:" in done.stderr
    if fragment:
        assert fragment in done.stderr


def test_malformed_and_invalid_study_files(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[[variants]\nname = 'x'\n")
    done = run_cli("run", str(broken))
    assert done.returncode == 2 and "not valid TOML" in done.stderr and "Traceback" not in done.stderr
    invalid = tmp_path / "invalid.toml"
    invalid.write_text('[[variants]]\nname = "x"\ndropout = 1.5\noptimizer = "adma"\n')
    done = run_cli("run", str(invalid))
    assert done.returncode == 2 and "2 problems" in done.stderr and "did you mean 'adam'" in done.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere, so no directory is unwritable")
def test_unwritable_output_directory(tmp_path, tiny_study_file):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    done = run_cli("run", str(tiny_study_file), "--out", str(locked / "run"))
    assert done.returncode == 2 and "cannot write the run directory" in done.stderr


def test_output_path_that_is_a_file(tmp_path, tiny_study_file):
    # Works as root too: a regular file cannot become a run directory.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = run_cli("run", str(tiny_study_file), "--out", str(blocker / "run"))
    assert done.returncode == 2 and "cannot write the run directory" in done.stderr
    assert "Traceback" not in done.stderr


def test_studies_and_help_list_things():
    done = run_cli("studies")
    assert done.returncode == 0 and "tutorial" in done.stdout
    done = run_cli("run", "--help")
    assert done.returncode == 0 and "--seeds" in done.stdout and "--data-dir" in done.stdout


def test_every_help_fits_80_columns(monkeypatch):
    # argparse wraps what it formats, but not the examples it prints as written: a command in an
    # example once ran to 98 columns.
    import argparse

    from reglab import cli

    monkeypatch.setenv("COLUMNS", "80")
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in [("reglab", parser), *commands.choices.items()]:
        long = [line for line in sub.format_help().splitlines() if len(line) > 80]
        assert not long, (name, long)


def test_names_with_brackets_print_as_written(tmp_path):
    # Rich would read "[bold]" as markup; a user's names must print as they wrote them.
    study = tmp_path / "brackets.toml"
    study.write_text('[data]\ndataset = "digits"\ntrain = 200\nvalidation = 50\ntest = 50\n'
                     '[[variants]]\nname = "[bold]odd[/bold]"\nhidden = [8]\nepochs = 1\n')
    done = run_cli("run", str(study), "--out", str(tmp_path / "run"), "--no-report")
    assert done.returncode == 0, done.stderr
    assert "[bold]odd[/bold]" in done.stdout and "[bold]odd[/bold] seed 0" in done.stderr
    bad = tmp_path / "empty.toml"
    bad.write_text('name = "x"\n')
    done = run_cli("run", str(bad))
    assert "[[variants]]" in done.stderr


def _results(names: list[str], baselines: dict[str, str] | None = None) -> dict:
    def stats(mean: float) -> dict:
        return {"mean": mean, "std": 0.1168, "n": 5}

    baselines = baselines or {}
    variants = [{"name": name, "baseline": baselines.get(name, names[0] if i else None), "test_accuracy": stats(0.7827),
                 "test_loss": stats(1.0791), "diverged": False,
                 "runs": [{"epochs": 15, "seconds": 7.25 + s} for s in (-2, -1, 0, 1, 2)]}
                for i, name in enumerate(names)]
    return {"study": "tutorial", "dataset": "digits", "variants": variants,
            "splits": {"train": 817, "validation": 163, "test": 817}}


@pytest.mark.parametrize("names", [
    ["basic", "l1", "l2", "dropout", "combined", "sgd", "momentum", "rmsprop", "adam", "adam_lr"],
    ["baseline", "adam_with_a_cosine_schedule_and_warmup"],
])
def test_results_table_shows_every_name_in_80_columns(monkeypatch, names):
    # 80 columns is rich's width when the output goes to a file or a pipe. The names once came out
    # empty there: rich squeezed the one wrappable column, theirs, to nothing.
    from rich.console import Console

    from reglab import cli

    console = Console(width=80, record=True)
    monkeypatch.setattr(cli, "out", console)
    cli.print_results_table(_results(names))
    text = console.export_text()
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("─"))
    rows = [line for line in lines[rule + 1:] if line and not line.startswith((" ", "Every variant"))]
    assert [row.split()[0] for row in rows] == names  # every name whole, at the start of its row
    assert "…" not in text  # nothing cut: where the room is short, the numbers wrap
    if max(map(len, names)) < 10:  # the tutorial's names: one line a variant
        assert "78.27 ± 11.68%" in rows[0] and "1.079 ± 0.117" in rows[0]
        # seconds per run, the mean over seeds, as the report's "seconds / run" (not their sum, 36.2)
        assert "s/run" in text and rows[0].split()[-1] == "7.2"


REGULARIZATION = ["baseline", "l1", "l2", "l1_l2", "weight_decay", "dropout", "max_norm", "batch_norm",
                  "layer_norm", "augmentation", "label_smoothing", "early_stopping", "combined"]
TUTORIAL_BASELINES = {name: "sgd" for name in ("momentum", "rmsprop", "adam")} | {"sgd": "sgd", "adam_lr": "adam"}


@pytest.mark.parametrize("baselines, shown", [({}, False), (TUTORIAL_BASELINES, True)])
def test_results_table_is_one_line_a_variant_at_80_columns(monkeypatch, baselines, shown):
    # The numbers once wrapped onto a second line for every variant of the regularization study:
    # a shared baseline is now said once under the table instead of in a column of its own.
    from rich.console import Console

    from reglab import cli

    names = REGULARIZATION if not baselines else ["basic", "l1", "l2", "dropout", "combined", "sgd",
                                                  "momentum", "rmsprop", "adam", "adam_lr"]
    console = Console(width=80, record=True)
    monkeypatch.setattr(cli, "out", console)
    cli.print_results_table(_results(names, baselines))
    lines = console.export_text().splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("─"))
    header, rows = lines[rule - 1], [line for line in lines[rule + 1:] if line.strip()]
    assert ("baseline" in header.split()) == shown
    table_rows = rows[:len(names)]
    assert [row.split()[0] for row in table_rows] == names
    assert all("78.27 ± 11.68%" in row and "1.079 ± 0.117" in row for row in table_rows)  # nothing wrapped
    assert max(map(len, lines)) <= 80
    said = [line for line in rows[len(names):] if "compared with" in line]
    assert said == ([] if shown else ["Every variant is compared with the baseline 'baseline'."])


def test_progress_lines_fit_80_columns(monkeypatch):
    # At 80 columns the single progress line once cut every column alike, the times to "…".
    from types import SimpleNamespace

    from rich.console import Console, Group

    from reglab import cli

    console = Console(width=80, record=True)
    monkeypatch.setattr(cli, "err", console)
    observer = cli.ProgressObserver()
    observer.total_runs = 10
    observer.task = observer.progress.add_task("epochs", total=125, status="")
    dropout, combined = SimpleNamespace(name="dropout", epochs=15), SimpleNamespace(name="combined", epochs=15)
    observer.runs_started([(dropout, 0), (combined, 0)])
    for epoch in range(3):
        observer.epoch_finished(combined, SimpleNamespace(epoch=epoch, train_loss=0.5, val_loss=0.4, val_accuracy=0.876))
    console.print(Group(*observer.progress.get_renderables()))
    bar, metrics = console.export_text().splitlines()
    assert bar.startswith("[0/10] dropout s0, combined s0") and "…" not in bar
    assert re.search(r" 3/125 0:00:0\d [-0-9]:[-0-9]{2}:[-0-9]{2}$", bar)  # elapsed and remaining, whole
    assert metrics.strip() == "combined epoch 3/15  loss 0.500  val_loss 0.400  val_acc 0.876"
    observer.runs_started([(SimpleNamespace(name=f"v{i}", epochs=15), 0) for i in range(48)])  # a GPU stack
    console.print(Group(*observer.progress.get_renderables()))
    assert console.export_text().startswith("[0/10] 50 runs: dropout s0, …")


def test_techniques_json_lists_every_family():
    done = run_cli("techniques", "--format", "json")
    listing = json.loads(done.stdout)
    families = {t["family"] for t in listing}
    assert families >= {"optimizer", "schedule", "penalty", "constraint", "layer", "loss", "augmentation", "training"}
    dropout = next(t for t in listing if t["name"] == "dropout")
    assert dropout["parameters"][0] == {"name": "rate", "type": "rate", "default": 0.5, "min": 0.0,
                                        "less_than": 1.0, "doc": dropout["parameters"][0]["doc"]}
    assert "ドロップアウト" in dropout["summary"]["ja"]
    assert run_cli("techniques", "--lang", "ja").returncode == 0


def test_summary_counts_parameters_like_keras():
    done = run_cli("summary", "tutorial")
    assert done.returncode == 0
    # Keras's model.summary() for the tutorial's basic model: 401,920 + 131,328 + 32,896 + 8,256 + 650.
    assert "Total params: 575,050" in done.stdout
    # ... and for the optimizer models (784-256-128-10): 200,960 + 32,896 + 1,290.
    assert "Total params: 235,146" in done.stdout


def test_the_suggested_command_is_never_broken_across_lines(monkeypatch, tmp_path):
    from rich.console import Console

    from reglab import cli, lab

    console = Console(width=80, record=True)
    monkeypatch.setattr(cli, "err", console)
    monkeypatch.setattr(cli, "print_results_table", lambda results: None)
    monkeypatch.setattr(lab, "results", lambda run_dir: {})
    run_dir = tmp_path / "runs" / "regularization-20261130-050011"
    cli._Printer().study_finished(run_dir)
    lines = console.export_text().splitlines()
    assert f"  reglab results {run_dir} --format json" in lines  # whole, on one line
