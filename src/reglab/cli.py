"""The command line: parses, validates through the library, calls it, prints. No logic of its own.

Human output (progress, notices, tables) goes to stderr or a terminal; machine output
(`results --format json|csv`) goes to stdout alone, so it can be piped.
"""

from __future__ import annotations

import argparse
import csv
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Column, Table
from rich.text import Text

from reglab import __version__
from reglab.errors import ReglabError

out = Console()
err = Console(stderr=True)

EPILOG = """examples:
  reglab run                              the tutorial's ten models on the default dataset
  reglab run tutorial --seeds 5           five seeds of each, for intervals
  reglab run my-study.toml --device cuda  your own study (TOML), on the GPU
  reglab results runs/tutorial-20261122-101500 --format json
  reglab data fetch mnist                 download MNIST once into the cache
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reglab",
        description="Train studies (variants x seeds) that show what regularization and optimization do "
                    "to a neural network, store every run, and summarise the results.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reglab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="train a study and store every run",
                              description="Train every variant of a study for every seed, store each run, "
                                          "and print a table of test results (mean +- std over seeds).")
    run.add_argument("study", nargs="?", default="tutorial",
                     help="a built-in study name (see `reglab studies`) or a path to a .toml file (default: tutorial)")
    run.add_argument("--dataset", help="override the study's dataset: auto, mnist, fashion-mnist, kmnist, digits")
    run.add_argument("--data-dir", type=Path, help="a folder with the dataset's IDX files (gz or raw) you already have")
    run.add_argument("--seeds", type=_positive, metavar="N", help="run seeds 0..N-1 instead of the study's seeds")
    run.add_argument("--epochs", type=_positive, metavar="N", help="train every variant for N epochs")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                     help="where to train (default auto: the GPU when there is one)")
    run.add_argument("--out", type=Path, metavar="DIR",
                     help="the run directory (default: ./runs/STUDY-TIME); an existing one of the same study is "
                          "resumed: finished runs are kept, interrupted ones continue from their last checkpoint")
    run.add_argument("--checkpoint-seconds", type=_seconds, default=30.0, metavar="S",
                     help="save a run in progress at most every S seconds, at epoch ends (default 30; "
                          "Ctrl-C always saves)")
    run.add_argument("--engine", choices=("auto", "reference", "fast"), default="auto",
                     help="how runs are trained: reference (the plain loop, one run at a time), fast (runs of one "
                          "architecture stacked into one program), auto (the faster for the device; default)")
    run.add_argument("--offline", action="store_true", help="never download; use cached or local data only")
    run.add_argument("--no-report", action="store_true", help="do not write the report (RUN_DIR/report) at the end")
    run.add_argument("--lang", choices=("en", "ja"), default=None,
                     help="language of the report (default: ja when the locale is Japanese, else en)")
    run.set_defaults(handler=cmd_run)

    resume = commands.add_parser("resume", help="finish an interrupted run directory",
                                 description="Continue a study where it stopped: finished runs are kept, interrupted "
                                             "ones continue from their last epoch checkpoint, and the results equal "
                                             "those of an uninterrupted run.")
    resume.add_argument("run_dir", type=Path, help="a directory made by `reglab run`")
    resume.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None, help="default: as before")
    resume.add_argument("--engine", choices=("auto", "reference", "fast"), default=None, help="default: as before")
    resume.add_argument("--checkpoint-seconds", type=_seconds, default=30.0, metavar="S",
                        help="save a run in progress at most every S seconds (default 30)")
    resume.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    resume.add_argument("--lang", choices=("en", "ja"), default=None, help="language of the report")
    resume.set_defaults(handler=cmd_resume)

    results = commands.add_parser("results", help="print the per-variant results of a stored run",
                                  description="Per-variant test results of a run directory. The JSON schema is "
                                              "documented in docs/results.md.")
    results.add_argument("run_dir", type=Path, help="a directory made by `reglab run`")
    results.add_argument("--format", choices=("table", "json", "csv"), default="table")
    results.set_defaults(handler=cmd_results)

    report = commands.add_parser("report", help="write the report of a stored run: report.html, figures, findings.json",
                                 description="Learning curves, overfitting onsets, paired comparisons with the "
                                             "baseline, errors and weights, in plain words. One self-contained "
                                             "report.html (opens offline), the figures as PNG files and "
                                             "findings.json. See docs/report.md.")
    report.add_argument("run_dir", type=Path, help="a directory made by `reglab run`")
    report.add_argument("--lang", choices=("en", "ja"), default=None,
                        help="language (default: ja when the locale is Japanese, else en)")
    report.add_argument("--out", type=Path, metavar="DIR", help="where to write it (default: RUN_DIR/report)")
    report.set_defaults(handler=cmd_report)

    watch = commands.add_parser("watch", help="serve the live page of a run directory: its curves grow as it trains",
                                description="Serve a page (on 127.0.0.1) with every variant's learning curves, "
                                            "the band over seeds, each run's state and the learning rate, updated "
                                            "as the run directory is written: a study training in another "
                                            "process, an interrupted one or a finished one. Ctrl-C stops it.")
    watch.add_argument("run_dir", type=Path, help="a directory made by `reglab run`")
    _add_live_arguments(watch)
    watch.set_defaults(handler=cmd_watch)

    export = commands.add_parser("export", help="export the runs to TensorBoard, MLflow or CSV",
                                 description="Write the finished runs of a run directory for other tools: "
                                             "TensorBoard event files (one run per variant and seed), an MLflow "
                                             "experiment (SQLite by default), or CSV tables. Exporting again "
                                             "adds what finished since and duplicates nothing.",
                                 epilog="examples:\n  reglab export runs/tutorial-20261122-101500 --to tensorboard tb "
                                        "&& tensorboard --logdir tb\n  reglab export RUN_DIR --to mlflow "
                                        "&& mlflow ui --backend-store-uri sqlite:///mlflow.db\n  reglab export RUN_DIR "
                                        "--to csv tables",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("run_dir", type=Path, help="a directory made by `reglab run`")
    export.add_argument("--to", required=True, choices=("tensorboard", "mlflow", "csv"), help="the target")
    export.add_argument("out", type=Path, nargs="?", metavar="DIR",
                        help="where to write (tensorboard, csv: required; mlflow: a folder for mlflow.db, "
                             "default the current one)")
    export.add_argument("--tracking-uri", metavar="URI",
                        help="mlflow: the tracking store (default: sqlite:///mlflow.db in DIR or the current folder)")
    export.set_defaults(handler=cmd_export)

    studies = commands.add_parser("studies", help="list the built-in studies")
    studies.set_defaults(handler=cmd_studies)

    techniques = commands.add_parser("techniques", help="list every technique a study can use, by family",
                                     description="Every registered technique with a one-line description; "
                                                 "--format json adds parameters, defaults and ranges.")
    techniques.add_argument("--format", choices=("table", "json"), default="table")
    techniques.add_argument("--lang", choices=("en", "ja"), default="en", help="language of the descriptions")
    techniques.set_defaults(handler=cmd_techniques)

    summary = commands.add_parser("summary", help="print each variant's model, like Keras's model.summary()",
                                  description="Layers, output shapes and parameter counts of each variant of a study.")
    summary.add_argument("study", nargs="?", default="tutorial", help="a built-in study name or a .toml path")
    summary.add_argument("--input-dim", type=_positive, default=None,
                         help="inputs per example (default: 64 for digits, else 784 for 28x28 images)")
    summary.set_defaults(handler=cmd_summary)

    data = commands.add_parser("data", help="list or download datasets")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    data_list = data_commands.add_parser("list", help="datasets and where each is available")
    data_list.set_defaults(handler=cmd_data_list)
    fetch = data_commands.add_parser("fetch", help="download a dataset into the cache and verify it")
    fetch.add_argument("name", help="mnist, fashion-mnist or kmnist")
    fetch.set_defaults(handler=cmd_data_fetch)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except ReglabError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("\ninterrupted.")
        return 130


def _add_live_arguments(parser: argparse.ArgumentParser, flag: bool = False) -> None:
    live = parser.add_argument_group("live page")
    if flag:
        live.add_argument("--live", action="store_true",
                          help="serve a live page of the study while it trains (curves grow epoch by epoch)")
    live.add_argument("--port", type=_port, default=0, help="the page's port (default: a free one)")
    live.add_argument("--host", default="127.0.0.1",
                      help="the address to serve on (default 127.0.0.1: this machine only)")
    live.add_argument("--no-browser", action="store_true", help="do not open a browser")
    if not flag:
        live.add_argument("--lang", choices=("en", "ja"), default=None,
                          help="language of the page (default: ja when the locale is Japanese, else en)")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535 (0: a free one), got {value}")
    return value


def _say(line: str) -> None:
    err.print(line, highlight=False, markup=False, soft_wrap=True)


def cmd_watch(args: argparse.Namespace) -> int:
    from reglab.live import watch
    from reglab.report.i18n import default_lang

    watch(args.run_dir, host=args.host, port=args.port, lang=args.lang or default_lang(),
          browser=not args.no_browser, say=_say)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from reglab.export import export

    where = export(args.run_dir, args.to, args.out, tracking_uri=args.tracking_uri, say=_say)
    _say(f"Exported to {args.to}: {where}")
    return 0


# ---------------------------------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace) -> int:
    from reglab.config import load_study
    from reglab.engine.study import StudyOptions
    from reglab.store import RunStore

    overrides: dict[str, Any] = {}
    if args.seeds:
        overrides["seeds"] = args.seeds
    if args.epochs:
        overrides["epochs"] = args.epochs
    if args.dataset:
        overrides["dataset"] = args.dataset
    study = load_study(args.study, overrides)
    source = Path(study.source) if study.source and Path(study.source).is_file() else None
    options = StudyOptions(
        out=args.out or RunStore.default_path(study.name), data_dir=args.data_dir, device=args.device,
        allow_download=not args.offline, engine=args.engine, checkpoint_seconds=args.checkpoint_seconds,
        source_text=source.read_text(encoding="utf-8") if source else "",
    )
    return _train(study, options, args)


def cmd_resume(args: argparse.Namespace) -> int:
    from reglab.config import study_from_dict
    from reglab.engine.study import StudyOptions
    from reglab.store import RunStore

    store = RunStore.open(args.run_dir)
    stored = store.read_json("study.json")
    if stored is None:
        raise ReglabError(f"{args.run_dir / 'study.json'} is missing or damaged: this run cannot be resumed. "
                          "Fix: run the study again with a new --out.")
    study = study_from_dict(stored, str(args.run_dir / "study.json"))
    before = store.read_json("options.json") or {}
    options = StudyOptions(
        out=args.run_dir, data_dir=Path(before["data_dir"]) if before.get("data_dir") else None,
        device=args.device or before.get("device", "auto"), engine=args.engine or before.get("engine", "auto"),
        allow_download=before.get("allow_download", True), checkpoint_seconds=args.checkpoint_seconds,
    )
    return _train(study, options, args)


def _train(study, options, args: argparse.Namespace) -> int:
    """Train (or finish) a study with a progress bar; Ctrl-C stops it at the next epoch end."""
    from reglab.analysis.summary import study_results
    from reglab.engine.scheduler import Interrupted
    from reglab.engine.study import run_study

    observer = ProgressObserver()
    stopping = threading.Event()

    def on_interrupt(signum, frame):
        if stopping.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, from the last checkpoints
        stopping.set()
        err.print("\nstopping at the end of the current epoch (Ctrl-C again to stop at once) ...")

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        store = run_study(study, options, observer, cancel=stopping)
    except (Interrupted, KeyboardInterrupt):
        observer.close()  # before the message, so that it prints below the finished bar
        err.print(f"interrupted: finished runs and checkpoints are kept in {options.out}. "
                  f"Resume with: reglab resume {options.out}", highlight=False, markup=False, soft_wrap=True)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
        observer.close()
    print_results_table(study_results(store))
    err.print(f"Run directory: [bold]{escape(str(store.root))}[/]  (reglab results {escape(str(store.root))} --format json)",
              highlight=False)
    if not args.no_report:
        _write_report(store.root, None, args.lang)
    return 0


class _StudyProgress(Progress):
    """The bar on one line and the latest epoch's metrics on the next: at 80 columns one line held
    neither (rich cut every column alike, the times to "…")."""

    def get_renderables(self):
        yield self.make_tasks_table(self.tasks)
        for task in self.tasks:
            yield Text(task.fields["status"], no_wrap=True, overflow="ellipsis")


class ProgressObserver:
    """A progress bar over all epochs of the study, with the current runs and their live metrics."""

    def __init__(self) -> None:
        self.progress = _StudyProgress(
            TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis", max_width=48)),
            BarColumn(bar_width=None), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
            console=err, disable=not err.is_terminal, transient=True, expand=True,
        )
        self.task = None
        self.total_runs = 0
        self.training: dict[tuple[str, int], int] = {}  # runs in progress -> their planned epochs
        self.finished = 0

    def notice(self, message: str) -> None:
        err.print(f"[yellow]note:[/] {escape(message)}", highlight=False)

    def study_started(self, total_runs: int, total_epochs: int) -> None:
        self.total_runs = total_runs
        self.progress.start()
        self.task = self.progress.add_task("epochs", total=total_epochs, status="")

    def runs_started(self, runs) -> None:
        for variant, seed in runs:
            self.training[(variant.name, seed)] = variant.epochs
        self._describe()

    def _describe(self) -> None:
        names = [f"{name} s{seed}" for name, seed in self.training]
        if len(names) > 2:  # a GPU stack trains dozens at once
            names = [f"{len(names)} runs: {names[0]}", "…"]
        self.progress.update(self.task, description=escape(f"[{self.finished}/{self.total_runs}] {', '.join(names)}"))

    def epoch_finished(self, variant, record) -> None:
        self.progress.update(self.task, advance=1, status=(  # plain text: rendered without markup
            f"  {variant.name} epoch {record.epoch + 1}/{variant.epochs}  loss {record.train_loss:.3f}  "
            f"val_loss {record.val_loss:.3f}  val_acc {record.val_accuracy:.3f}"))

    def run_finished(self, record) -> None:
        self.finished += 1
        if record.status == "completed":
            outcome = f"test accuracy {record.test_accuracy:.4f}"
        else:
            outcome = f"[red]diverged at epoch {record.diverged_at}[/]"
        label = escape(f"[{self.finished}/{self.total_runs}] {record.variant} seed {record.seed}")
        self.progress.console.print(f"{label}: {outcome}  ({record.seconds:.1f} s)", highlight=False)
        # The bar counts planned epochs: a run that stopped early still uses up its share.
        planned = self.training.pop((record.variant, record.seed), len(record.history))
        self.progress.update(self.task, advance=planned - len(record.history))
        self._describe()

    def close(self) -> None:
        self.progress.stop()


# ------------------------------------------------------------------------------------ results


def cmd_results(args: argparse.Namespace) -> int:
    from reglab.analysis.summary import study_results
    from reglab.store import RunStore

    results = study_results(RunStore.open(args.run_dir))
    if args.format == "json":
        sys.stdout.write(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["variant", "seed", "status", "test_accuracy", "test_loss", "epochs", "seconds"])
        for variant in results["variants"]:
            for run in variant["runs"]:
                writer.writerow([variant["name"], run["seed"], run["status"], run["test_accuracy"],
                                 run["test_loss"], run["epochs"], f"{run['seconds']:.2f}"])
    else:
        print_results_table(results)
    for line in results["damaged"]:
        err.print(f"[yellow]damaged run record skipped:[/] {escape(line)}", highlight=False)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    _write_report(args.run_dir, args.out, args.lang)
    return 0


def _write_report(run_dir: Path, out_dir: Path | None, lang: str | None) -> None:
    from reglab.report import default_lang, write_report

    def missing(line: str) -> None:
        err.print(f"[yellow]missing:[/] {escape(line)}", highlight=False)

    path = write_report(run_dir, out_dir, lang or default_lang(), notify=missing)
    err.print(f"Report: [bold]{escape(str(path))}[/]", highlight=False)


def print_results_table(results: dict[str, Any]) -> None:
    splits = results.get("splits") or {}
    title = f"{results['study']} on {results['dataset']}"
    if splits:
        title += f" ({splits['train']} train / {splits['validation']} val / {splits['test']} test)"
    # Fits 80 columns, rich's width when the output goes to a file or a pipe: without column rules,
    # the tutorial's table is 79 wide. The names are what a reader looks for, so they are never cut
    # (rich used to squeeze them to nothing at 80); where long names or a narrow terminal leave too
    # little room, the numbers wrap (at their ±, else anywhere) rather than being cut.
    table = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    names = [v["name"] for v in results["variants"]]
    baselines = [v.get("baseline") or "-" for v in results["variants"]]
    table.add_column("variant", no_wrap=True, min_width=max(map(len, [*names, "variant"])))
    table.add_column("baseline", no_wrap=True, min_width=max(map(len, [*baselines, "baseline"])))
    for column in ("test accuracy", "test loss", "seeds", "epochs", "seconds"):
        table.add_column(column, justify="right", overflow="fold")
    for variant in results["variants"]:
        runs = variant["runs"]
        seeds = f"{variant['test_accuracy']['n']}/{len(runs)}" if variant["diverged"] else str(len(runs))
        add_row(
            table, variant["name"], variant.get("baseline") or "-",
            _mean_std(variant["test_accuracy"], percent=True), _mean_std(variant["test_loss"]),
            seeds, ",".join(sorted({str(r["epochs"]) for r in runs})) or "-",
            f"{sum(r['seconds'] for r in runs):.1f}",
        )
    out.print(table)
    if any(v["test_accuracy"]["n"] == 1 for v in results["variants"]):
        out.print("One seed per variant: differences between variants are not evidence yet. "
                  "Use --seeds 5 or more for intervals.", style="dim")


def _mean_std(stats: dict[str, Any], percent: bool = False) -> str:
    if stats["mean"] is None:
        return "-"
    scale, digits = (100, 2) if percent else (1, 3)
    text = f"{stats['mean'] * scale:.{digits}f}"
    if stats["std"] is not None:
        text += f" ± {stats['std'] * scale:.{digits}f}"
    return text + ("%" if percent else "")


# ------------------------------------------------------------------------------------ studies, data


def cmd_studies(args: argparse.Namespace) -> int:
    from reglab.config import builtin_studies, load_study

    table = Table(title="Built-in studies (reglab run NAME)", title_justify="left")
    for column in ("name", "variants", "seeds", "description"):
        table.add_column(column)
    for name in sorted(builtin_studies()):
        study = load_study(name)
        add_row(table, name, str(len(study.variants)), str(len(study.seeds)), study.description)
    out.print(table)
    return 0


def cmd_techniques(args: argparse.Namespace) -> int:
    from reglab.techniques import registry

    families = registry.families()
    if args.format == "json":
        listing = [
            {"name": t.name, "family": family, "key": family if family in registry.CHOICE_FAMILIES else t.name,
             "summary": {"en": t.summary_en, "ja": t.summary_ja},
             "parameters": [p.as_json() for p in t.params],
             "keras_defaults": dict(t.keras_defaults)}
            for family, members in families.items() for t in members.values()
        ]
        sys.stdout.write(json.dumps(listing, indent=2, ensure_ascii=False) + "\n")
        return 0
    table = Table(title="Techniques", title_justify="left")
    for column in ("family", "name", "description"):
        table.add_column(column, no_wrap=column != "description")
    for family, members in families.items():
        for t in members.values():
            add_row(table, family, t.name, t.summary_ja if args.lang == "ja" else t.summary_en)
    out.print(table)
    out.print(f"In a study: {', '.join(registry.CHOICE_FAMILIES)} name one member "
              '(optimizer = { name = "adam", lr = 0.001 }); every other technique is its own key '
              "(l2 = 0.001, dropout = [0.3, 0.2], early_stopping = { patience = 5 }).", markup=False)
    out.print("Parameters, defaults and ranges: reglab techniques --format json", style="dim")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from reglab.config import load_study
    from reglab.models import build_mlp, summarize
    from reglab.engine.seeding import generator

    study = load_study(args.study)
    input_dim = args.input_dim or (64 if study.data.dataset == "digits" else 784)
    for variant in study.variants:
        model = build_mlp(variant, input_dim, 10, generator(0, "init"))
        rows = summarize(model, input_dim)
        table = Table(title=escape(f'Model: "{variant.name}"  ({input_dim} inputs)'), title_justify="left")
        for column, justify in (("Layer (type)", "left"), ("Output Shape", "left"), ("Param #", "right")):
            table.add_column(column, justify=justify)
        for row in rows:
            add_row(table, row.layer, row.output_shape, f"{row.params:,}")
        out.print(table)
        total, trainable = sum(r.params for r in rows), sum(r.trainable for r in rows)
        out.print(f" Total params: {total:,}\n Trainable params: {trainable:,}\n"
                  f" Non-trainable params: {total - trainable:,}\n", highlight=False)
    return 0


def cmd_data_list(args: argparse.Namespace) -> int:
    from reglab.data import list_datasets

    table = Table(title="Datasets (reglab run --dataset NAME)", title_justify="left")
    for column in ("name", "available", "description"):
        table.add_column(column)
    for info in list_datasets():
        add_row(table, info.name, info.availability, info.description)
    out.print(table)
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from reglab.data import fetch

    paths = fetch(args.name, progress=err.is_terminal)
    for path in paths:
        err.print(f"verified: {path}", highlight=False, markup=False)
    return 0


def add_row(table: Table, *cells: str) -> None:
    # Names and descriptions come from users' studies: "[bold]" in them is text, not markup.
    table.add_row(*(escape(str(cell)) for cell in cells))


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
