"""How many runs a study makes and about how long it will take, said before anything trains.

The time is measured, not guessed from a constant: a few training steps of each architecture on
this machine, times the study's steps. It is a rough guide: the fast engine stacks runs and is
usually quicker, and a shared machine drifts."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

from reglab.engine.startup import import_dynamo, long_lived_imports

with long_lived_imports():  # see reglab/engine/startup.py
    import torch
    import torch.nn.functional as F

MEASURED_STEPS = 8
EVALUATION_SHARE = 0.25  # validation each epoch and the final test, on top of the training steps
DIGITS_INPUTS, IMAGE_INPUTS = 64, 784


@dataclass(frozen=True)
class Plan:
    runs: int
    variants: int
    seeds: int
    steps: int  # optimizer steps over every run
    seconds: float | None  # measured estimate, None when not measured

    def describe(self) -> str:
        text = (f"This study makes {self.runs:,} run{'s' if self.runs != 1 else ''} ({self.variants} "
                f"variant{'s' if self.variants != 1 else ''} x {self.seeds} seed{'s' if self.seeds != 1 else ''})")
        if self.seconds is None:
            return text + "."
        return text + f"; estimated time about {duration(self.seconds)} (measured from a few training steps here; " \
                      "a rough guide)."


def plan(study, device: str = "cpu", measure: bool = True) -> Plan:
    train = _train_size(study)
    seeds = len(study.seeds)
    steps_by_variant = [v.epochs * math.ceil(train / v.batch_size) for v in study.variants]
    seconds = None
    if measure:
        per_step: dict[tuple, float] = {}
        seconds = 0.0
        for variant, steps in zip(study.variants, steps_by_variant):
            key = (variant.hidden, min(variant.batch_size, train))
            if key not in per_step:
                per_step[key] = _step_seconds(_inputs(study), variant.hidden, key[1], device)
            seconds += per_step[key] * steps * seeds * (1 + EVALUATION_SHARE)
        seconds /= _runs_side_by_side(device)
    return Plan(len(study.variants) * seeds, len(study.variants), seeds, sum(steps_by_variant) * seeds, seconds)


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _runs_side_by_side(device: str) -> int:
    """On the CPU one single-thread worker per core trains runs side by side (engine/scheduler.py),
    and a step is measured with one thread; a GPU trains one stack at a time."""
    if device in ("cuda", "auto") and torch.cuda.is_available():
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _inputs(study) -> int:
    return DIGITS_INPUTS if study.data.dataset == "digits" else IMAGE_INPUTS


def _train_size(study) -> int:
    # digits has 1,797 images split in proportion; the MNIST-like sets have 60,000 training images
    if study.data.dataset == "digits":
        total = study.data.train + study.data.validation + study.data.test
        return max(1, min(study.data.train, int(study.data.train * 1797 / max(total, 1797))))
    return study.data.train


def _step_seconds(inputs: int, hidden: tuple[int, ...], batch: int, device: str) -> float:
    target = torch.device("cuda" if device in ("cuda", "auto") and torch.cuda.is_available() else "cpu")
    generator = torch.Generator().manual_seed(0)
    widths = (inputs, *hidden, 10)
    layers = [torch.nn.Linear(a, b) for a, b in zip(widths, widths[1:])]
    model = torch.nn.Sequential(*[m for layer in layers for m in (layer, torch.nn.ReLU())][:-1]).to(target)
    import_dynamo()  # Adam imports it anyway: here once, without the garbage collector
    optimizer = torch.optim.Adam(model.parameters())
    x = torch.rand(batch, inputs, generator=generator).to(target)
    y = torch.randint(0, 10, (batch,), generator=generator).to(target)

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    # On the CPU with one thread, as each CPU worker trains (engine/scheduler.py): with torch's
    # default two threads on a loaded two-core machine a step of the tutorial's model took 0.4 to
    # 1.1 s instead of 20 ms (the threads wait for each other), and the estimate 8 s of start-up.
    threads = torch.get_num_threads()
    if target.type == "cpu":
        torch.set_num_threads(1)
    try:
        step()  # the first steps allocate and warm up
        step()
        timings = []
        for _ in range(MEASURED_STEPS):
            started = time.perf_counter()
            step()
            if target.type == "cuda":
                torch.cuda.synchronize()
            timings.append(time.perf_counter() - started)
    finally:
        torch.set_num_threads(threads)
    # The fastest step: on a shared machine the others measure the neighbours, not the study.
    return min(timings)
