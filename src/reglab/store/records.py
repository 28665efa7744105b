"""What one training run produces. Both engines return these; the store writes them; analysis
and report read them back. Plain data: no torch here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

COMPLETED = "completed"
DIVERGED = "diverged"
# Buckets of the count sketch of the hidden kernels recorded per epoch (RunArrays.weight_sketches,
# engine/sketch.py): 1 KB per epoch in float32; the estimated distance between two runs is within
# about sqrt(1/(2K)) = 4.4% (one standard deviation) of the exact one.
SKETCH_BUCKETS = 256


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 0-based, as Keras's callbacks count
    train_loss: float  # cross-entropy, mean over the epoch's batches while training (Keras's running mean)
    train_accuracy: float
    val_loss: float  # cross-entropy on the validation split in evaluation mode
    val_accuracy: float
    lr: float  # learning rate at the start of the epoch
    seconds: float
    # The L1/L2 term. Keras reports losses with it: its "loss" is train_loss + train_penalty (a
    # running mean over the epoch's batches), its "val_loss" is val_loss + penalty (at the epoch's end).
    train_penalty: float = 0.0
    penalty: float = 0.0
    # Diagnostics read by the report (both engines record them the same way; absent in older runs).
    # The cross-entropy of the first training rows (at most TRAIN_EVAL_ROWS) in evaluation mode at the
    # epoch's end, for variants with batch norm only: far above train_loss, it shows running
    # statistics that lag behind the batches' (a slow momentum on few steps).
    train_eval_loss: float | None = None
    # sqrt(Σ w²) over the hidden kernels (those the penalties and decay act on) at the epoch's end.
    weight_norm: float | None = None
    # Variants with a max-norm constraint only: the largest norm of one unit's incoming weights (a
    # kernel's row, or a filter) seen just before the projection, over the epoch's steps, divided by
    # the limit c. Above 1 at some epoch: the constraint acted then; at most 1 throughout: it never did.
    max_norm_peak: float | None = None

    def keras_logs(self) -> dict[str, float]:
        """This epoch as Keras's `logs` and History.history report it: its losses include the
        L1/L2 term, as Keras's do (the fields above keep the cross-entropy and the term apart)."""
        return {"loss": self.train_loss + self.train_penalty, "accuracy": self.train_accuracy,
                "val_loss": self.val_loss + self.penalty, "val_accuracy": self.val_accuracy, "lr": self.lr}


@dataclass(frozen=True)
class RunRecord:
    variant: str
    seed: int
    status: str  # COMPLETED or DIVERGED
    history: tuple[EpochRecord, ...]
    test_loss: float | None
    test_accuracy: float | None
    seconds: float
    engine: str = "reference"
    diverged_at: int | None = None  # epoch whose loss was not finite
    best_epoch: int | None = None  # early stopping: the epoch whose weights were kept
    stopped_epoch: int | None = None  # early stopping: the epoch after which training stopped
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["history"] = [asdict(e) for e in self.history]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        history = tuple(EpochRecord(**e) for e in data["history"])
        return cls(**{**data, "history": history})


@dataclass(frozen=True)
class RunArrays:
    """The bulky part of a run, stored as .npz beside the record (numpy: no code runs on load)."""

    test_predictions: np.ndarray  # int, one per test example
    weights: dict[str, np.ndarray]  # final parameters by name, float32
    # [epochs, SKETCH_BUCKETS] float32: the count sketch of the hidden kernels at each epoch's end
    # (engine/sketch.py), for distances between runs over training; None in runs stored before it.
    weight_sketches: np.ndarray | None = None
