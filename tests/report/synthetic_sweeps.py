"""Synthetic sweep run directories written through the real RunStore: each point's final-epoch
metrics are planted (a U-shaped validation loss, a flat one, or any table of metrics per point and
seed), so the recommendation, the one-SE band, the regimes and the comparison with doing nothing
are known by construction."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from synthetic_runs import TEST_SIZE, weights

from reglab.store import EpochRecord, RunArrays, RunRecord, RunStore

L2 = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
EPOCHS = 4
# (l2 or None for the variant without it, seed) -> the run's final train_loss, val_loss,
# train_accuracy, val_accuracy and test_accuracy
Metrics = Callable[[float | None, int], dict[str, float]]


def u_curve(l2: float) -> tuple[float, float]:
    """(training loss, gap): training loss rises with λ (underfitting), the gap falls (less overfitting).
    Validation loss = their sum: 0.307, 0.285, 0.180, 0.237, 2.01; lowest at 1e-3."""
    return 0.01 + 20 * l2, 0.3 / (1 + 1000 * l2)


def flat(l2: float) -> tuple[float, float]:
    return 0.05, 0.2


def disagreeing(l2: float | None, seed: int) -> dict[str, float]:
    """Validation loss U-shaped, lowest at 1e-3 (the u_curve's), while validation accuracy falls with λ
    from its best at 1e-5, and test accuracy with it: the penalty lowers the loss and costs accuracy.
    `None` is the variant without L2: the best test accuracy of all."""
    noise = np.random.default_rng([seed, 7, 0 if l2 is None else round(-math.log10(l2))])
    train_loss, gap = u_curve(l2 or 0.0)
    if l2 is None:
        gap = 0.35
    val_accuracy = 0.95 - (0.0 if l2 is None else 0.03 * (math.log10(l2) + 5) ** 1.2)
    return {"train_loss": train_loss + 0.001 * noise.standard_normal(),
            "val_loss": train_loss + gap + 0.002 * noise.standard_normal(),
            "train_accuracy": 1.0 if (l2 or 0) < 1e-2 else 0.9,
            "val_accuracy": val_accuracy + 0.002 * noise.standard_normal(),
            "test_accuracy": (0.96 if l2 is None else val_accuracy) + 0.002 * noise.standard_normal()}


def make_sweep_run(root: Path, curve=u_curve, *, seeds=(0, 1, 2, 3, 4), test_favours: float | None = 1e-5,
                   two_factor: bool = False, coupled: bool = True, metrics: Metrics | None = None,
                   without: bool = False) -> Path:
    """A one-factor L2 sweep (or, with two_factor, lr x L2 grids for 'Adam + L2' and 'AdamW').
    `test_favours`: the point whose test accuracy is planted highest, to show it is not chosen.
    `coupled`: at the higher rate, Adam + L2's best decay moves to smaller values (AdamW's never does).
    `metrics`: plants every final metric of every point and seed instead of `curve`.
    `without`: adds a variant "none" without L2, the base of the sweep (metrics(None, seed))."""
    sweeps = ([("Adam + L2", "l2"), ("AdamW", "weight_decay")] if two_factor else [("L2", "l2")])
    variants, planted = [], []
    head = {"hidden": [8, 4], "epochs": EPOCHS, "batch_size": 32, "schedule": {"name": "constant"}}
    if without:
        variants.append({"name": "none", "description": "no L2", "baseline": "none", **head,
                         "optimizer": {"name": "adam", "lr": 0.001}})
        planted.append((None, 0.0, None))
    for sweep_name, decay in sweeps:
        for lr in ([1e-3, 1e-2] if two_factor else [None]):
            for l2 in L2:
                values = {"optimizer.lr": lr, decay: l2} if two_factor else {"l2": l2}
                name = " ".join(f"{'l2' if k == 'l2' else k}={v:.0e}" for k, v in values.items())
                if two_factor:
                    name = f"{sweep_name[:5]} {name}"  # two sweeps, distinct names
                scales = {k: "log" for k in values}
                variants.append({
                    "name": name, "description": f"{sweep_name} sweep: {name}", "baseline": variants[0]["name"]
                    if variants else name, **head, "optimizer": {"name": "adam", "lr": lr or 0.001},
                    decay: {"strength": l2} if decay == "l2" else {"rate": l2},
                    "sweep": {"name": sweep_name, "values": values, "scales": scales, "choose": "val_loss"}})
                shift = 0.0 if lr in (None, 1e-3) else 0.05 + (300 * l2 if coupled and decay == "l2" else 0.0)
                planted.append((curve(l2), shift, l2))
    study = {"name": "sweep", "description": "planted sweep", "keras_compat": True, "seeds": list(seeds),
             "data": {"dataset": "digits", "train": 100, "validation": 50, "test": TEST_SIZE, "split_seed": 0},
             "variants": variants}
    store = RunStore.create(root, study=study, source_text='name = "sweep"\n',
                            environment={"reglab": "test", "python": "3.11", "device": "cpu"})
    labels = np.arange(TEST_SIZE) % 3
    rng = np.random.default_rng(0)
    store.write_data({"dataset": "digits", "origin": "synthetic", "class_names": ["a", "b", "c"],
                      "image_shape": [8, 8], "splits": {"train": 100, "validation": 50, "test": TEST_SIZE}},
                     labels, rng.integers(0, 256, size=(TEST_SIZE, 8, 8), dtype=np.uint8))
    for index, (variant, (losses, shift, l2)) in enumerate(zip(variants, planted)):
        store.save_model_summary(index, variant["name"], [
            {"layer": "dense_1 (Linear)", "output_shape": "(None, 8)", "params": 520, "trainable": 520}])
        for seed in seeds:
            noise = np.random.default_rng([seed, index])
            if metrics is not None:
                final = metrics(l2, seed)
            else:
                train, gap = losses
                seed_effect = 0.003 * seed  # shared by every point of a seed: pairing removes it
                train_loss = train + seed_effect + 0.001 * noise.standard_normal() + shift
                val_loss = train_loss + gap + 0.001 * noise.standard_normal()
                favoured = test_favours is not None and math.isclose(l2, test_favours)
                final = {"train_loss": train_loss, "val_loss": val_loss, "train_accuracy": math.exp(-train_loss),
                         "val_accuracy": math.exp(-val_loss),
                         "test_accuracy": 0.99 if favoured else 0.7 + 0.01 * noise.standard_normal()}
            history = tuple(EpochRecord(epoch=e, train_loss=final["train_loss"] * (EPOCHS - e), train_accuracy=0.5,
                                        val_loss=final["val_loss"] * (EPOCHS - e), val_accuracy=0.5, lr=0.001,
                                        seconds=0.01) for e in range(EPOCHS - 1))
            last = EpochRecord(epoch=EPOCHS - 1, train_loss=final["train_loss"], val_loss=final["val_loss"],
                               train_accuracy=final["train_accuracy"], val_accuracy=final["val_accuracy"],
                               lr=0.001, seconds=0.01)
            test_accuracy = final["test_accuracy"]
            predictions = labels.copy()
            predictions[: int(round((1 - test_accuracy) * TEST_SIZE))] += 1
            predictions %= 3
            record = RunRecord(variant["name"], seed, "completed", (*history, last),
                               test_loss=1 - test_accuracy, test_accuracy=test_accuracy, seconds=0.1)
            store.save_run(index, record, RunArrays(predictions, weights(noise, False)))
    return root
