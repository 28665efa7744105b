"""What both engines share: the data on the device, a run's techniques, evaluation, the end of an
epoch and of a run. The reference loop (engine/reference.py) and the fast engine (engine/fast.py)
are peers over this module; engine/checkpoint.py is their one checkpoint file format.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from reglab.config import VariantSpec
from reglab.engine.seeding import generator
from reglab.errors import ConfigError
from reglab.store.records import COMPLETED, DIVERGED, SKETCH_BUCKETS, EpochRecord, RunArrays, RunRecord
from reglab.models import check_fits  # noqa: F401  (engine.study and tests import it from here)
from reglab.techniques import registry
from reglab.techniques.hooks import HOOKS, Context, Weights, overrides

STOPPED = "stopped"  # early stopping ended the run; its status stays COMPLETED
EVAL_CHUNK = 8192  # rows per forward pass in evaluation: bounds memory on big test sets
# Training rows evaluated in evaluation mode at each epoch end of a batch-norm variant (for
# EpochRecord.train_eval_loss): one forward pass over at most this many rows, a few % of an epoch.
TRAIN_EVAL_ROWS = 2048


# Datasets whose split sizes are the built-in studies' own; data a user brings are held to a full batch.
BUILT_IN_IMAGES = ("auto", "mnist", "fashion-mnist", "kmnist", "digits")


def check_data_fits(study, splits) -> None:
    """Before anything trains: what a variant asks of the data, the data can give. A model that
    takes images (a CNN) and image augmentation need images, not a table's columns; data a user
    brought need at least one full batch of training rows."""
    problems = []
    table = splits.kind != "images"
    own = study.data.path is not None or study.data.dataset not in BUILT_IN_IMAGES
    for index, variant in enumerate(study.variants):
        where = f"variants[{index}] ({variant.name!r})"
        if table and variant.architecture.fits(variant, tuple(splits.image_shape)):
            problems.append(f"{where}: model {variant.model!r} takes images, and these data are a table of "
                            f"{splits.image_shape[1]} columns. Fix: a dense model (model = \"mlp\")")
        if table and variant.switch("augmentation") is not None:
            problems.append(f"{where}: augmentation shifts and rotates images, and these data are a table of "
                            f"{splits.image_shape[1]} columns. Fix: remove augmentation")
        if own and len(splits.y_train) < variant.batch_size:
            problems.append(f"{where}: batch_size {variant.batch_size} is more than the {len(splits.y_train)} "
                            f"training rows, so every epoch is one partial batch. Fix: batch_size = "
                            f"{max(1, len(splits.y_train) // 4)} or less, or more training rows")
    if problems:
        raise ConfigError(study.source or study.name, problems)


@dataclass(frozen=True)
class DeviceData:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: int
    image_shape: tuple[int, int]

    @classmethod
    def from_arrays(cls, splits, device: torch.device | str) -> DeviceData:
        """From a data.Splits (float32 features, int labels) to tensors on `device`, once per study."""
        def put(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.tensor(array, dtype=dtype, device=device)  # copies: the source may be read-only

        return cls(
            put(splits.x_train, torch.float32), put(splits.y_train, torch.int64),
            put(splits.x_val, torch.float32), put(splits.y_val, torch.int64),
            put(splits.x_test, torch.float32), put(splits.y_test, torch.int64),
            classes=len(splits.class_names), image_shape=tuple(splits.image_shape),
        )

    @property
    def input_dim(self) -> int:
        return self.x_train.shape[1]

    def train_eval_rows(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x_train[:TRAIN_EVAL_ROWS], self.y_train[:TRAIN_EVAL_ROWS]

    def training_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # index_select, not x[indices]: the same rows, 6x faster on the CPU for 128 rows of 784
        # (25 µs against 160 µs, measured), and every step gathers one batch.
        return self.x_train.index_select(0, indices), self.y_train.index_select(0, indices)


@dataclass(frozen=True)
class RunOutcome:
    record: RunRecord
    arrays: RunArrays


class Techniques:
    """A run's techniques, built once from the registry: each switch's runtime object
    (techniques/hooks.py) and the schedule, with the hooks each acts at. Both engines call these
    methods at the same points of a step and an epoch; nothing here names a technique.

    `seed` and `device` seed the techniques' own random streams (Technique.stream); without a seed
    (tests that only read the hooks) there are none."""

    def __init__(self, variant: VariantSpec, base_lr: float, *, image_shape: tuple[int, int] = (0, 0),
                 classes: int = 0, seed: int | None = None, device: torch.device | str = "cpu"):
        self.entries = registry.built(variant)
        self.streams: dict[str, torch.Generator] = {}
        for technique, runtime in self.entries:
            if technique.stream is not None and seed is not None:
                if technique.stream not in self.streams:
                    self.streams[technique.stream] = generator(seed, technique.stream, device)
                runtime.generator = self.streams[technique.stream]
        self.schedule = registry.lookup("schedule", variant.schedule.name).build(
            dict(variant.schedule.params), base_lr)
        self.per_step_schedule = variant.schedule["unit"] == "step"
        # A schedule that watches the run's own epochs gives the run a learning rate of its own.
        self.own_lr = overrides(self.schedule, "epoch_end")
        runtimes = [self.schedule, *(runtime for _, runtime in self.entries)]
        self._at = {hook: [r for r in runtimes if overrides(r, hook)] for hook in HOOKS}
        for hook in ("objective", "step_gradients", "evaluation_weights"):
            if len(self._at[hook]) > 1:
                names = [t.name for t, r in self.entries if overrides(r, hook)]
                raise ConfigError(variant.name, [f"{' and '.join(names)} both replace the {hook.replace('_', ' ')}: "
                                                 "choose one of them"])
        # Running statistics to check at epoch ends (EpochRecord.train_eval_loss).
        self.batch_statistics = any(t.batch_statistics for t, _ in self.entries)
        self.context = Context(tuple(image_shape), classes, base_lr=base_lr)

    def acts_at(self, hook: str) -> bool:
        return bool(self._at[hook])

    # ----------------------------------------------------------------- a step, in its order

    def transform_batch(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for hooks in self._at["transform_batch"]:
            x, y = hooks.transform_batch(x, y, self.context)
        return x, y

    def objective(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
        """The training objective, or None for the plain cross-entropy (at most one technique replaces it)."""
        for hooks in self._at["objective"]:
            return hooks.objective(logits, y, self.context)
        return None

    def step_gradients(self, compute, weights: Weights):
        for hooks in self._at["step_gradients"]:
            return hooks.step_gradients(compute, weights, self.context)
        return compute()

    def gradients(self, weights: Weights) -> torch.Tensor | None:
        """After backward: every gradient hook in order; the sum of what they add to the objective."""
        values = [v for v in (h.gradients(weights, self.context) for h in self._at["gradients"]) if v is not None]
        return sum(values) if values else None

    def before_step(self, weights: Weights) -> None:
        for hooks in self._at["before_step"]:
            hooks.before_step(weights, self.context)

    def after_step(self, weights: Weights) -> None:
        for hooks in self._at["after_step"]:
            hooks.after_step(weights, self.context)

    # ----------------------------------------------------------------- an epoch's end

    def penalty(self, weights: Weights) -> float:
        """What the techniques add to the objective at these weights (EpochRecord.penalty)."""
        values = [v for v in (h.penalty(weights) for h in self._at["penalty"]) if v is not None]
        return sum(values).item() if values else 0.0  # .item(): once per epoch

    def epoch_fields(self) -> dict:
        """The techniques' fields of the epoch's record (max-norm's peak); where two give one, the larger."""
        return _merged(hooks.epoch_fields() for hooks in self._at["epoch_fields"])

    def run_fields(self) -> dict:
        return _merged(hooks.run_fields() for hooks in self._at["run_fields"])

    @contextmanager
    def evaluating(self, model: torch.nn.Module, x_train: torch.Tensor) -> Iterator[None]:
        """Evaluate inside: with the weights a technique gives for evaluation (an average), the
        trained ones back afterwards. Nothing to do (no copy) for a variant without one."""
        if not self._at["evaluation_weights"]:
            yield
            return
        trained = {name: value.clone() for name, value in model.state_dict().items()}
        try:
            self.final_weights(model, x_train)
            yield
        finally:
            model.load_state_dict(trained)

    def final_weights(self, model: torch.nn.Module, x_train: torch.Tensor) -> None:
        """At the run's end: the weights to test and store, when a technique gives them (an average)."""
        for hooks in self._at["evaluation_weights"]:
            with torch.no_grad():
                hooks.evaluation_weights(model, x_train, self.context)

    def end_of_epoch(self, record: EpochRecord) -> tuple[str | None, bool]:
        """After an epoch, in both engines: (DIVERGED, STOPPED or None to go on, whether to keep this
        epoch's weights as the best). A loss that is not finite ends the run before anything else."""
        if not (math.isfinite(record.train_loss) and math.isfinite(record.val_loss)):
            return DIVERGED, False
        stop = keep = False
        for hooks in self._at["epoch_end"]:
            verdict = hooks.epoch_end(record, self.context)
            if verdict is not None:
                stop, keep = stop or verdict.stop, keep or verdict.keep_weights
        return (STOPPED if stop else None), keep

    def state_dict(self) -> dict:
        """What a checkpoint keeps of the techniques: each stateful one's state, by name."""
        state = {t.name: r.state_dict() for t, r in self.entries if overrides(r, "state_dict")}
        if overrides(self.schedule, "state_dict"):
            state["schedule"] = self.schedule.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        for technique, runtime in self.entries:
            if overrides(runtime, "state_dict"):
                runtime.load_state_dict(state[technique.name])
        if overrides(self.schedule, "state_dict"):
            self.schedule.load_state_dict(state["schedule"])


def _merged(parts) -> dict:
    merged: dict = {}
    for part in parts:
        for key, value in part.items():
            if value is not None and merged.get(key) is not None:
                value = max(value, merged[key])
            merged[key] = value if value is not None else merged.get(key)
    return merged


def batch_bounds(n: int, variant: VariantSpec) -> list[tuple[int, int]]:
    """(start, stop) of each training batch of an epoch, in both engines. Batch normalization
    cannot normalize a batch of one example in training (PyTorch refuses: its variance is
    undefined), so with it a last batch of one joins the batch before it (e.g. batch_size 16 on
    digits' 817 training images: 50 batches, the last of 17)."""
    bounds = [(start, min(start + variant.batch_size, n)) for start in range(0, n, variant.batch_size)]
    switches = registry.switches()
    statistics = any(switches[c.name].batch_statistics for c in variant.switches)
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1 and statistics:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def tested_outcome(model: torch.nn.Module, data: DeviceData, *, variant: VariantSpec, seed: int, status: str,
                   history: list[EpochRecord], seconds: float, engine: str, diverged_at: int | None,
                   stopped_epoch: int | None, sketches: list[np.ndarray], run_fields: dict) -> RunOutcome:
    """How every run ends, in either engine: test its final model and package the record with its
    arrays (`sketches`: one weight sketch per epoch of `history`, engine/sketch.py)."""
    test_loss, test_accuracy, predictions = evaluate(model, data.x_test, data.y_test)
    finite = status == COMPLETED
    record = RunRecord(
        variant=variant.name, seed=seed, status=status, history=tuple(history),
        test_loss=test_loss if finite else None, test_accuracy=test_accuracy if finite else None,
        seconds=seconds, engine=engine, diverged_at=diverged_at, stopped_epoch=stopped_epoch, **run_fields,
    )
    weights = {name: p.detach().cpu().numpy().copy() for name, p in model.state_dict().items()}
    sketched = np.stack(sketches).astype(np.float32) if sketches else np.zeros((0, SKETCH_BUCKETS), np.float32)
    return RunOutcome(record, RunArrays(predictions.cpu().numpy().astype(np.int16), weights, sketched))


@torch.no_grad()  # on a generator, torch sets and restores grad mode around each step, not between them
def chunked_logits(model: torch.nn.Module, x: torch.Tensor) -> Iterator[tuple[slice, torch.Tensor]]:
    """The model's logits for `x` in evaluation mode (no dropout), EVAL_CHUNK rows at a time. A
    prediction (reglab predict) takes the same chunks as the test did, so it computes the same
    numbers, not only nearly the same (a matrix product's rounding may depend on its row count)."""
    model.eval()
    for start in range(0, x.shape[0], EVAL_CHUNK):
        rows = slice(start, start + EVAL_CHUNK)
        yield rows, model(x[rows])


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, torch.Tensor]:
    """Mean cross-entropy, accuracy and predicted classes, in evaluation mode (no dropout)."""
    loss_sum = torch.zeros((), device=x.device)
    predictions = []
    for rows, logits in chunked_logits(model, x):
        loss_sum += F.cross_entropy(logits, y[rows], reduction="sum")
        predictions.append(logits.argmax(1))
    predicted = torch.cat(predictions)
    accuracy = (predicted == y).float().mean().item()
    return loss_sum.item() / x.shape[0], accuracy, predicted


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
