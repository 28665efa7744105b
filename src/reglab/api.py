"""The Python API, as `import reglab` exports it: run, resume, load, studies, techniques.
A thin face over lab.py, as the command line is (docs/python-api.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reglab import lab
from reglab.notebook import progress_observer
from reglab.observers import Observers
from reglab.results import StudyResult
from reglab.study import Study


def run(study: Any = "tutorial", *, seeds: int | list[int] | None = None, epochs: int | None = None,
        dataset: str | None = None, data_dir: str | Path | None = None, device: str = "auto",
        engine: str = "auto", out: str | Path | None = None, sweep: Any = None, report: bool = True,
        lang: str | None = None, progress: Any = True, offline: bool = False,
        checkpoint_seconds: float | None = lab.DEFAULT_CHECKPOINT_SECONDS, observers: tuple[Any, ...] = (),
        backend: str = "local", address: str | None = None) -> StudyResult:
    """Train every variant of `study` for every seed, store each run, write the report; as
    `reglab run` does, with the same defaults, checks and run directory.

    study: a built-in name ("tutorial"; see reglab.studies()), a path to a .toml file, or a
        reglab.Study. seeds: a count (seeds 0..N-1) or a list. epochs, dataset: override the study's.
    out: the run directory (default ./runs/STUDY-TIME); an existing one of the same study is resumed.
    sweep: replace the variants by a sweep's points: {"l2": {"log": [1e-6, 1e-1], "points": 5}},
        a whole [[sweeps]] table, or "l2=1e-6:1e-1:log:5" as on the command line.
    progress: True (a widget or plain lines in Jupyter, a bar in a terminal), False (nothing), or an
        observer of your own (see reglab.observers). observers: more observers, all told everything.
    backend: "local" (this machine) or "ray": the runs train on the Ray cluster at `address`
        ("HOST:PORT", default "auto"); the run directory is written here (docs/cluster.md).

    Returns the StudyResult. Raises reglab.ConfigError for a study that cannot run, and
    KeyboardInterrupt (lab.StudyInterrupted) after saving when interrupted: reglab.resume(out) goes on.
    """
    spec, source_text = lab.load_study(study, seeds=seeds, epochs=epochs, dataset=dataset, sweep=sweep)
    options = lab.run_options(spec, out=out, data_dir=data_dir, device=device, engine=engine,
                              allow_download=not offline, checkpoint_seconds=checkpoint_seconds,
                              source_text=source_text)
    store = lab.run_study(spec, options, Observers(progress_observer(progress), *observers), report=report, lang=lang,
                          backend=backend, address=address)
    return StudyResult(store.root)


def resume(run_dir: str | Path, *, device: str | None = None, engine: str | None = None, report: bool = True,
           lang: str | None = None, progress: Any = True,
           checkpoint_seconds: float | None = lab.DEFAULT_CHECKPOINT_SECONDS,
           observers: tuple[Any, ...] = (), backend: str = "local", address: str | None = None) -> StudyResult:
    """Finish an interrupted run directory: finished runs are kept, interrupted ones continue from
    their last checkpoint, and the results equal an uninterrupted run's (as `reglab resume`), here
    or on a Ray cluster (backend="ray", address=...)."""
    store = lab.resume(run_dir, Observers(progress_observer(progress), *observers), device=device, engine=engine,
                       checkpoint_seconds=checkpoint_seconds, report=report, lang=lang, backend=backend,
                       address=address)
    return StudyResult(store.root)


def load(run_dir: str | Path) -> StudyResult:
    """A run directory made by reglab.run or `reglab run`: finished, partial or damaged (what
    cannot be read is listed in .missing, as the report lists it)."""
    return StudyResult(run_dir)


def studies() -> dict[str, Study]:
    """The built-in studies by name (reglab.run(name) runs one)."""
    from reglab.config import builtin_studies

    return {name: Study.builtin(name) for name in sorted(builtin_studies())}


def techniques() -> list[dict[str, Any]]:
    """Every technique a study can use: name, family, the key that turns it on, a one-line summary
    in English and Japanese, its parameters (type, default, range) and its Keras defaults."""
    from reglab.techniques import registry

    return [
        {"name": t.name, "family": family, "key": family if family in registry.CHOICE_FAMILIES else t.name,
         "summary": {"en": t.summary_en, "ja": t.summary_ja},
         "parameters": [p.as_json() for p in t.params],
         "keras_defaults": dict(t.keras_defaults)}
        for family, members in registry.families().items() for t in members.values()
    ]
