"""How a study's runs are grouped and spread over the machine.

Measured on two CPU cores (benchmarks/README.md): stacking runs into batched products gains
nothing on the CPU, because MKL already runs the narrow products of one run at full speed; what
pays is the fast engine's hand-derived backward pass for a single run, and training two runs at
once, one core each. On a GPU a step of these small networks is bound by kernel launches, so a
stack of runs costs about what one run costs.

    engine      CPU                                        CUDA
    reference   one run at a time, torch's default threads one run at a time
    fast        stacks of one seed, one core per stack     stacks across seeds, one stream
    auto        single runs in the fast engine, one core   = fast
                per run (the reference loop for what the
                fast engine does not support)

On the CPU every worker has exactly one thread whatever the number of runs, so a run's numbers do
not depend on how many other runs the study has (float rounding differs with the thread count).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import queue
import signal
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from reglab.child_processes import die_with_parent
from reglab.config import StudySpec, VariantSpec
from reglab.engine.checkpoint import Checkpointer
from reglab.engine.fast import declines, stack_key, train_stack
from reglab.engine.core import DeviceData, RunOutcome
from reglab.engine.devices import resolve_device
from reglab.engine.reference import train_run
from reglab.errors import ReglabError
from reglab.engine.startup import import_dynamo
from reglab.store.records import EpochRecord

ENGINES = ("auto", "reference", "fast")


@dataclass(frozen=True)
class Unit:
    """Runs trained together in the fast engine if `stacked` (one or more), else a single run in the
    reference loop."""

    members: tuple[tuple[int, VariantSpec, int], ...]  # (variant index, variant, seed)
    stacked: bool

    def cost(self, input_dim: int, image_shape: tuple[int, int] | None = None) -> float:
        """What a unit costs, for ordering the work: the sum of its runs' costs as their
        architectures estimate them (models/registry.py)."""
        shape = tuple(image_shape) if image_shape else (1, input_dim)
        return sum(variant.architecture.cost(variant, shape, 10) for _, variant, _ in self.members)


@dataclass(frozen=True)
class Schedule:
    units: tuple[Unit, ...]
    workers: int
    threads_per_worker: int | None  # None: leave torch's thread count as it is
    notices: tuple[str, ...] = ()


def plan(study: StudySpec, engine: str, device: torch.device, input_dim: int = 784,
         cores: int | None = None, done: frozenset[tuple[str, int]] = frozenset(),
         image_shape: tuple[int, int] | None = None) -> Schedule:
    """The units to train. Units whose runs are all in `done` (variant name, seed) are skipped; a
    stack with some runs done is trained whole again, so that resuming stacks the runs exactly as
    the first attempt did (the stack's products round the same way) and the results are identical."""
    schedule = _plan_all(study, engine, device, (image_shape or (1, input_dim)), cores or available_cores())
    pending = tuple(u for u in schedule.units if any((v.name, seed) not in done for _, v, seed in u.members))
    return Schedule(pending, schedule.workers, schedule.threads_per_worker, schedule.notices)


def _plan_all(study: StudySpec, engine: str, device: torch.device, image_shape: tuple[int, int],
              cores: int) -> Schedule:
    if engine not in ENGINES:
        raise ReglabError(f"--engine {engine!r} is not known: use {', '.join(ENGINES)}.")
    runs = [(index, variant, seed) for seed in study.seeds for index, variant in enumerate(study.variants)]
    cpu = device.type == "cpu"
    if engine == "reference":
        return Schedule(tuple(Unit((run,), False) for run in runs), workers=1, threads_per_worker=None)
    if engine == "auto" and cpu:
        units = [Unit((run,), stack_key(run[1]) is not None) for run in runs]
        return Schedule(_longest_first(units, image_shape), workers=cores, threads_per_worker=1)

    groups: dict[tuple, list[tuple[int, VariantSpec, int]]] = {}
    alone, notices = [], []
    for run in runs:
        key = stack_key(run[1])
        if key is None:
            alone.append(Unit((run,), False))
            continue
        # On the CPU only runs of one seed share their input batches; on a GPU any stack pays.
        groups.setdefault((key, run[2]) if cpu else key, []).append(run)
    if alone:
        reasons = {variant.name: declines(variant) for _, variant, _ in (u.members[0] for u in alone)}
        notices.append("; ".join(f"{name}: trained in the reference loop ({reason})"
                                 for name, reason in sorted(reasons.items())))
    units = list(alone)
    for members in groups.values():
        # On the CPU each worker gets a share of a group, so that both cores have work.
        size = math.ceil(len(members) / cores) if cpu else len(members)
        units += [Unit(tuple(members[i:i + size]), True) for i in range(0, len(members), size)]
    return Schedule(_longest_first(units, image_shape), workers=cores if cpu else 1,
                    threads_per_worker=1 if cpu else None, notices=tuple(notices))


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _longest_first(units: list[Unit], image_shape: tuple[int, int]) -> tuple[Unit, ...]:
    # Longest processing time first: a greedy order that keeps the workers' loads even.
    return tuple(sorted(units, key=lambda u: -u.cost(0, image_shape)))


class Interrupted(Exception):
    """Raised inside a worker at an epoch boundary once the study has been asked to stop."""


class Executor(Protocol):
    """Where a schedule's units train: the local processes (LocalExecutor, the default) or a
    cluster (engine/ray_executor.py). Whichever it is, it reports every unit to the StudyDriver,
    which runs in the study's process and is the only writer of the run store."""

    def device(self, requested: str) -> torch.device:
        """The device units train on ("auto" resolved where they will run)."""

    def cores(self) -> int:
        """The CPU cores the units spread over (the CPU's stacks are sized by it)."""

    def data_device(self, device: torch.device) -> torch.device:
        """Where the study's process keeps the data it hands to run()."""

    def run(self, schedule: Schedule, data: DeviceData, driver: StudyDriver, cancel: threading.Event) -> None:
        """Train every unit; raise the first failure, or Interrupted once `cancel` stopped it early."""


class StudyDriver:
    """The study's side of training, whatever executor trains the units: progress to the
    observer, finished runs and checkpoints into the store."""

    def __init__(self, store, observer, checkpoint_seconds: float | None):
        self.store, self.observer = store, observer
        self.checkpoint_seconds = checkpoint_seconds
        self.epochs_reported: dict[tuple[int, int], int] = {}  # (variant index, seed) -> epochs told so far

    def unit_started(self, unit: Unit) -> None:
        self.observer.runs_started([(variant, seed) for _, variant, seed in unit.members])

    def epoch_finished(self, unit: Unit, position: int, record: EpochRecord) -> None:
        index, variant, seed = unit.members[position]
        # A unit trained again (a cluster's lost worker, from its last checkpoint or its start; a
        # GPU stack split after running out of memory) reports epochs it had reported: they are
        # the same epochs (training is deterministic), told once, so that progress counts each once.
        if record.epoch < self.epochs_reported.get((index, seed), 0):
            return
        self.epochs_reported[(index, seed)] = record.epoch + 1
        self.store.save_progress(index, variant.name, seed, record)  # what the live page shows (reglab.live)
        self.observer.epoch_finished(variant, record)
        seeded = getattr(self.observer, "run_epoch_finished", None)  # observers written before it lack it
        if seeded is not None:
            seeded(variant, seed, record)

    def unit_finished(self, unit: Unit, outcomes: list[RunOutcome]) -> None:
        for (index, _, _), outcome in zip(unit.members, outcomes):
            self.store.save_run(index, outcome.record, outcome.arrays)
            self.observer.run_finished(outcome.record)

    def units_running(self, nodes: dict[str, int]) -> None:
        """A cluster's executor: how many units are in flight on each node."""
        show = getattr(self.observer, "units_running", None)  # observers written before clusters lack it
        if show is not None:
            show(nodes)

    def checkpointer(self, unit: Unit, stopping: threading.Event) -> Checkpointer | None:
        return unit_checkpointer(unit, self.store, self.checkpoint_seconds, stopping)


def unit_checkpointer(unit: Unit, store, checkpoint_seconds: float | None,
                      stopping: threading.Event) -> Checkpointer | None:
    """The checkpoint file of a unit (single runs only) in the run store."""
    if checkpoint_seconds is None or len(unit.members) != 1:
        return None
    index, variant, seed = unit.members[0]
    return Checkpointer(store.checkpoint_path(index, variant.name, seed), checkpoint_seconds, stopping,
                        engine="fast" if unit.stacked else "reference", files=store.files)


def execute(schedule: Schedule, data: DeviceData, store, observer, cancel: threading.Event | None = None,
            checkpoint_seconds: float | None = None, executor: Executor | None = None) -> None:
    """Train every unit, save each run as its unit ends; re-raises the first failure.

    With `checkpoint_seconds`, single runs (in either engine) save an epoch checkpoint at most that
    often (and when `cancel` is set) beside their record, and pick it up again if one is there."""
    driver = StudyDriver(store, observer, checkpoint_seconds)
    (executor or LocalExecutor()).run(schedule, data, driver, cancel or threading.Event())


class LocalExecutor:
    """This machine: on the CPU one single-thread process per core, else one unit after another in
    the study's process (the GPU, the reference engine)."""

    def device(self, requested: str) -> torch.device:
        return resolve_device(requested)

    def cores(self) -> int:
        return available_cores()

    def data_device(self, device: torch.device) -> torch.device:
        return device

    def run(self, schedule: Schedule, data: DeviceData, driver: StudyDriver, cancel: threading.Event) -> None:
        import_dynamo()  # once, before the workers fork: they inherit it
        if schedule.workers > 1:
            _run_in_processes(schedule, data, driver, cancel)
            return

        def run_unit(unit: Unit) -> None:
            driver.unit_started(unit)

            def epoch_done(position: int, record: EpochRecord) -> None:
                driver.epoch_finished(unit, position, record)
                if cancel.is_set():
                    raise Interrupted

            driver.unit_finished(unit, train_unit(unit, data, epoch_done, driver.checkpointer(unit, cancel)))

        previous_threads = torch.get_num_threads()
        if schedule.threads_per_worker:
            torch.set_num_threads(schedule.threads_per_worker)
        try:
            _run_in_order(schedule, run_unit, driver.observer)
        finally:
            torch.set_num_threads(previous_threads)


# ------------------------------------------------------------------------ worker processes
#
# On the CPU each worker is a process with one thread. Threads of one process were measured
# 8-10% slower for the same work (benchmarks/README.md): they contend for the interpreter lock
# between the many small operations of a step, and for the process's memory map. A worker
# trains units and sends events; everything the user sees and the store are handled here, in
# the main process, which is also the only one that writes run records.


# fork shares the data with the workers for free; where fork is unsafe (macOS, Windows), spawn.
START_METHOD = "fork" if sys.platform == "linux" else "spawn"


def _run_in_processes(schedule: Schedule, data: DeviceData, driver: StudyDriver, cancel: threading.Event) -> None:
    context = multiprocessing.get_context(START_METHOD)
    # The next unit to take, shared by the workers: a counter, not a queue filled up front (a
    # pipe holds about 64 KB, so filling one with thousands of unit numbers blocked for ever).
    tasks, events, stop = context.Value("q", 0), context.Queue(), context.Event()
    workers = [context.Process(target=_worker, name=f"reglab-worker-{w}", daemon=True,
                               args=(schedule, data, driver.store, driver.checkpoint_seconds, tasks, events, stop,
                                     os.getpid()))
               for w in range(min(schedule.workers, len(schedule.units)))]
    failure: BaseException | None = None
    running, finished, lost = len(workers), 0, []
    try:
        for worker in workers:
            worker.start()
        while running:
            if cancel.is_set():
                stop.set()  # workers stop at their next epoch end, after a checkpoint
            try:
                message = events.get(timeout=0.1)
            except queue.Empty:
                # A worker killed from outside (the out-of-memory killer) sends nothing more: the
                # others save and stop, and the study ends with a message and the resume hint.
                for worker in workers:
                    if worker.exitcode not in (None, 0) and worker not in lost:
                        lost.append(worker)
                        running -= 1
                        if failure is None:
                            failure = WorkerLost(worker.exitcode, driver.store.root)
                            stop.set()
                if running and any(worker.is_alive() for worker in workers):
                    continue
                try:  # all have exited: whatever they sent last is already in the pipe
                    message = events.get(timeout=1.0)
                except queue.Empty:
                    if failure is not None:
                        break
                    codes = [worker.exitcode for worker in workers]
                    raise WorkerLost(next((c for c in codes if c), 1), driver.store.root) from None
            kind, number, *payload = message
            unit = schedule.units[number] if number is not None else None
            if kind == "started":
                driver.unit_started(unit)
            elif kind == "epoch":
                driver.epoch_finished(unit, *payload)
            elif kind == "finished" and failure is None:
                finished += 1
                try:
                    driver.unit_finished(unit, payload[0])
                except Exception as error:  # a full disk: the workers end their epochs and checkpoint
                    failure = error
                    stop.set()
            elif kind == "failed" and failure is None:
                failure = _rebuilt(*payload)
                stop.set()
            elif kind == "exit":
                running -= 1
    except BaseException:
        # A second Ctrl-C: stop now; the checkpoints on disk are kept.
        for worker in workers:
            if worker.is_alive():
                worker.kill()
        raise
    finally:
        for worker in workers:
            worker.join(timeout=5)
    if failure is not None:
        raise failure
    if finished < len(schedule.units):  # stopped (Ctrl-C) before every unit was trained
        raise Interrupted


def _worker(schedule: Schedule, data: DeviceData, store, checkpoint_seconds: float | None, tasks, events,
            stop, parent: int) -> None:
    die_with_parent(parent)  # and Ctrl-C is the main process's to handle; a TERM ends a worker
    torch.set_num_threads(schedule.threads_per_worker or 1)
    # A spawned worker (macOS, Windows) starts without what execute() imported before forking:
    # without this, its first run's time included torch._dynamo's import (1.2 s of 2 epochs on digits).
    import_dynamo()
    try:
        while (number := _take(tasks, len(schedule.units))) is not None and not stop.is_set():
            unit = schedule.units[number]
            events.put(("started", number))

            def epoch_done(position: int, record: EpochRecord, number: int = number) -> None:
                events.put(("epoch", number, position, record))
                if stop.is_set():
                    raise Interrupted

            try:
                outcomes = train_unit(unit, data, epoch_done, unit_checkpointer(unit, store, checkpoint_seconds, stop))
            except Interrupted:
                break
            except ReglabError as error:
                events.put(("failed", number, str(error), error.exit_code))
                break
            except Exception:
                events.put(("failed", number, traceback.format_exc(), None))
                break
            events.put(("finished", number, outcomes))
    finally:
        events.put(("exit", None))


def _take(counter, total: int) -> int | None:
    """The number of the next unit to train, or None when every unit has been taken."""
    with counter.get_lock():
        number = counter.value
        counter.value += 1
    return number if number < total else None


class WorkerLost(ReglabError):
    """A training worker process ended without a word: killed from outside."""

    exit_code = 1

    def __init__(self, code: int, run_dir):
        how = (f"was killed by {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals()
               else f"ended with exit code {code}")
        super().__init__(f"a training worker process {how} (the system's out-of-memory killer sends SIGKILL "
                         f"when memory runs out). Finished runs and checkpoints are kept in {run_dir}. "
                         f"Resume with: reglab resume {run_dir}")


def _rebuilt(message: str, exit_code: int | None) -> BaseException:
    """A worker's failure as an exception of this process (exceptions do not all survive pickling)."""
    if exit_code is None:
        return RuntimeError(f"a training worker failed:\n{message}")
    error = ReglabError(message)
    error.exit_code = exit_code
    return error


def train_unit(unit: Unit, data: DeviceData, epoch_done: Callable[[int, EpochRecord], None],
               checkpoint: Checkpointer | None) -> list[RunOutcome]:
    """Train a unit; epoch_done(position of the run in the unit, record) after each epoch of each run."""
    if unit.stacked:
        return train_stack(data, [(variant, seed) for _, variant, seed in unit.members],
                           on_epoch=epoch_done, checkpoint=checkpoint)
    _, variant, seed = unit.members[0]
    return [train_run(data, variant, seed, on_epoch=lambda record: epoch_done(0, record), checkpoint=checkpoint)]


def _run_in_order(schedule: Schedule, run_unit: Callable[[Unit], None], observer) -> None:
    """One worker (the GPU, or the reference engine): a stack too big for the GPU's memory is
    split in two and trained again from its start; results are the same, only slower."""
    queue = deque(schedule.units)
    while queue:
        unit = queue.popleft()
        try:
            run_unit(unit)
        except torch.OutOfMemoryError:
            if not unit.stacked or len(unit.members) == 1:
                raise ReglabError("out of GPU memory training a single run. Fix: a smaller batch_size or "
                                  "hidden widths, or --device cpu.") from None
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            half = len(unit.members) // 2
            observer.notice(f"out of GPU memory with a stack of {len(unit.members)} runs: splitting it into "
                            f"{half} + {len(unit.members) - half} and going on")
            queue.appendleft(Unit(unit.members[half:], True))
            queue.appendleft(Unit(unit.members[:half], True))
