"""The command line: parses, validates through the library, calls it, prints. No logic of its own.

Human output (progress, notices, tables) goes to stderr or a terminal; machine output
(`results --format json|csv`) goes to stdout alone, so it can be piped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from reglab import __version__
from reglab.errors import ReglabError
from reglab.progress.terminal import TerminalProgress

out = Console()
err = Console(stderr=True)

EPILOG = """examples:
  reglab run                          the tutorial's ten models, default dataset
  reglab run tutorial --seeds 5       five seeds of each, for intervals
  reglab run my-study.toml --device cuda
                                      your own study (TOML), on the GPU
  reglab run l2-strength              which L2 strength? a sweep, recommended
                                      on validation data (one-SE rule)
  reglab results runs/tutorial-20261122-101500 --format json
  reglab data fetch mnist             download MNIST once into the cache
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reglab",
        description="Train studies (variants x seeds) that show what regularization and optimization\n"
                    "do to a neural network, store every run, and summarise the results.",  # raw: 80 columns
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reglab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="train a study and store every run",
                              description="Train every variant of a study for every seed, store each run, "
                                          "and print a table of test results (mean +- std over seeds).")
    run.add_argument("study", nargs="?", default="tutorial",
                     help="a built-in study name (see `reglab studies`) or a path to a .toml file (default: tutorial)")
    run.add_argument("--dataset", help="override the study's dataset: auto, mnist, fashion-mnist, kmnist, digits, "
                     "breast_cancer, wine, iris (see `reglab data list`)")
    run.add_argument("--data-dir", type=Path, help="a folder with the dataset's IDX files (gz or raw) you already have")
    run.add_argument("--data", metavar="PATH", help="your own data instead of the study's: a .csv or .parquet table "
                     "(with --target), a .npz or .npy file, or a folder with one sub-folder of images per class "
                     "(docs/data.md)")
    run.add_argument("--target", metavar="COLUMN", help="the table's column that holds each row's class")
    run.add_argument("--missing", choices=("error", "impute"),
                     help="missing table values: error (refuse, the default) or impute (the training rows' median "
                          "and a 0/1 missing input; a category of its own)")
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
    run.add_argument("--backend", choices=("local", "ray"), default="local",
                     help="where the runs train: local (this machine's cores or GPU; default) or ray (a Ray "
                          "cluster's nodes; pip install 'reglab[ray]'; see docs/cluster.md)")
    run.add_argument("--address", metavar="HOST:PORT|auto",
                     help="with --backend ray: the cluster's head (default auto: the cluster this machine is in)")
    run.add_argument("--offline", action="store_true", help="never download; use cached or local data only")
    run.add_argument("--no-report", action="store_true", help="do not write the report (RUN_DIR/report) at the end")
    run.add_argument("--lang", choices=("en", "ja"), default=None,
                     help="language of the report (default: ja when the locale is Japanese, else en)")
    sweep = run.add_argument_group("sweeps", "sweep a setting of the study's baseline (or --sweep-base) instead of "
                                             "running its variants; two --sweep flags make a grid")
    sweep.add_argument("--sweep", action="append", metavar="SETTING=RANGE",
                       help="a range LOW:HIGH:log|linear:POINTS (l2=1e-6:1e-1:log:11, batch_size=16:256:log:5 gives "
                            "integers) or a list V1,V2,... (dropout.rate=0,0.2,0.5; optimizer.lr=1e-3,1e-2)")
    sweep.add_argument("--sweep-random", type=_positive, metavar="N",
                       help="draw N random points from the ranges instead of the full grid (log-uniform on log)")
    sweep.add_argument("--sweep-seed", type=int, metavar="S", help="the seed of the random draws (default 0)")
    sweep.add_argument("--sweep-base", metavar="VARIANT", help="the variant whose other settings the points keep "
                                                               "(default: the study's [defaults])")
    sweep.add_argument("--choose", choices=("val_loss", "val_accuracy"), default=None,
                       help="the validation metric the one-standard-error rule recommends a point on "
                            "(default val_loss); the report also says when the other metric disagrees")
    run.add_argument("--max-runs", type=_positive, metavar="N",
                     help="refuse a study of more than N runs (default 2000, or the study's max_runs)")
    _add_live_arguments(run, flag=True)
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
    resume.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="where the runs train now: local (default) or ray (a Ray cluster; see docs/cluster.md)")
    resume.add_argument("--address", metavar="HOST:PORT|auto",
                        help="with --backend ray: the cluster's head (default auto: the cluster this machine is in)")
    resume.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    resume.add_argument("--lang", choices=("en", "ja"), default=None, help="language of the report")
    _add_live_arguments(resume, flag=True)
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

    export = commands.add_parser("export", help="export the runs to TensorBoard, MLflow or CSV, or the trained "
                                                "networks as safetensors or ONNX",
                                 description="Write the finished runs of a run directory for other tools:\n"
                                             "TensorBoard event files (one run per variant and seed), an MLflow\n"
                                             "experiment (SQLite by default), or CSV tables. Exporting again adds\n"
                                             "what finished since and duplicates nothing.\n"
                                             "--to model writes each trained network as files plain PyTorch loads\n"
                                             "(model.safetensors + model.json, docs/models.md); --to onnx adds\n"
                                             "model.onnx, checked with onnxruntime against PyTorch.",
                                 epilog="examples:\n"
                                        "  reglab export runs/tutorial-20261122-101500 --to tensorboard tb\n"
                                        "  tensorboard --logdir tb\n"
                                        "  reglab export RUN_DIR --to mlflow\n"
                                        "  mlflow ui --backend-store-uri sqlite:///mlflow.db\n"
                                        "  reglab export RUN_DIR --to csv tables\n"
                                        "  reglab export RUN_DIR --to model models --variant l2 --seed 0",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("run_dir", type=Path, help="a directory made by `reglab run`")
    export.add_argument("--to", required=True, nargs="+", metavar=("TARGET", "DIR"),
                        help="tensorboard DIR, csv DIR, model DIR, onnx DIR, or mlflow [DIR] (DIR: the folder of "
                             "mlflow.db, default the current one)")
    export.add_argument("--tracking-uri", metavar="URI",
                        help="mlflow: the tracking store (default: sqlite:///mlflow.db in DIR or the current folder)")
    export.add_argument("--variant", action="append", metavar="V",
                        help="model, onnx: the variant whose networks to write (repeat it; default: every variant)")
    export.add_argument("--seed", action="append", type=int, metavar="S",
                        help="model, onnx: the seeds whose networks to write (repeat it; default: every finished one)")
    export.set_defaults(handler=cmd_export)

    predict = commands.add_parser(
        "predict", help="classify new inputs with a trained run: a CSV, a NumPy file or a folder of images",
        description="Rebuild a run's trained network from the run directory, prepare the\n"
                    "inputs as its training data were prepared (the stored preprocessing), and\n"
                    "write one row per input: the predicted class, its name and a probability\n"
                    "per class (p_NAME).",
        epilog="examples:\n"
               "  reglab predict RUN_DIR --variant l2 new.npy --out preds.csv\n"
               "  reglab predict RUN_DIR --variant l2 --seed all images/ --out preds.csv\n"
               "                      an ensemble: the mean of every seed's probabilities\n"
               "inputs: a CSV (one row of pixel values per example), .npy or .npz (images\n"
               "N x H x W or rows of H*W values, as the dataset has them: 0..255, digits\n"
               "0..16), or a folder of images (8-bit grey; needs Pillow:\n"
               "pip install 'reglab[images]').",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    predict.add_argument("run_dir", type=Path, help="a directory made by `reglab run`")
    predict.add_argument("inputs", type=Path, metavar="INPUT", help="a .csv, .npy or .npz file, or a folder of images")
    predict.add_argument("--variant", required=True, help="the variant whose trained network predicts")
    predict.add_argument("--seed", action="append", metavar="S",
                         help="the run's seed (default 0); repeat it, or give `all`, for an ensemble that averages "
                              "the runs' probabilities")
    predict.add_argument("--out", type=Path, required=True, metavar="CSV", help="where to write the predictions")
    predict.set_defaults(handler=cmd_predict)

    explain = commands.add_parser(
        "explain", help="attribution maps of every run: what the networks look at, and whether a "
                        "technique changes it",
        description="Compute attribution maps (Captum: pip install 'reglab[explain]') of every\n"
                    "finished run for the same test images, store them in the run directory\n"
                    "(computed once; a second call reuses them), check them (randomization\n"
                    "and deletion tests) and compare them across techniques and seeds:\n"
                    "explanations.json, and the report's section \"What the networks look at\".",
        epilog="examples:\n"
               "  reglab explain RUN_DIR                       saliency, 100 test images\n"
               "  reglab explain RUN_DIR --method saliency --method integrated_gradients\n"
               "methods: saliency, integrated_gradients, smoothgrad, occlusion",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    explain.add_argument("run_dir", type=Path, help="a directory made by `reglab run`")
    explain.add_argument("--method", action="append", metavar="M",
                         help="an attribution method (repeat it; default: saliency)")
    explain.add_argument("--images", type=int, metavar="N", help="test images explained per run (default 100)")
    explain.add_argument("--no-sanity", action="store_true", help="skip the randomization and deletion tests")
    explain.add_argument("--no-report", action="store_true", help="do not write the report again")
    explain.add_argument("--lang", choices=["en", "ja"], help="the report's language (default: from the locale)")
    explain.add_argument("--format", choices=["text", "json"], default="text",
                         help="json: print explanations.json to stdout")
    explain.set_defaults(handler=cmd_explain)

    studies = commands.add_parser("studies", help="list the built-in studies")
    studies.set_defaults(handler=cmd_studies)

    lr_find = commands.add_parser(
        "lr-find", help="the learning-rate range test of a study's variant (Smith 2015, fastai's lr_find)",
        description="Grows the learning rate exponentially over mini-batches of the training split, on a copy "
                    "of the variant's model, records the smoothed loss until it diverges, and suggests rates by "
                    "three named rules (steepest, minimum/10, valley). Seeded; writes lr_find.png and "
                    "lr_find.json into --out (default ./runs/lr-find-STUDY), a folder of its own: no study's "
                    "run directory is read or changed.")
    lr_find.add_argument("study", nargs="?", default="tutorial", help="a built-in study name or a .toml path")
    lr_find.add_argument("--variant", help="the variant to test (default: the study's first)")
    lr_find.add_argument("--dataset", help="override the study's dataset")
    lr_find.add_argument("--data-dir", type=Path, help="a folder with the dataset's IDX files")
    lr_find.add_argument("--seed", type=int, default=0, help="initial weights and batch order (default 0)")
    lr_find.add_argument("--start", type=float, default=1e-7, help="the first rate (default 1e-7)")
    lr_find.add_argument("--end", type=float, default=10.0, help="the last rate (default 10)")
    lr_find.add_argument("--steps", type=_positive, default=100, help="mini-batches (default 100)")
    lr_find.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    lr_find.add_argument("--offline", action="store_true", help="never download")
    lr_find.add_argument("--out", type=Path, metavar="DIR", help="where to write (default ./runs/lr-find-STUDY)")
    lr_find.add_argument("--lang", choices=("en", "ja"), default=None, help="language of the figure "
                         "(default from the locale); the other language is written too")
    lr_find.set_defaults(handler=cmd_lr_find)

    techniques = commands.add_parser("techniques", help="list every technique a study can use, by family",
                                     description="Every registered technique with a one-line description; "
                                                 "--format json adds parameters, defaults and ranges.")
    techniques.add_argument("--format", choices=("table", "json"), default="table")
    techniques.add_argument("--lang", choices=("en", "ja"), default="en", help="language of the descriptions")
    techniques.set_defaults(handler=cmd_techniques)

    summary = commands.add_parser("summary", help="print each variant's model, like Keras's model.summary()",
                                  description="Layers, output shapes and parameter counts of each variant of a study.")
    summary.add_argument("study", nargs="?", default="tutorial", help="a built-in study name or a .toml path")
    summary.add_argument("--dataset", default=None, help="the dataset a run would use instead of the study's")
    summary.add_argument("--offline", action="store_true", help="as a run with --offline: auto is digits unless "
                         "MNIST is cached")
    summary.add_argument("--input-dim", type=_positive, default=None,
                         help="inputs per example (default: the dataset's: 64 for digits, 784 for 28x28 images)")
    summary.set_defaults(handler=cmd_summary)

    data = commands.add_parser("data", help="list or download datasets")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    data_list = data_commands.add_parser("list", help="datasets and where each is available")
    data_list.set_defaults(handler=cmd_data_list)
    fetch = data_commands.add_parser("fetch", help="download a dataset into the cache and verify it")
    fetch.add_argument("name", help="mnist, fashion-mnist or kmnist (auto: mnist; digits is embedded)")
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


def entry() -> None:
    """The `reglab` command (and `python -m reglab`). SIGTERM is Ctrl-C throughout (training
    handles both at epoch ends; elsewhere both end the command with exit 130), and once main()
    has returned neither is listened to: everything is saved by then, and a signal that landed
    while the interpreter shut down (joining worker processes) ended the command by the signal."""
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        code = main()
    except KeyboardInterrupt:  # a second signal while main() was saying that the first stopped it
        code = 130
    finally:
        for stop in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop, signal.SIG_IGN)
    if code == 130:
        # CPython ends the process by SIGINT at exit (status -2) once a KeyboardInterrupt has
        # escaped code it ran through its C API, even one caught since (an interrupt during
        # `import torch` does that). Everything is saved by now: leave with the status chosen.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)


def _terminate_as_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


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

    target, *rest = args.to
    if len(rest) > 1:
        raise ReglabError(f"--to takes a target and at most one folder, got {' '.join(args.to)}.")
    where = export(args.run_dir, target, Path(rest[0]) if rest else None, tracking_uri=args.tracking_uri,
                   variants=args.variant, seeds=args.seed, say=_say)
    _say(f"Exported to {target}: {where}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from reglab import lab

    seeds = args.seed or ["0"]
    if seeds == ["all"]:
        seed: int | list[int] | str = "all"
    else:
        try:
            numbers = [int(s) for s in seeds]
        except ValueError:
            raise ReglabError(f"--seed {' '.join(seeds)}: give whole numbers (repeat --seed for an ensemble), or "
                              "--seed all.") from None
        seed = numbers[0] if len(numbers) == 1 else numbers
    out, rows = lab.predict(args.run_dir, args.variant, args.inputs, args.out, seed)
    _say(f"Predicted {rows} row{'s' if rows != 1 else ''} with {args.variant!r} "
         f"(seed {seed if not isinstance(seed, list) else ', '.join(map(str, seed))}): {out}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from reglab import lab

    methods = tuple(dict.fromkeys(args.method or ["saliency"]))
    explained = lab.explain(args.run_dir, methods=methods, images=args.images, sanity=not args.no_sanity,
                            report=not args.no_report, lang=args.lang, observer=_Printer())
    if args.format == "json":
        print(json.dumps(explained, indent=2, ensure_ascii=False))
        return 0
    for method, content in explained["methods"].items():
        decided = [c for c in content["changes"] if c["verdict"] != "undecided"]
        _say(f"{method}: {len(content['variants'])} variants, {len(explained['images'])} images; "
             f"{len(decided)} decided changes against the baseline")
        for c in decided:
            d = c["difference"]
            _say(f"  {c['variant']}: {c['measure']} {c['verdict']} than {c['baseline']} "
                 f"({d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}], adjusted p = {c['adjusted_p']:.2g})")
        for row in content["sanity"]:
            if row["randomization"]["verdict"] != "depends_on_model":
                _say(f"  sanity: {row['variant']}: randomization test {row['randomization']['verdict']}")
    _say(f"Stored in {Path(args.run_dir) / 'explanations.json'}")
    return 0


# ---------------------------------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace) -> int:
    from reglab import lab

    study, source_text = lab.load_study(args.study, seeds=args.seeds, epochs=args.epochs, dataset=args.dataset,
                                        data=args.data, target=args.target, missing=args.missing, sweep=args.sweep, sweep_random=args.sweep_random, sweep_seed=args.sweep_seed,
                                        sweep_base=args.sweep_base, choose=args.choose, max_runs=args.max_runs)
    options = lab.run_options(study, out=args.out, data_dir=args.data_dir, device=args.device, engine=args.engine,
                              allow_download=not args.offline, checkpoint_seconds=args.checkpoint_seconds,
                              source_text=source_text)
    live = _live_page(options.out, args)  # its port before the estimate's seconds and before any directory
    err.print(lab.plan(study).describe(), highlight=False)
    return _train(lambda observer: lab.run_study(study, options, observer, report=not args.no_report,
                                                 lang=args.lang, backend=args.backend, address=args.address,
                                                 estimate=True, started=_command_started()),
                  live)


def cmd_resume(args: argparse.Namespace) -> int:
    from reglab import lab

    return _train(lambda observer: lab.resume(args.run_dir, observer, device=args.device, engine=args.engine,
                                              checkpoint_seconds=args.checkpoint_seconds,
                                              report=not args.no_report, lang=args.lang, backend=args.backend,
                                              address=args.address, estimate=True, started=_command_started()),
                  _live_page(args.run_dir, args))


def _command_started() -> float:
    """When this command started, on time.monotonic()'s clock: the estimate counts its start-up."""
    import time

    from reglab.cost.time_estimate import process_seconds

    return time.monotonic() - process_seconds()


def _live_page(run_dir: Path, args: argparse.Namespace) -> Any:
    """With --live, the live page's observer, its port already taken (a busy one is refused here,
    before anything is written); else None."""
    if not args.live and (args.port or args.host != "127.0.0.1"):
        raise ReglabError("--port and --host are for the live page: add --live (or leave them out).")
    if not args.live:
        return None
    from reglab.live.observer import LiveObserver
    from reglab.report.i18n import default_lang

    return LiveObserver(run_dir, host=args.host, port=args.port, lang=args.lang or default_lang(),
                        browser=not args.no_browser, say=_say)


def _train(train, live: Any) -> int:
    """Train (or finish) a study with a progress bar; Ctrl-C stops it at the next epoch end.
    With --live, its live page is served from the start of training until the end."""
    from reglab.lab import StudyInterrupted
    from reglab.progress.events import Observers

    progress = ProgressObserver()
    try:
        train(Observers(progress, _Printer(), live))
    except StudyInterrupted as stopped:
        progress.close()  # before the message, so that it prints below the finished bar
        err.print(f"interrupted: finished runs and checkpoints are kept in {stopped.run_dir}. "
                  f"Resume with: reglab resume {stopped.run_dir}", highlight=False, markup=False, soft_wrap=True)
        return 130
    finally:
        progress.close()
        if live is not None:
            live.close()
    return 0


class ProgressObserver(TerminalProgress):
    """The study's progress on stderr (drawn when it is a terminal)."""

    def __init__(self) -> None:
        super().__init__(err)


class _Printer:
    """What `reglab run` and `reglab resume` print once the study is trained, and of its report."""

    def study_finished(self, run_dir: Path) -> None:
        from reglab import lab

        print_results_table(lab.results(run_dir))
        err.print(f"Run directory: [bold]{escape(str(run_dir))}[/]", highlight=False)
        # A command on a line of its own, never wrapped: at 80 columns it broke at "--format / json".
        err.print(f"  reglab results {escape(str(run_dir))} --format json", highlight=False, soft_wrap=True)

    def report_missing(self, line: str) -> None:
        err.print(f"[yellow]missing:[/] {escape(line)}", highlight=False)

    def report_written(self, path: Path) -> None:
        err.print(f"Report: [bold]{escape(str(path))}[/]", highlight=False)


# ------------------------------------------------------------------------------------ results


def cmd_results(args: argparse.Namespace) -> int:
    from reglab import lab

    results = lab.results(args.run_dir)
    if args.format == "json":
        sys.stdout.write(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        from reglab.export.csv_export import cell, distinct_columns

        writer = csv.writer(sys.stdout)
        # Swept settings are columns of their own (empty for a variant that is not a sweep's point).
        swept = list(dict.fromkeys(k for v in results["variants"] if v.get("sweep") for k in v["sweep"]["values"]))
        fixed = ["variant", "seed", "status", "test_accuracy", "test_loss", "epochs", "seconds"]
        writer.writerow(fixed + (["sweep", *distinct_columns(fixed, swept, "sweep.")] if swept else []))
        for variant in results["variants"]:
            point = variant.get("sweep") or {"name": "", "values": {}}
            for run in variant["runs"]:
                writer.writerow([cell(v) for v in [
                    variant["name"], run["seed"], run["status"], run["test_accuracy"], run["test_loss"],
                    run["epochs"], f"{run['seconds']:.2f}",
                    *([point["name"], *(point["values"].get(k, "") for k in swept)] if swept else [])]])
    else:
        print_results_table(results)
    for line in results["damaged"]:
        err.print(f"[yellow]damaged run record skipped:[/] {escape(line)}", highlight=False)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from reglab import lab

    lab.write_report(args.run_dir, args.out, args.lang, _Printer())
    return 0


def print_results_table(results: dict[str, Any]) -> None:
    splits = results.get("splits") or {}
    title = f"{results['study']} on {results['dataset']}"
    if splits:
        title += f" ({splits['train']} train / {splits['validation']} val / {splits['test']} test)"
    # Fits 80 columns, rich's width when the output goes to a file or a pipe. The names are what a
    # reader looks for, so they are never cut (rich used to squeeze them to nothing at 80); where long
    # names or a narrow terminal leave too little room, the numbers wrap (at their ±) rather than
    # being cut. The baseline column is shown only when the variants have different baselines: one
    # shared baseline is said once under the table, which keeps the regularization study (names of
    # up to 15 characters) at one line a variant.
    table = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    variants = results["variants"]
    names = [v["name"] for v in variants]
    compared = {v["baseline"] for v in variants if v.get("baseline") and v["baseline"] != v["name"]}
    one_baseline = len(compared) <= 1
    table.add_column("variant", no_wrap=True, min_width=max(map(len, [*names, "variant"])))
    if not one_baseline:
        baselines = [v.get("baseline") or "-" for v in variants]
        table.add_column("baseline", no_wrap=True, min_width=max(map(len, [*baselines, "baseline"])))
    # s/run: the mean wall-clock seconds of one run (training and validation), as the report's
    # "seconds / run" column; the sum over seeds read as a run's time and disagreed with the report.
    for column in ("test accuracy", "test loss", "seeds", "epochs", "s/run"):
        table.add_column(column, justify="right", overflow="fold")
    for variant in variants:
        runs = variant["runs"]
        seeds = f"{variant['test_accuracy']['n']}/{len(runs)}" if variant["diverged"] else str(len(runs))
        add_row(
            table, variant["name"], *([] if one_baseline else [variant.get("baseline") or "-"]),
            _mean_std(variant["test_accuracy"], percent=True), _mean_std(variant["test_loss"]),
            seeds, ",".join(sorted({str(r["epochs"]) for r in runs})) or "-",
            f"{sum(r['seconds'] for r in runs) / len(runs):.1f}" if runs else "-",
        )
    for reference in results.get("references", []):  # scikit-learn beside the networks, same splits
        runs = reference["runs"]
        add_row(table, f"({reference['short']})", *([] if one_baseline else ["-"]),
                _mean_std(reference["test_accuracy"], percent=True), _mean_std(reference["test_loss"]),
                str(len(runs)), "-", f"{sum(r['seconds'] for r in runs) / len(runs):.1f}" if runs else "-")
    out.print(table)
    if results.get("references"):
        out.print("In parentheses: " + ", ".join(r["summary"] for r in results["references"])
                  + ", trained on the same splits (docs/data.md).", style="dim", markup=False)
    if one_baseline and compared:
        out.print(f"Every variant is compared with the baseline '{escape(next(iter(compared)))}'.", style="dim")
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
    import reglab

    table = Table(title="Built-in studies (reglab run NAME)", title_justify="left")
    for column in ("name", "variants", "seeds", "description"):
        table.add_column(column)
    for name, study in reglab.studies().items():
        add_row(table, name, str(len(study.spec.variants)), str(len(study.seeds)), study.description)
    out.print(table)
    return 0


def cmd_lr_find(args: argparse.Namespace) -> int:
    import reglab
    from reglab import lab
    from reglab.lrfind import RULES, text

    study, _ = lab.load_study(args.study, dataset=args.dataset)
    result = reglab.lr_find(study, variant=args.variant, seed=args.seed, data_dir=args.data_dir,
                            offline=args.offline, device=args.device, start=args.start, end=args.end,
                            steps=args.steps, out=args.out or Path("runs") / f"lr-find-{study.name}", lang=args.lang)
    variant, paths = result.variant, result.paths
    # The heading on a line of its own, above the table: as the table's title it was wrapped to the
    # table's width (two narrow columns) and broke mid-parenthesis at 80 columns.
    out.print(f"Learning-rate range test: {variant.name} ({variant.optimizer.name}, batch {variant.batch_size}, "
              f"seed {args.seed})", highlight=False, markup=False)
    table = Table()
    table.add_column("rule")
    table.add_column("suggested rate", justify="right")
    for rule in RULES:
        if rule in result.suggestions:
            add_row(table, text("en", rule), f"{result.suggestions[rule]:.2e}")
    out.print(table)
    stop = (f"stopped at lr {result.lrs[-1]:.2e}: the smoothed loss passed 4x its minimum"
            if result.stop == "diverged" else f"reached lr {result.lrs[-1]:.2e} without diverging")
    err.print(f"{len(result.lrs)} mini-batches; {stop}. The study's rate: {variant.optimizer['lr']:g}. "
              f"{text('en', 'note')}", highlight=False, markup=False, soft_wrap=True)
    err.print(f"Figure: {paths[1]}  (data: {paths[0]})", highlight=False, markup=False)
    return 0


def cmd_techniques(args: argparse.Namespace) -> int:
    import reglab
    from reglab.techniques.registry import CHOICE_FAMILIES

    listing = reglab.techniques()
    if args.format == "json":
        sys.stdout.write(json.dumps(listing, indent=2, ensure_ascii=False) + "\n")
        return 0
    table = Table(title="Techniques", title_justify="left")
    for column in ("family", "name", "description"):
        # fold: Japanese has no spaces to wrap at, and rich would cut the line with "…"
        table.add_column(column, no_wrap=column != "description", overflow="fold")
    for technique in listing:
        add_row(table, technique["family"], technique["name"], technique["summary"][args.lang])
    out.print(table)
    out.print(f"In a study: {', '.join(CHOICE_FAMILIES)} name one member "
              '(optimizer = { name = "adam", lr = 0.001 }); every other technique is its own key '
              "(l2 = 0.001, dropout = [0.3, 0.2], early_stopping = { patience = 5 }).", markup=False)
    out.print("Parameters, defaults and ranges: reglab techniques --format json", style="dim")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from reglab import lab

    study, _ = lab.load_study(args.study)
    dataset, inputs, note = lab.summary_dataset(study, args.dataset, args.offline)
    if note and args.input_dim is None:
        err.print(f"note: {note}", highlight=False, markup=False)
    for name, input_dim, rows in lab.model_summaries(study, args.input_dim or inputs):
        where = f"{input_dim} inputs" + ("" if args.input_dim else f", {dataset}")
        table = Table(title=escape(f'Model: "{name}"  ({where})'), title_justify="left")
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
    from reglab.data.sources import SOURCES
    from reglab.data.table_source import EMBEDDED as EMBEDDED_TABLES

    name = args.name
    if name == "auto":  # what `auto` uses when it can; offline it falls back to the embedded digits
        err.print("auto means MNIST when it is cached or can be downloaded: fetching mnist.", highlight=False)
        name = "mnist"
    if (name in SOURCES and SOURCES[name].embedded) or name in EMBEDDED_TABLES:
        err.print(f"{name} ships with scikit-learn: there is nothing to download, and `--dataset {name}` "
                  "works offline.", highlight=False, markup=False)
        return 0
    paths = fetch(name, progress=err.is_terminal)
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
