"""The one composition place: a study is trained into a run directory, read back as results and
written up as a report. The command line (cli.py) and the Python API (reglab.run, reglab.resume,
reglab.load) are two faces over these functions; neither holds any of this sequence itself.

    load_study / run_options      a study and how to run it, validated (ConfigError, ReglabError)
    run_study(study, options, observer, report=, lang=, backend=, address=)
                                  train (new or resumed; here or on a Ray cluster) -> store
                                  -> observer.study_finished -> report
    resume(run_dir, ...)          the stored study and options, then run_study
    results(run_dir)              the per-variant results (`reglab results`)
    write_report(run_dir, ...)    report.html, figures, findings.json (`reglab report`)

An interrupt (Ctrl-C in a terminal, "interrupt the kernel" in Jupyter) stops every run at the end
of its current epoch, saves it, and raises `StudyInterrupted` (a KeyboardInterrupt) naming the
run directory; a second interrupt stops at once, from the last checkpoints. Either way resuming
gives the results of an uninterrupted run.

Torch is imported only when a study trains (engine.study), so that reading results, reports and
`import reglab` stay light.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reglab.config import StudySpec, study_from_dict
from reglab.config import load_study as _load_study
from reglab.errors import ConfigError, ReglabError, StorageError
from reglab.progress.events import Observers, Silent

if TYPE_CHECKING:
    from reglab.engine.study import StudyOptions
    from reglab.store import RunStore

DEFAULT_CHECKPOINT_SECONDS = 30.0


class StudyInterrupted(KeyboardInterrupt):
    """A study stopped by an interrupt after saving: finished runs and checkpoints are kept."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        super().__init__(f"interrupted: finished runs and checkpoints are kept in {self.run_dir}. "
                         f"Resume with reglab.resume({str(self.run_dir)!r}) or `reglab resume {self.run_dir}`.")


# ------------------------------------------------------------------------------ a study to run


def load_study(source: Any, *, seeds: int | list[int] | None = None, epochs: int | None = None,
               dataset: str | None = None, data: str | Path | None = None, target: str | None = None,
               missing: str | None = None, sweep: Any = None, sweep_random: int | None = None,
               sweep_seed: int | None = None, sweep_base: str | None = None, choose: str | None = None,
               max_runs: int | None = None) -> tuple[StudySpec, str]:
    """A built-in name, a .toml path, a reglab.Study or a StudySpec, with the command line's
    overrides applied and checked; and its source text (what the run directory keeps as
    study.toml). `data` is a file or folder of your own (docs/data.md), `target` a table's label
    column, `missing` "error" or "impute". `sweep` replaces the study's variants by a sweep's points (see sweep_table),
    starting from the study's baseline or `sweep_base`; `sweep_random` points drawn with
    `sweep_seed` instead of the grid; `choose` the validation metric that picks the best point."""
    overrides: dict[str, Any] = {}
    if seeds:
        overrides["seeds"] = seeds
    if epochs:
        overrides["epochs"] = epochs
    if dataset:
        overrides["dataset"] = dataset
    if data is not None:  # your own file or folder (--data): read from the working directory
        overrides["path"] = str(Path(data).expanduser().absolute())
        overrides.setdefault("dataset", "auto")
    for key, value in (("target", target), ("missing", missing)):
        if value is not None:
            overrides[key] = value
    if max_runs:
        overrides["max_runs"] = max_runs
    if sweep is not None:
        table = sweep_table(sweep)
        for key, value in (("random", sweep_random), ("seed", sweep_seed), ("base", sweep_base), ("choose", choose)):
            if value is not None:
                table[key] = value
        overrides["sweeps"] = [table]
    else:
        stray = [flag for flag, value in (("--sweep-random", sweep_random), ("--sweep-seed", sweep_seed),
                                          ("--sweep-base", sweep_base), ("--choose", choose)) if value is not None]
        if stray:
            raise ConfigError("command line", [f"{', '.join(stray)} only goes with a sweep (--sweep SETTING=...)"])
    if isinstance(source, StudySpec):
        if not overrides:
            return source, ""
        return study_from_dict(source.to_dict(), source.source or source.name, overrides), ""
    if hasattr(source, "to_toml") and hasattr(source, "spec"):  # a reglab.Study built in Python
        text = source.to_toml()
        if not overrides:
            return source.spec, text
        return study_from_dict(source.to_dict(), f"Study({source.name!r})", overrides), text
    study = _load_study(str(source), overrides)
    path = Path(study.source) if study.source and Path(study.source).is_file() else None
    return study, path.read_text(encoding="utf-8") if path else ""


def plan(study: StudySpec):
    """How many runs the study makes (reglab.cost.time_estimate.Plan); instant. The time is estimated once
    the data is loaded and the work planned: run_study(..., estimate=True)."""
    from reglab.cost.time_estimate import plan as count

    return count(study)


def sweep_table(sweep: Any) -> dict[str, Any]:
    """A [[sweeps]] table from what `sweep=` may be: the table itself ({"values": {...}, ...}),
    just its values ({"l2": {"log": [1e-6, 1e-1], "points": 5}}), or the command line's
    SETTING=... texts ("l2=1e-6:1e-1:log:5", or a list of them, one per factor)."""
    from reglab.config import sweep_points as sweeps

    if isinstance(sweep, str):
        sweep = [sweep]
    if isinstance(sweep, (list, tuple)):
        try:
            return sweeps.parse_cli(list(sweep))
        except sweeps.SweepError as exc:
            raise ConfigError("sweep", [f"{exc.where}: {exc.message}"]) from None
    if isinstance(sweep, dict):
        return dict(sweep) if "values" in sweep else {"values": dict(sweep)}
    raise ConfigError("sweep", [f"must be a table of values or SETTING=... texts, got {sweep!r}"])


def run_options(study: StudySpec, *, out: Path | str | None = None, data_dir: Path | str | None = None,
                device: str = "auto", engine: str = "auto", allow_download: bool = True,
                checkpoint_seconds: float | None = DEFAULT_CHECKPOINT_SECONDS, source_text: str = "",
                data: Any = None) -> StudyOptions:
    """How a new study runs; `out` defaults to a fresh ./runs/STUDY-TIME. `data`: arrays or a
    DataFrame from Python (a study whose dataset is "arrays")."""
    from reglab.engine.study import StudyOptions
    from reglab.store import RunStore

    return StudyOptions(
        out=Path(out) if out is not None else RunStore.default_path(study.name),
        data_dir=Path(data_dir) if data_dir is not None else None, device=device, engine=engine,
        allow_download=allow_download, checkpoint_seconds=checkpoint_seconds, source_text=source_text, data=data,
    )


def stored_study(run_dir: Path | str) -> tuple[StudySpec, StudyOptions]:
    """The study a run directory holds and the options it was run with: what resuming reuses."""
    from reglab.engine.study import StudyOptions
    from reglab.store import RunStore
    from reglab.store.files import Damaged

    run_dir = Path(run_dir)
    store = RunStore.open(run_dir)
    try:
        stored = store.study()  # study.json, else the manifest's copy of it
    except Damaged as exc:
        raise ReglabError(f"{run_dir / 'study.json'} is damaged ({exc.reason}) and so is its copy in the "
                          "manifest: this run cannot be resumed. Fix: run the study again with a new --out.") from None
    study = study_from_dict(stored, str(run_dir / "study.json"))
    before = store.options()
    options = StudyOptions(
        out=run_dir, data_dir=Path(before["data_dir"]) if before.get("data_dir") else None,
        device=before.get("device", "auto"), engine=before.get("engine", "auto"),
        allow_download=before.get("allow_download", True), checkpoint_seconds=DEFAULT_CHECKPOINT_SECONDS,
    )
    return study, options


# ------------------------------------------------------------------------------------ running


def run_study(study: StudySpec, options: StudyOptions, observer: Any = None, *, report: bool = True,
              lang: str | None = None, backend: str = "local", address: str | None = None,
              estimate: bool = False, started: float | None = None) -> RunStore:
    """Train a study into `options.out` (a new directory, or the same study's to finish it), tell
    the observer it finished, then write its report unless `report` is False. Raises
    StudyInterrupted after saving when interrupted. backend "ray" trains the units on the Ray
    cluster at `address` (default auto) and writes the same run directory (docs/cluster.md).
    `estimate`: tell the observer (a notice) how long the whole command will take, measured once
    the data is loaded (reglab.cost.time_estimate); `started` is when the command started (time.monotonic()
    minus what it spent before: default now)."""
    from reglab.engine.study import run_study as train

    started = time.monotonic() if started is None else started
    observer = Observers(observer) if observer is not None else Silent()
    cancel = threading.Event()
    executor = executor_for(backend, address)  # before anything is written: a missing cluster costs nothing

    def estimated(schedule, data) -> str:
        from reglab.cost.time_estimate import estimate as model

        return model(schedule, data, so_far=time.monotonic() - started, cluster=executor is not None,
                     report_runs=(len(study.variants), len(study.variants) * len(study.seeds)) if report else None
                     ).describe()

    try:
        with _interrupts_stop_at_epoch_end(cancel, observer):
            store = train(study, options, observer, cancel=cancel, executor=executor,
                          estimate=estimated if estimate else None)
    except KeyboardInterrupt as exc:  # the second interrupt, or one before training started
        raise StudyInterrupted(options.out) from exc
    except Exception as exc:
        from reglab.engine.scheduler import Interrupted

        if isinstance(exc, Interrupted):
            raise StudyInterrupted(options.out) from None
        raise
    finally:
        if executor is not None:
            executor.close()
    try:
        observer.study_finished(store.root)
        if report:
            write_report(store.root, None, lang, observer)
    except KeyboardInterrupt:  # every run is stored: the run directory is named, as for any interrupt
        raise StudyInterrupted(store.root) from None
    return store


def resume(run_dir: Path | str, observer: Any = None, *, device: str | None = None, engine: str | None = None,
           checkpoint_seconds: float | None = DEFAULT_CHECKPOINT_SECONDS, report: bool = True,
           lang: str | None = None, backend: str = "local", address: str | None = None, data: Any = None,
           estimate: bool = False, started: float | None = None) -> RunStore:
    """Finish an interrupted run directory as it was run (device and engine may be changed; the
    backend may be another: a study started here may finish on a cluster, and the other way).
    A study trained on arrays from Python needs them again (`data`); their fingerprint must match."""
    from dataclasses import replace

    study, options = stored_study(run_dir)
    options = replace(options, device=device or options.device, engine=engine or options.engine,
                      checkpoint_seconds=checkpoint_seconds, data=data)
    return run_study(study, options, observer, report=report, lang=lang, backend=backend, address=address,
                     estimate=estimate, started=started)


BACKENDS = ("local", "ray")


def executor_for(backend: str, address: str | None) -> Any:
    """None for this machine's processes (the engine's default), or a cluster's executor, connected."""
    if backend not in BACKENDS:
        raise ReglabError(f"backend {backend!r} is not known: use {' or '.join(BACKENDS)}.")
    if backend == "local":
        if address:
            raise ReglabError(f"--address {address} is for a cluster. Fix: add --backend ray, or leave --address out.")
        return None
    from reglab.engine.ray_executor import RayExecutor

    return RayExecutor(address)


@contextmanager
def _interrupts_stop_at_epoch_end(cancel: threading.Event, observer: Any) -> Iterator[None]:
    """While the block runs, a first SIGINT or SIGTERM asks every run to stop at its epoch's end
    (they save); a second raises KeyboardInterrupt at once. Jupyter's "interrupt the kernel" is a SIGINT too.
    Only the main thread may set signal handlers; elsewhere interrupts stay as they were."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_interrupt(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt  # a second interrupt: stop now, from the last checkpoints
        cancel.set()
        observer.stopping()

    # SIGTERM (kill, a batch system's stop, a closing terminal's session) is handled like Ctrl-C.
    previous = {sig: signal.signal(sig, on_interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ------------------------------------------------------------------------------------ reading


def results(run_dir: Path | str) -> dict[str, Any]:
    """Per-variant results of a run directory, as `reglab results --format json` prints them
    (docs/results.md)."""
    from reglab.analysis.summary import study_results
    from reglab.store import RunStore

    return study_results(RunStore.open(Path(run_dir)))


def write_report(run_dir: Path | str, out_dir: Path | str | None = None, lang: str | None = None,
                 observer: Any = None) -> Path:
    """Write the report of a run directory (default RUN_DIR/report); returns report.html's path.
    What the report could not read goes to observer.report_missing, one line each."""
    from reglab.report import default_lang
    from reglab.report import write_report as write

    observer = observer or Silent()
    path = write(Path(run_dir), out_dir, lang or default_lang(), notify=observer.report_missing)
    observer.report_written(path)
    return path


def predict(run_dir: Path | str, variant: str, inputs: Path | str, out: Path | str,
            seed: int | list[int] | str = 0) -> tuple[Path, int]:
    """`reglab predict`: one run's (or an ensemble's) predictions for the inputs in a CSV file, a
    NumPy file or a folder of images, prepared with the run's stored preprocessing, written to the
    CSV `out` (row, file for images, predicted class and its name, a probability per class).
    Returns (out, rows). The file appears whole or not at all."""
    import pandas as pd

    from reglab.data import DataError
    from reglab.data.prediction_inputs import read_inputs
    from reglab.results import StudyResult
    from reglab.errors import unwritable
    from reglab.export.csv_export import cell
    from reglab.store.atomic import write_atomic

    if Path(out).is_dir():
        raise ReglabError(f"--out {out} is a folder. Fix: give the predictions file's name, e.g. "
                          f"--out {Path(out) / 'predictions.csv'}")
    result = StudyResult(run_dir)
    result.models(variant, seed)  # an unknown variant or seed, or damaged weights: before reading inputs
    resized = (result.study.get("data") or {}).get("image_size")  # training resized its images to this
    read = read_inputs(inputs, tuple(resized) if resized else None)
    try:
        predicted, probabilities = result.predict_with_probabilities(variant, read.values, seed,
                                                                     eight_bit=read.eight_bit)
    except DataError as exc:  # the inputs are not what the model was trained on: say which file
        raise DataError(f"{inputs}: {exc.problem}", exc.fix) from None
    names = result.class_names
    table = pd.DataFrame({"row": range(len(predicted))})
    if read.names is not None:
        table["file"] = read.names
    table["predicted"] = predicted
    table["class"] = [names[i] for i in predicted]
    for index, name in enumerate(names):
        table[f"p_{name}"] = probabilities[:, index]
    out = Path(out)
    table = table.apply(lambda column: column.map(cell) if column.dtype == object else column)  # no formulas
    try:
        write_atomic(out, lambda handle: handle.write(table.to_csv(index=False, float_format="%.6g").encode("utf-8")))
    except StorageError as exc:
        raise unwritable("the predictions", out, exc, "give --out a CSV file's name in a folder you can write to.") from None
    return out, len(table)


def explain(run_dir: Path | str, *, methods: tuple[str, ...] = ("saliency",), images: int | None = None,
            sanity: bool = True, report: bool = True, lang: str | None = None, observer: Any = None) -> dict[str, Any]:
    """`reglab explain`: attribution maps of every finished run (computed once and stored in the run
    directory), their sanity checks and their comparison across techniques and seeds
    (explanations.json); then the report again, whose section "What the networks look at" shows
    them. Returns explanations.json's content. Needs Captum (reglab[explain])."""
    from reglab.explain.attributions import METHODS, captum_attr
    from reglab.explain.stored_maps import EXPLAINED_IMAGES, explain_study
    from reglab.results import StudyResult

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError("--method", [f"{m!r} is not an attribution method. Fix: one of {', '.join(METHODS)}."
                                       for m in unknown])
    if images is not None and not 1 <= images <= 10_000:
        raise ConfigError("--images", [f"{images} images: give a number from 1 to 10000 (default {EXPLAINED_IMAGES})."])
    captum_attr()  # missing Captum: said before any network is rebuilt
    result = StudyResult(run_dir)
    if not result.runs:
        raise ReglabError(f"{run_dir} holds no finished run to explain. Fix: `reglab resume {run_dir}` finishes its runs.")
    observer = observer or Silent()
    out = explain_study(result, methods=tuple(methods), images=images or EXPLAINED_IMAGES, sanity=sanity)
    if report:
        write_report(run_dir, lang=lang, observer=observer)
    return out


def summary_dataset(study: StudySpec, dataset: str | None = None, offline: bool = False) -> tuple[str, int, str | None]:
    """The dataset a run of `study` would train on, its inputs per example, and a note when that
    depends on the network; makes no network request. `auto` is MNIST when it is cached (or a system
    package has it) or can be downloaded, else the embedded digits (data.resolve_dataset)."""
    from reglab.data import list_datasets

    name = dataset or study.data.dataset
    note = None
    if name == "auto":
        available = {info.name for info in list_datasets() if info.cached or info.system_dir is not None}
        if "mnist" in available:
            name = "mnist"
        elif offline:
            name = "digits"
        else:
            name = "mnist"
            note = ("MNIST is not cached: a run downloads it, and without a network (or with --offline) it uses "
                    "digits, 64 inputs (reglab summary --offline)")
    return name, 64 if name == "digits" else 784, note


def model_summaries(study: StudySpec, input_dim: int | None = None) -> list[tuple[str, int, list[Any]]]:
    """Each variant's layers, like Keras's model.summary() (models.summaries; builds the models)."""
    from reglab import models

    return models.summaries(study, input_dim)
