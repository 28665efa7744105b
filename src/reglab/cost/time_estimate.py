"""How many runs a study makes, and how long the command will take, said before anything trains.

The count is said at once (`plan`). The time (`estimate`) is a model of the program that will
run, measured here once the data is loaded and the engine has planned its work:

    total = so far (start-up: imports, the data) + training + report

- training: the engine's own schedule (engine/scheduler.plan: which units, stacked how, on how
  many workers, in which order). Each kind of unit is *probed*: the engine's train_unit, on the
  real data's first rows, for PROBE_EPOCHS epochs, once with one step an epoch and once with
  1 + PROBE_STEPS steps. The two give the seconds of a step and of an evaluated row (validation,
  and a batch-norm variant's training rows), and what a unit costs once (building it, testing
  it). Whatever the architecture, engine, stacking or device, the probe runs the code that the
  study runs. A unit then costs  once + epochs x (steps x step + rows x row), and the units are
  laid on the workers as the executor hands them out (each free worker takes the next unit);
  training ends when the last worker does.
- report: REPORT_* below, seconds of one core measured with benchmarks/bench_estimate.py, the
  figures drawn over up to four processes as report/figures.py does.

A machine that others share: the probes keep the fastest epoch (what the code costs on free
cores). How long others will keep the cores is not predictable from a few seconds (tried: the
share of a core the probes had, turned into the workers' share, said 2.1 min for a digits
tutorial that took 42 s, at a load of 15 on two cores), so the estimate says when the probes' thread had less than BUSY of its
core (CPU time over wall time) instead of scaling the number. Not modelled: early stopping (the estimate assumes every epoch runs). When the model cannot
be applied (a cluster; more kinds of unit than MAX_PROBES) the estimate says so and gives no
number. benchmarks/bench_estimate.py keeps its error: estimate against actual for the built-in
studies (benchmarks/README.md).
"""

from __future__ import annotations

import heapq
import os
import time
from dataclasses import dataclass, replace

PROBE_EPOCHS = 3  # the first warms up; the fastest of the others is kept
PROBE_STEPS = 8  # the second probe's extra steps an epoch
PROBE_ROWS = 2048  # at most this many validation and test rows in a probe; more are scaled
MAX_PROBES = 24  # kinds of unit probed at most; beyond, no number
BUSY = 0.9  # a probe thread with less of its core than this: the machine is busy, and it is said
# The report (report/__init__.write_report), seconds of one core on the machine of
# benchmarks/README.md: imports and HTML; per variant (analysis, its curves in the figures);
# per run (reading its records, arrays and predictions). Figures are drawn by up to 4 processes.
REPORT_FIXED = 1.5
REPORT_PER_VARIANT = 0.45
REPORT_PER_RUN = 0.02
REPORT_PARALLEL_SHARE = 0.7  # of the report's work, the figures', spread over the processes


@dataclass(frozen=True)
class Plan:
    runs: int
    variants: int
    seeds: int

    def describe(self) -> str:
        return (f"This study makes {self.runs:,} run{'s' if self.runs != 1 else ''} ({self.variants} "
                f"variant{'s' if self.variants != 1 else ''} x {self.seeds} seed{'s' if self.seeds != 1 else ''}).")


def plan(study) -> Plan:
    """The count of runs: instant, torch-free."""
    seeds = len(study.seeds)
    return Plan(len(study.variants) * seeds, len(study.variants), seeds)


@dataclass(frozen=True)
class Estimate:
    so_far: float
    training: float | None  # None: not modelled (the reason says why)
    report: float
    reason: str = ""
    busy: float = 1.0  # the share of a core the probes' thread had (CPU time over wall time)

    @property
    def seconds(self) -> float | None:
        return None if self.training is None else self.so_far + self.training + self.report

    def describe(self) -> str:
        if self.training is None:
            return f"no time estimate: {self.reason}"
        parts = f"training {duration(self.training)}" + (f", report {duration(self.report)}" if self.report else "")
        text = (f"estimated time about {duration(self.seconds)} in all ({parts}; measured from a few steps of "
                "each kind of run here, assuming every epoch runs and the cores are free)")
        if self.busy < BUSY:
            text += (f". This machine is busy (the measuring thread had {self.busy:.0%} of a core): "
                     "expect longer")
        return text


@dataclass(frozen=True)
class UnitCost:
    """What one kind of unit costs: once, per step, per evaluated row."""

    once: float
    step: float
    row: float


def estimate(schedule, data, *, so_far: float, report_runs: tuple[int, int] | None, cluster: bool = False) -> Estimate:
    """The estimate for training `schedule` on `data` (engine.core.DeviceData), `so_far` seconds
    after the command started; report_runs (variants, runs) when a report follows."""
    report = report_seconds(*report_runs, cores=_cores()) if report_runs else 0.0
    if cluster:
        return Estimate(so_far, None, report, "the units train on a cluster, whose machines are not measured here")
    if not schedule.units:
        return Estimate(so_far, 0.0, report)
    kinds = {_kind(unit) for unit in schedule.units}
    if len(kinds) > MAX_PROBES:
        return Estimate(so_far, None, report, f"{len(kinds)} different kinds of run, too many to measure "
                                              f"quickly (at most {MAX_PROBES})")
    measuring, cpu = time.perf_counter(), time.thread_time()
    costs = {kind: probe(next(u for u in schedule.units if _kind(u) == kind), data, schedule.threads_per_worker)
             for kind in kinds}
    probing = time.perf_counter() - measuring
    got = (time.thread_time() - cpu) / probing if probing > 0 else 1.0
    times = [unit_seconds(unit, costs[_kind(unit)], data) for unit in schedule.units]
    so_far += probing  # the probes are part of the command's time
    return Estimate(so_far, makespan(times, schedule.workers), report, busy=min(1.0, got))


def unit_seconds(unit, cost: UnitCost, data) -> float:
    """A unit on the whole data: once + epochs x (steps x step + rows x row). A stack trains as
    long as its longest run."""
    from reglab.engine.core import batch_bounds

    n, validation, test = len(data.y_train), len(data.y_val), len(data.y_test)
    epochs = max(variant.epochs for _, variant, _ in unit.members)
    variant = unit.members[0][1]
    per_epoch = len(batch_bounds(n, variant)) * cost.step + _evaluated_rows(variant, n, validation) * cost.row
    return cost.once + cost.row * max(0, test - min(test, PROBE_ROWS)) + epochs * per_epoch


def makespan(times: list[float], workers: int) -> float:
    """When the last worker ends, each free worker taking the next unit in order (scheduler._take)."""
    free = [0.0] * max(1, min(workers, len(times)))
    for seconds in times:
        heapq.heappush(free, heapq.heappop(free) + seconds)
    return max(free)


def report_seconds(variants: int, runs: int, cores: int) -> float:
    work = REPORT_FIXED + REPORT_PER_VARIANT * variants + REPORT_PER_RUN * runs
    processes = max(1, min(cores, 4))
    return work * (1 - REPORT_PARALLEL_SHARE) + work * REPORT_PARALLEL_SHARE / processes


def probe(unit, data, threads: int | None) -> UnitCost:
    """Time the engine's own train_unit on the first rows of the data: one step an epoch, then
    1 + PROBE_STEPS; each for PROBE_EPOCHS epochs, the fastest epoch after the first kept."""
    import torch

    from reglab.engine.startup import import_dynamo

    import_dynamo()  # paid once before the workers fork, as the executor does
    variant = unit.members[0][1]
    n = len(data.y_train)
    short = [(index, replace(v, epochs=PROBE_EPOCHS), seed) for index, v, seed in unit.members]
    probe_unit = replace(unit, members=tuple(short))
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        results = []
        for steps in (1, 1 + PROBE_STEPS):
            rows = min(n, steps * variant.batch_size)
            sample = _first_rows(data, rows)
            taken = len(_bounds(rows, variant))
            epoch, total = _timed(probe_unit, sample)
            results.append((taken, _evaluated_rows(variant, rows, len(sample.y_val)), epoch, total))
    finally:
        torch.set_num_threads(previous)
    (s1, r1, e1, total1), (s2, r2, e2, _) = results
    step, row = _solve(s1, r1, e1, s2, r2, e2)
    once = max(0.0, total1 - PROBE_EPOCHS * e1)
    return UnitCost(once, step, row)


def _solve(s1: int, r1: int, e1: float, s2: int, r2: int, e2: float) -> tuple[float, float]:
    """step and row from  e = s x step + r x row  for the two probes; never negative (a shared
    machine's noise): then the larger probe's epoch is charged to its steps."""
    det = s1 * r2 - s2 * r1
    if det != 0:
        step, row = (e1 * r2 - e2 * r1) / det, (s1 * e2 - s2 * e1) / det
        if step > 0 and row >= 0:
            return step, row
    return e2 / max(s2, 1), 0.0


def _timed(unit, data) -> tuple[float, float]:
    """(the fastest epoch after the first, the whole call) of training `unit` on `data`."""
    from reglab.engine.scheduler import train_unit

    ends: dict[int, float] = {}

    def epoch_done(position: int, record) -> None:
        ends.setdefault(record.epoch, time.perf_counter())

    started = time.perf_counter()
    train_unit(unit, data, epoch_done, None)
    total = time.perf_counter() - started
    marks = [ends[e] for e in sorted(ends)]
    epochs = [b - a for a, b in zip(marks, marks[1:])]
    return (min(epochs) if epochs else total / PROBE_EPOCHS), total


def _first_rows(data, rows: int):
    return replace(data, x_train=data.x_train[:rows], y_train=data.y_train[:rows],
                   x_val=data.x_val[:PROBE_ROWS], y_val=data.y_val[:PROBE_ROWS],
                   x_test=data.x_test[:PROBE_ROWS], y_test=data.y_test[:PROBE_ROWS])


def _bounds(n: int, variant) -> list:
    from reglab.engine.core import batch_bounds

    return batch_bounds(n, variant)


def _evaluated_rows(variant, train: int, validation: int) -> int:
    """Rows evaluated at each epoch's end: validation, and a batch-norm variant's training rows."""
    from reglab.engine.core import TRAIN_EVAL_ROWS

    return validation + (min(train, TRAIN_EVAL_ROWS) if variant.switch("batch_norm") is not None else 0)


def _kind(unit) -> tuple:
    """Units that cost the same: the same runs up to their seeds, epochs and techniques' strengths."""
    return (unit.stacked, tuple((v.model, v.model_params, v.hidden, v.batch_size, v.activation.name,
                                 v.optimizer.name, v.schedule.name, tuple(c.name for c in v.switches))
                                for _, v, _ in unit.members))


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def process_seconds() -> float:
    """Seconds since this process started (Linux: /proc), else 0: the start-up a command already spent."""
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            started_ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as handle:
            uptime = float(handle.read().split()[0])
        return max(0.0, uptime - started_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 600:
        return f"{seconds / 60:.1f} min"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
