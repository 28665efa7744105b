"""Synthetic run directories, written through the real RunStore, with curves whose overfitting onset
and differences are known by construction: fast (no training) and exact."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reglab.analysis.weights import hidden_vector
from reglab.store import EpochRecord, RunArrays, RunRecord, RunStore
from reglab.store.records import SKETCH_BUCKETS

CLASSES = ["zero", "one", "two"]
TEST_SIZE = 60
EPOCHS = 20
ONSET = 6  # the basic variant's validation loss is lowest here, then rises for good


@dataclass
class Variant:
    name: str
    baseline: str | None = None
    description: str = ""
    description_ja: str = ""
    settings: dict = field(default_factory=dict)
    accuracy_gain: float = 0.0  # added to the basic accuracy of each seed
    overfits: bool = False
    sparse: bool = False  # most weights near zero, as L1 leaves them
    lr: tuple[float, ...] | None = None  # per epoch; constant 0.001 when None
    # Batch norm's check: train_eval_loss = train_loss * eval_factor at every epoch (None: not recorded).
    eval_factor: float | None = None
    # Multiplies the final weights (what a decay or penalty would shrink); over training the weights
    # go from 1 to weight_scale times the seed's: w·(1 + (weight_scale − 1)·(e + 1)/EPOCHS) after epoch e,
    # which the per-epoch weight norms and sketches record.
    weight_scale: float = 1.0
    max_norm_peaks: tuple[float, ...] | None = None  # EpochRecord.max_norm_peak per epoch (None: not recorded)
    early: tuple[int, int] | None = None  # (best, stopped) epochs of early stopping, + seed each
    kernels: tuple[tuple[int, ...], ...] = ((8, 64), (4, 8), (3, 4))  # PyTorch's shapes, in layer order


def val_loss(overfits: bool, seed: int) -> list[float]:
    x = np.arange(EPOCHS, dtype=float)
    if overfits:  # a V: falls to its minimum at ONSET, then rises for good (to twice the minimum)
        curve = np.where(x <= ONSET, 0.3 + 0.04 * (ONSET - x), 0.3 + 0.025 * (x - ONSET))
    else:
        curve = 0.3 + 0.7 * np.exp(-x / 4)
    return list(curve + 0.001 * seed)


def epoch_scale(v: Variant, epoch: int) -> float:
    return 1.0 + (v.weight_scale - 1.0) * (epoch + 1) / EPOCHS


def history(v: Variant, seed: int, hidden_norm: float | None = None) -> tuple[EpochRecord, ...]:
    val = val_loss(v.overfits, seed)
    lr = v.lr or (0.001,) * EPOCHS
    def train(e: int) -> float:
        return val[e] * (0.9 - 0.02 * e)
    return tuple(
        EpochRecord(epoch=e, train_loss=train(e), train_accuracy=min(1.0, 0.5 + 0.03 * e),
                    val_loss=val[e], val_accuracy=min(1.0, 0.45 + 0.025 * e), lr=lr[e], seconds=0.01,
                    train_eval_loss=None if v.eval_factor is None else train(e) * v.eval_factor,
                    weight_norm=None if hidden_norm is None else hidden_norm * epoch_scale(v, e),
                    max_norm_peak=None if v.max_norm_peaks is None else v.max_norm_peaks[e])
        for e in range(EPOCHS))


def count_sketch(vector: np.ndarray, buckets: int = SKETCH_BUCKETS) -> np.ndarray:
    """A count sketch of a vector, like the one engine/sketch.py records (another fixed hash: the
    analysis only ever compares sketches of one hash)."""
    rng = np.random.default_rng(7)
    bucket = rng.integers(0, buckets, size=vector.size)
    sign = np.where(rng.integers(0, 2, size=vector.size) == 1, 1.0, -1.0)
    return np.bincount(bucket, weights=sign * vector, minlength=buckets)


def weights(rng: np.random.Generator, sparse: bool,
            kernels: tuple[tuple[int, ...], ...] = Variant.kernels) -> dict[str, np.ndarray]:
    out = {}
    for i, shape in enumerate(kernels):
        w = rng.uniform(-0.3, 0.3, size=shape).astype(np.float32)
        if sparse and i < len(kernels) - 1:
            w[rng.random(shape) < 0.7] = 0.0
        out[f"layers.{2 * i}.weight"] = w
        out[f"layers.{2 * i}.bias"] = np.zeros(shape[0], np.float32)
    return out


def make_run(root: Path, variants: list[Variant], seeds: list[int], *, class_names=CLASSES,
             study_name: str = "synthetic") -> Path:
    study = {
        "name": study_name, "description": "synthetic curves with known onsets", "keras_compat": True,
        "seeds": seeds, "data": {"dataset": "digits", "train": 100, "validation": 50, "test": TEST_SIZE,
                                 "split_seed": 0},
        "variants": [{"name": v.name, "description": v.description, "baseline": v.baseline or v.name,
                      **({"description_ja": v.description_ja} if v.description_ja else {}),
                      "hidden": [8, 4], "epochs": EPOCHS, "batch_size": 32,
                      "optimizer": {"name": "adam", "lr": 0.001},
                      "schedule": {"name": "step" if v.lr else "constant"}, **v.settings} for v in variants],
    }
    store = RunStore.create(root, study=study, source_text=f'name = "{study_name}"\n',
                            environment={"reglab": "test", "python": "3.11", "device": "cpu"})
    rng = np.random.default_rng(0)
    labels = np.arange(TEST_SIZE) % len(class_names)
    images = rng.integers(0, 256, size=(TEST_SIZE, 8, 8), dtype=np.uint8)
    store.write_data({"dataset": "digits", "origin": "synthetic", "class_names": list(class_names),
                      "image_shape": [8, 8], "splits": {"train": 100, "validation": 50, "test": TEST_SIZE}},
                     labels, images)
    for index, v in enumerate(variants):
        store.save_model_summary(index, v.name, [
            {"layer": "dense_1 (Linear)", "output_shape": "(None, 8)", "params": 520, "trainable": 520},
            {"layer": "dense_2 (Linear)", "output_shape": "(None, 4)", "params": 36, "trainable": 36},
            {"layer": "dense_3 (Linear)", "output_shape": "(None, 3)", "params": 15, "trainable": 15}])
        for seed in seeds:
            seed_rng = np.random.default_rng(1000 + seed)
            predictions = labels.copy()
            wrong = seed_rng.choice(TEST_SIZE, size=8, replace=False)
            predictions[wrong] = (labels[wrong] + 1) % len(class_names)
            accuracy = 0.8 + 0.01 * seed_rng.standard_normal() + v.accuracy_gain
            accuracy += 0.002 * rng.standard_normal() if v.accuracy_gain else 0.0  # the gain is not exact
            best, stopped = (v.early[0] + seed, v.early[1] + seed) if v.early else (None, None)
            start = weights(seed_rng, v.sparse, v.kernels)  # one seed's weights are the same in every variant, but scaled
            hidden = hidden_vector(start)
            record = RunRecord(v.name, seed, "completed", history(v, seed, float(np.linalg.norm(hidden))),
                               test_loss=1 - accuracy, test_accuracy=accuracy, seconds=0.2, best_epoch=best,
                               stopped_epoch=stopped)
            final = {k: (w * v.weight_scale).astype(np.float32) for k, w in start.items()}
            sketches = np.array([count_sketch(hidden) * epoch_scale(v, e) for e in range(EPOCHS)], np.float32)
            store.save_run(index, record, RunArrays(predictions, final, sketches))
    return root


STANDARD = [
    Variant("basic", description="no regularization", overfits=True),
    Variant("better", baseline="basic", description="dropout 0.3", description_ja="ドロップアウト率 0.3 の説明",
            settings={"dropout": {"rate": 0.3}},
            accuracy_gain=0.02),
    Variant("sparse", baseline="basic", description="L1", settings={"l1": {"strength": 0.001}}, overfits=True,
            sparse=True, lr=tuple(0.001 if e < 10 else 0.0005 for e in range(EPOCHS))),
]
