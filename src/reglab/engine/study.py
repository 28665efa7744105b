"""Run a whole study: resolve the data, make the splits, train every (variant, seed), store it all.

engine/scheduler.py decides how the runs are grouped and spread over the cores or the GPU.
"""

from __future__ import annotations

import json
import platform
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reglab import __version__
from reglab.config import DESCRIPTIVE_KEYS, StudySpec
from reglab.data.prepared import PrepareContext, prepare_data
from reglab import models
from reglab.engine.core import DeviceData, check_data_fits, check_fits
from reglab.engine.scheduler import ENGINES, Executor, LocalExecutor, Schedule, execute, plan
from reglab.errors import ReglabError
from reglab.progress.events import Observer, Silent
from reglab.store import RunStore
from reglab.store.files import Damaged


@dataclass(frozen=True)
class StudyOptions:
    out: Path | None = None
    data_dir: Path | None = None
    device: str = "auto"
    allow_download: bool = True
    source_text: str = ""
    engine: str = "auto"
    checkpoint_seconds: float | None = 30.0  # None: no checkpoints
    data: Any = None  # arrays or a DataFrame from reglab.run(study, data=...): never stored, fingerprinted

    def to_json(self) -> dict[str, Any]:
        """What `reglab resume` needs to run the same way again."""
        return {"data_dir": str(self.data_dir) if self.data_dir else None, "device": self.device,
                "engine": self.engine, "allow_download": self.allow_download}




def environment(device: torch.device) -> dict[str, Any]:
    return {
        "reglab": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda" and torch.cuda.is_available()
                        else "a cluster's GPUs" if device.type == "cuda" else platform.processor() or "cpu"),
        "torch_threads": torch.get_num_threads(),
    }


def run_study(study: StudySpec, options: StudyOptions, observer: Observer | None = None,
              cancel: threading.Event | None = None, executor: Executor | None = None,
              estimate: Callable[[Schedule, DeviceData], str] | None = None) -> RunStore:
    """Train the study into a new run directory, or finish the one `options.out` names. The units
    train where `executor` puts them (this machine's processes by default); the run directory is
    the same whichever it is. `estimate(schedule, data)`, once the work is planned and before it
    starts, returns a line for the observer (the time estimate: lab.py)."""
    observer = observer or Silent()
    finished = _already_finished(options.out, study)
    if finished is not None:  # before the data: nothing to train needs no download
        finished.lock_for_writing()  # another process may be writing its report or a repair into it
        try:
            finished.remove_partial_writes()  # a crashed process's leftovers, as a resume would remove them
        finally:
            finished.release_writing_lock()  # held only as long as this process writes here (a notebook lives on)
        count = len(study.variants) * len(study.seeds)
        observer.notice(f"{finished.root}: {'its one run is' if count == 1 else f'all {count} runs are'} "
                        "already finished: nothing to train")
        return finished
    executor = executor or LocalExecutor()
    device = executor.device(options.device)
    if options.engine not in ENGINES:  # what can be checked is checked before the run directory is made
        raise ReglabError(f"engine {options.engine!r} is not known: use {', '.join(ENGINES)}.")
    prepared = prepare_data(study.data, PrepareContext(options.data_dir, options.allow_download, options.data))
    splits, data_info = prepared.splits, prepared.info
    for message in (*prepared.notices, *splits.notes):
        observer.notice(message)

    check_data_fits(study, splits)  # a table's columns for a CNN, augmentation or a batch bigger than the data
    check_fits(study, splits.image_shape)  # a CNN too deep for these images: before any directory is made
    root = options.out or RunStore.default_path(study.name)
    resuming = RunStore.holds_a_run(root)
    store = RunStore.open(root) if resuming else RunStore.create(
        root, study=study.to_dict(), source_text=options.source_text, environment=environment(device),
        options=options.to_json())
    store.lock_for_writing()  # before anything is removed or written
    try:
        test_images = _as_uint8_images(splits.x_test, splits.image_shape)
        if resuming:
            if _check_resumable(store, study, data_info):  # new descriptions: the directory takes them
                store.update_study(study.to_dict(), options.source_text)
            store.remove_partial_writes()
            for line in store.repair(study.to_dict(), options.source_text, _stored_options(store, options),
                                     environment(device)):
                observer.notice(line)
            damaged_data = store.data_intact()
            if damaged_data is not None:  # never written (a crash while making the directory) or damaged
                store.write_data(data_info, splits.y_test, test_images, prepared.test_rows)
                observer.notice(f"data.json, test_split.npz: {damaged_data}; written again")
            done = frozenset(store.finished())
            observer.notice(f"resuming {root}: {len(done)} of {len(study.seeds) * len(study.variants)} runs "
                            "already finished")
        else:
            store.write_data(data_info, splits.y_test, test_images, prepared.test_rows)
            done = frozenset()

        data = DeviceData.from_arrays(splits, executor.data_device(device))
        for index, variant in enumerate(study.variants):
            rows = models.summary(variant, data.image_shape, data.classes)
            store.save_model_summary(index, variant.name, [asdict(row) for row in rows])
        schedule = plan(study, options.engine, device, input_dim=data.input_dim, cores=executor.cores(), done=done,
                        image_shape=data.image_shape)
        for message in schedule.notices:
            observer.notice(message)
        if estimate is not None:
            observer.notice(estimate(schedule, data))
        remaining = [(variant, seed) for unit in schedule.units for _, variant, seed in unit.members]
        observer.study_started(len(remaining), sum(variant.epochs for variant, _ in remaining))
        execute(schedule, data, store, observer, cancel=cancel, checkpoint_seconds=options.checkpoint_seconds,
                executor=executor)
        _fit_references(study, splits, store, observer)
    finally:
        store.release_writing_lock()
    return store


def _fit_references(study: StudySpec, splits: Any, store: RunStore, observer: Observer) -> None:
    """The study's scikit-learn references on the networks' own splits, one per seed; those stored
    (intact) are kept, so a resume fits only what is missing."""
    if not study.references:
        return
    from reglab.models.sklearn_references import fit_and_score

    kept = {(r["name"], r["seed"]): r for r in store.references() if r["name"] in study.references}
    runs = []
    for name in study.references:
        for seed in study.seeds:
            run = kept.get((name, seed))
            if run is None:
                run = fit_and_score(name, seed, splits.x_train, splits.y_train, splits.x_test, splits.y_test,
                                    len(splits.class_names))
                observer.notice(f"reference {name} seed {seed}: test accuracy {run['test_accuracy']:.4f}")
            runs.append(run)
    store.save_references(runs)


def _already_finished(root: Path | None, study: StudySpec) -> RunStore | None:
    """The run directory at `root` when it holds this very study (same words too) with every run
    finished; else None, and the usual path checks and resumes it."""
    if root is None or not RunStore.holds_a_run(root):
        return None
    store = RunStore.open(root)
    if store.read_json("study.json") != json.loads(json.dumps(study.to_dict())):
        return None
    wanted = {(variant.name, seed) for variant in study.variants for seed in study.seeds}
    # A lost data.json or test split is written again by the usual path (the report needs them).
    references = {(name, seed) for name in study.references for seed in study.seeds}
    have = {(r["name"], r["seed"]) for r in store.references()} if references else set()
    return store if wanted <= store.finished() and store.data_intact() is None and references <= have else None


def _check_resumable(store: RunStore, study: StudySpec, data_info: dict[str, Any]) -> bool:
    """Only the same study on the same data may continue a run directory. Descriptions may have
    changed (they train nothing): True when they have. A missing or damaged data.json is not a
    difference: it is written again (the study decides the data)."""
    try:
        stored = store.study()
    except Damaged as exc:
        raise ReglabError(f"{store.root}: study.json and the manifest's copy of it are both damaged ({exc.reason}), "
                          "so it cannot be told which study this directory holds. Fix: run the study again "
                          "with a new --out.") from None
    current = json.loads(json.dumps(study.to_dict()))
    differences = list(_differences(_without_descriptions(stored), _without_descriptions(current)))
    try:
        stored_data = store.data()
    except Damaged:
        stored_data = None
    for key in ("dataset", "splits"):
        if stored_data is not None and stored_data.get(key) != data_info[key]:
            differences.append(f"data {key}: {stored_data.get(key)!r} in the run directory, {data_info[key]!r} now")
    # The data themselves: a file edited, other arrays passed. Directories from before fingerprints have none.
    if stored_data is not None and stored_data.get("fingerprint") not in (None, data_info["fingerprint"]):
        where = (data_info.get("source") or {}).get("path") or data_info.get("origin") or data_info["dataset"]
        differences.append(f"the data have changed since this directory was trained ({where}: sha256 "
                           f"{str(stored_data['fingerprint'])[:12]}... then, {data_info['fingerprint'][:12]}... now)")
    if differences:
        shown = "\n".join(f"  - {d}" for d in differences[:12])
        more = f"\n  ... and {len(differences) - 12} more" if len(differences) > 12 else ""
        raise ReglabError(f"{store.root} holds a run of a different study or configuration, so it cannot be "
                          f"resumed:\n{shown}{more}\nFix: run with the same study, options and data, or pass a new --out.")
    return stored != current


def _stored_options(store: RunStore, options: StudyOptions) -> dict[str, Any]:
    return store.options() or options.to_json()


def _without_descriptions(study: dict[str, Any]) -> dict[str, Any]:
    def strip(spec: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in spec.items() if k not in DESCRIPTIVE_KEYS}

    variants = study.get("variants")
    return {**strip(study), "variants": [strip(v) if isinstance(v, dict) else v for v in variants]
            if isinstance(variants, list) else variants}


def _differences(stored: Any, current: Any, path: str = "") -> Iterator[str]:
    if isinstance(stored, dict) and isinstance(current, dict):
        for key in sorted(set(stored) | set(current), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in stored:
                yield f"{where}: not in the run directory, {current[key]!r} now"
            elif key not in current:
                yield f"{where}: {stored[key]!r} in the run directory, absent now"
            else:
                yield from _differences(stored[key], current[key], where)
    elif isinstance(stored, list) and isinstance(current, list) and len(stored) == len(current):
        for index, (a, b) in enumerate(zip(stored, current)):
            yield from _differences(a, b, f"{path}[{index}]")
    elif stored != current:
        yield f"{path}: {stored!r} in the run directory, {current!r} now"


def _as_uint8_images(features: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    # Features are pixels / pixel_max in [0, 1]; 8 bits are plenty to look at them in a report.
    return np.clip(np.rint(features * 255), 0, 255).astype(np.uint8).reshape(-1, *shape)
