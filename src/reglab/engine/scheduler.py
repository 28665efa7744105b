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
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass

import torch

from reglab.config import StudySpec, VariantSpec
from reglab.engine.checkpoint import Checkpointer
from reglab.engine.fast import stack_key, train_stack
from reglab.engine.reference import DeviceData, RunOutcome, train_run
from reglab.errors import ReglabError

ENGINES = ("auto", "reference", "fast")


@dataclass(frozen=True)
class Unit:
    """Runs trained together in the fast engine if `stacked` (one or more), else a single run in the
    reference loop."""

    members: tuple[tuple[int, VariantSpec, int], ...]  # (variant index, variant, seed)
    stacked: bool

    def cost(self, input_dim: int) -> float:
        """Multiply-adds per example, times epochs: what a unit costs, for ordering the work."""
        total = 0.0
        for _, variant, _ in self.members:
            widths = (input_dim, *variant.hidden, 10)
            total += variant.epochs * sum(a * b for a, b in zip(widths, widths[1:]))
        return total


@dataclass(frozen=True)
class Schedule:
    units: tuple[Unit, ...]
    workers: int
    threads_per_worker: int | None  # None: leave torch's thread count as it is
    notices: tuple[str, ...] = ()


def plan(study: StudySpec, engine: str, device: torch.device, input_dim: int = 784,
         cores: int | None = None, done: frozenset[tuple[str, int]] = frozenset()) -> Schedule:
    """The units to train. Units whose runs are all in `done` (variant name, seed) are skipped; a
    stack with some runs done is trained whole again, so that resuming stacks the runs exactly as
    the first attempt did (the stack's products round the same way) and the results are identical."""
    schedule = _plan_all(study, engine, device, input_dim, cores or available_cores())
    pending = tuple(u for u in schedule.units if any((v.name, seed) not in done for _, v, seed in u.members))
    return Schedule(pending, schedule.workers, schedule.threads_per_worker, schedule.notices)


def _plan_all(study: StudySpec, engine: str, device: torch.device, input_dim: int, cores: int) -> Schedule:
    if engine not in ENGINES:
        raise ReglabError(f"--engine {engine!r} is not known: use {', '.join(ENGINES)}.")
    runs = [(index, variant, seed) for seed in study.seeds for index, variant in enumerate(study.variants)]
    cpu = device.type == "cpu"
    if engine == "reference":
        return Schedule(tuple(Unit((run,), False) for run in runs), workers=1, threads_per_worker=None)
    if engine == "auto" and cpu:
        units = [Unit((run,), stack_key(run[1]) is not None) for run in runs]
        return Schedule(_longest_first(units, input_dim), workers=cores, threads_per_worker=1)

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
        names = sorted({variant.name for _, variant, _ in (u.members[0] for u in alone)})
        notices.append(f"{', '.join(names)}: trained in the reference loop (a technique the fast engine "
                       "does not stack)")
    units = list(alone)
    for members in groups.values():
        # On the CPU each worker gets a share of a group, so that both cores have work.
        size = math.ceil(len(members) / cores) if cpu else len(members)
        units += [Unit(tuple(members[i:i + size]), True) for i in range(0, len(members), size)]
    return Schedule(_longest_first(units, input_dim), workers=cores if cpu else 1,
                    threads_per_worker=1 if cpu else None, notices=tuple(notices))


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _longest_first(units: list[Unit], input_dim: int) -> tuple[Unit, ...]:
    # Longest processing time first: a greedy order that keeps the workers' loads even.
    return tuple(sorted(units, key=lambda u: -u.cost(input_dim)))


class Interrupted(Exception):
    """Raised inside a worker at an epoch boundary once the study has been asked to stop."""


def execute(schedule: Schedule, data: DeviceData, store, observer,
            cancel: threading.Event | None = None, checkpoint_seconds: float | None = None) -> None:
    """Train every unit, save each run as its unit ends; re-raises the first failure.

    With `checkpoint_seconds`, single runs (in either engine) save an epoch checkpoint at most that
    often (and when `cancel` is set) beside their record, and pick it up again if one is there."""
    cancel = cancel or threading.Event()
    lock = threading.Lock()  # the store and the observer are touched by one worker at a time

    def epoch_done(variant: VariantSpec) -> Callable:
        def report(record) -> None:
            with lock:
                observer.epoch_finished(variant, record)
            if cancel.is_set():
                raise Interrupted
        return report

    def run_unit(unit: Unit) -> None:
        with lock:
            observer.runs_started([(variant, seed) for _, variant, seed in unit.members])
        checkpoint = None
        if checkpoint_seconds is not None and len(unit.members) == 1:
            index, variant, seed = unit.members[0]
            checkpoint = Checkpointer(store.checkpoint_path(index, variant.name, seed), checkpoint_seconds, cancel,
                                      engine="fast" if unit.stacked else "reference")
        outcomes = _train(unit, data, epoch_done, checkpoint)
        with lock:
            for (index, _, _), outcome in zip(unit.members, outcomes):
                store.save_run(index, outcome.record, outcome.arrays)
                observer.run_finished(outcome.record)

    previous_threads = torch.get_num_threads()
    if schedule.threads_per_worker:
        torch.set_num_threads(schedule.threads_per_worker)
    try:
        if schedule.workers == 1:
            _run_in_order(schedule, run_unit, observer)
        else:
            with ThreadPoolExecutor(schedule.workers, thread_name_prefix="reglab-worker") as pool:
                futures = [pool.submit(run_unit, unit) for unit in schedule.units]
                try:
                    done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                except BaseException:
                    cancel.set()  # Ctrl-C: workers stop at their next epoch boundary
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
                for future in done:
                    if future.exception() is not None:
                        cancel.set()
                        pool.shutdown(wait=True, cancel_futures=True)
                        raise future.exception()
    finally:
        torch.set_num_threads(previous_threads)


def _train(unit: Unit, data: DeviceData, epoch_done: Callable, checkpoint: Checkpointer | None) -> list[RunOutcome]:
    if unit.stacked:
        variants = [variant for _, variant, _ in unit.members]
        return train_stack(data, [(variant, seed) for _, variant, seed in unit.members],
                           on_epoch=lambda r, record: epoch_done(variants[r])(record), checkpoint=checkpoint)
    _, variant, seed = unit.members[0]
    return [train_run(data, variant, seed, on_epoch=epoch_done(variant), checkpoint=checkpoint)]


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
