"""The Python API, as `import reglab` exports it: run, resume, load, studies, techniques.
A thin face over lab.py, as the command line is (docs/python-api.md)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from reglab.config import api_checks as A
from reglab import lab
from reglab.progress.notebook import progress_observer
from reglab.progress.events import Observers
from reglab.results import StudyResult
from reglab.config.python_study import Study
from reglab.progress.keras_callbacks import KerasCallbacks


def run(study: Any = "tutorial", *, seeds: int | list[int] | None = None, epochs: int | None = None,
        dataset: str | None = None, data: Any = None, target: str | None = None, missing: str | None = None,
        data_dir: str | Path | None = None, device: str = "auto",
        engine: str = "auto", out: str | Path | None = None, sweep: Any = None, report: bool = True,
        lang: str | None = None, progress: Any = True, offline: bool = False,
        checkpoint_seconds: float | None = lab.DEFAULT_CHECKPOINT_SECONDS, observers: Any = (),
        callbacks: Any = (), backend: str = "local", address: str | None = None) -> StudyResult:
    """Train every variant of `study` for every seed, store each run, write the report; as
    `reglab run` does, with the same defaults, checks and run directory.

    study: a built-in name ("tutorial"; see reglab.studies()), a path to a .toml file, or a
        reglab.Study. seeds: a count (seeds 0..N-1) or a list. epochs, dataset: override the study's.
    data: your own data instead of the study's (docs/data.md): a path (.csv, .parquet, .npz, .npy, a
        folder of images), a dict of NumPy arrays (x_train, y_train, and optionally x_val, y_val,
        x_test, y_test; or x, y for one set that the study's sizes split), a pair (x, y), or a pandas
        DataFrame. target: a table's label column; missing: "error" (default) or "impute".
    out: the run directory (default ./runs/STUDY-TIME); an existing one of the same study is resumed.
    sweep: replace the variants by a sweep's points: {"l2": {"log": [1e-6, 1e-1], "points": 5}},
        a whole [[sweeps]] table, or "l2=1e-6:1e-1:log:5" as on the command line.
    progress: True (a widget or plain lines in Jupyter, a bar in a terminal), False (nothing), or an
        observer of your own (see reglab.progress.events). observers: more observers (one, or a list), all told
        everything. callbacks: Keras-style callbacks (one, or a list: objects with on_train_begin,
        on_epoch_end(epoch, logs), on_train_end), told each run's progress (docs/python-api.md).
    backend: "local" (this machine) or "ray": the runs train on the Ray cluster at `address`
        ("HOST:PORT", default "auto"); the run directory is written here (docs/cluster.md).

    Returns the StudyResult. Raises reglab.ConfigError for a study that cannot run, and
    KeyboardInterrupt (lab.StudyInterrupted) after saving when interrupted: reglab.resume(out) goes on.
    """
    where = "reglab.run"
    observers = _common(where, report=report, lang=lang, progress=progress, observers=observers,
                        callbacks=callbacks, checkpoint_seconds=checkpoint_seconds, backend=backend, address=address)
    out = A.path(where, "out", out, optional=True)
    data_dir = A.path(where, "data_dir", data_dir, optional=True)
    A.seeds(where, "seeds", seeds)
    A.whole(where, "epochs", epochs, low=1, optional=True)
    A.text(where, "dataset", dataset, optional=True)
    A.text(where, "device", device, choices=DEVICES)
    A.text(where, "engine", engine, choices=ENGINES)
    A.flag(where, "offline", offline)
    A.text(where, "target", target, optional=True)
    A.text(where, "missing", missing, choices=("error", "impute"), optional=True)
    if not isinstance(study, (str, Path, Study)) and not hasattr(study, "variants"):
        raise A.refuse(where, "study", study, "takes a built-in study's name, a .toml path or a reglab.Study")
    path = data if isinstance(data, (str, Path)) else None
    arrays = data if data is not None and path is None else None
    spec, source_text = lab.load_study(study, seeds=seeds, epochs=epochs, dataset="arrays" if arrays is not None
                                       else dataset, data=path, target=target, missing=missing, sweep=sweep)
    options = lab.run_options(spec, out=out, data_dir=data_dir, device=device, engine=engine,
                              allow_download=not offline, checkpoint_seconds=checkpoint_seconds,
                              source_text=source_text, data=arrays)
    store = lab.run_study(spec, options, Observers(progress_observer(progress), *observers), report=report, lang=lang,
                          backend=backend, address=address)
    return StudyResult(store.root)


def resume(run_dir: str | Path, *, device: str | None = None, engine: str | None = None, report: bool = True,
           lang: str | None = None, progress: Any = True,
           checkpoint_seconds: float | None = lab.DEFAULT_CHECKPOINT_SECONDS,
           observers: Any = (), callbacks: Any = (), backend: str = "local",
           address: str | None = None, data: Any = None) -> StudyResult:
    """Finish an interrupted run directory: finished runs are kept, interrupted ones continue from
    their last checkpoint, and the results equal an uninterrupted run's (as `reglab resume`), here
    or on a Ray cluster (backend="ray", address=...). `callbacks` hear the runs trained now. A
    study run on arrays from Python needs the same arrays again (`data`); other data are refused,
    with the reason."""
    where = "reglab.resume"
    observers = _common(where, report=report, lang=lang, progress=progress, observers=observers,
                        callbacks=callbacks, checkpoint_seconds=checkpoint_seconds, backend=backend, address=address)
    run_dir = A.path(where, "run_dir", run_dir)
    A.text(where, "device", device, choices=DEVICES, optional=True)
    A.text(where, "engine", engine, choices=ENGINES, optional=True)
    store = lab.resume(run_dir, Observers(progress_observer(progress), *observers), device=device, engine=engine,
                       checkpoint_seconds=checkpoint_seconds, report=report, lang=lang, backend=backend,
                       address=address, data=data)
    return StudyResult(store.root)


def lr_find(study: Any = "tutorial", *, variant: str | None = None, seed: int = 0, dataset: str | None = None,
            data_dir: str | Path | None = None, offline: bool = False, device: str = "auto", start: float = 1e-7,
            end: float = 10.0, steps: int = 100, out: str | Path | None = None, lang: str | None = None) -> Any:
    """The learning-rate range test (Smith 2015; fastai's lr_find), as `reglab lr-find`: one
    variant of `study` (default: its first) with its initial weights for `seed`, its optimizer and
    batch size, on a copy of the model; the rate grows exponentially from `start` to `end` over
    `steps` mini-batches and the test stops where the smoothed loss diverges. No run directory is
    touched. With `out`, lr_find.json and the figure in both languages (`lang` first) go there.

    Returns a RangeTest: lrs, losses, smoothed, stop ("diverged" or "end") and suggestions by rule
    (steepest, minimum/10, valley: docs/sweeps.md says how each is picked)."""
    from reglab.errors import ConfigError, StorageError, not_a_folder, unwritable
    from reglab.lrfind import study_range_test, write_range_test
    from reglab.report import default_lang

    where = "reglab.lr_find"
    for argument, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise A.refuse(where, argument, value, "takes a learning rate (a finite number)")
    A.whole(where, "seed", seed)
    A.whole(where, "steps", steps, low=1)
    A.text(where, "variant", variant, optional=True)
    data_dir = A.path(where, "data_dir", data_dir, optional=True)
    out = A.path(where, "out", out, optional=True)
    A.text(where, "device", device, choices=DEVICES)
    A.text(where, "lang", lang, choices=("en", "ja"), optional=True)
    A.text(where, "dataset", dataset, optional=True)
    A.flag(where, "offline", offline)
    if not 0 < start < end:
        raise ConfigError("lr_find", [f"start {start:g} and end {end:g}: need 0 < start < end"])
    if out is not None and out.exists() and not out.is_dir():  # before the test's minutes, not after
        raise not_a_folder("the range test writes lr_find.json and its figures", out)
    spec, _ = lab.load_study(study, dataset=dataset)
    chosen, result = study_range_test(spec, variant, seed=seed, data_dir=Path(data_dir) if data_dir else None,
                                      allow_download=not offline, device=device, start=start, end=end, steps=steps)
    result.variant = chosen
    if out is not None:
        first = lang or default_lang()
        try:
            result.paths = write_range_test(out, chosen, result, seed, (first, "ja" if first == "en" else "en"))
        except (OSError, StorageError) as exc:
            raise unwritable("the range test", out, exc, "give a folder you can write to (--out DIR; it is made "
                             "when missing).") from None
    return result


def load(run_dir: str | Path) -> StudyResult:
    """A run directory made by reglab.run or `reglab run`: finished, partial or damaged (what
    cannot be read is listed in .missing, as the report lists it)."""
    return StudyResult(A.path("reglab.load", "run_dir", run_dir))


DEVICES = ("auto", "cpu", "cuda")
ENGINES = ("auto", "reference", "fast")


def _common(where: str, *, report: Any, lang: Any, progress: Any, observers: Any, callbacks: Any,
            checkpoint_seconds: Any, backend: Any, address: Any) -> tuple[Any, ...]:
    """The arguments run and resume share, checked before anything is read or written; the
    observers as a tuple (the callbacks among them, as one observer)."""
    from reglab.report.i18n import LANGS

    A.flag(where, "report", report)
    A.text(where, "lang", lang, choices=LANGS, optional=True)
    if progress not in (True, False, None) and not A.is_observer(progress):
        raise A.refuse(where, "progress", progress, "takes True, False or an observer of your own")
    A.seconds(where, "checkpoint_seconds", checkpoint_seconds)
    A.text(where, "backend", backend, choices=lab.BACKENDS)
    A.text(where, "address", address, optional=True)
    chosen = A.callbacks(where, callbacks)
    return A.observers(where, observers) + ((KerasCallbacks(chosen),) if chosen else ())


def studies() -> dict[str, Study]:
    """The built-in studies by name (reglab.run(name) runs one)."""
    from reglab.config import builtin_studies

    return {name: Study.builtin(name) for name in sorted(builtin_studies())}


def techniques() -> list[dict[str, Any]]:
    """Every technique a study can use: name, family, the key that turns it on, a one-line summary
    in English and Japanese, its parameters (type, default, range) and its Keras defaults."""
    from reglab.techniques import registry

    return registry.listing()
