"""Keras parity of the LSTM on sequential digits (docs/keras-parity.md, "The LSTM").

Trains Keras 3's own LSTM (KERAS_BACKEND=torch; keras is not a reglab dependency) on the very
splits reglab's `recurrent` study trains on (digits, 817/163/817, split_seed 0: reglab.data's
make_splits with the study's sizes), as the study's variants are written:

    lstm            Input(64) -> Reshape(8, 8) -> LSTM(64) -> Dense(10, softmax)
    lstm_recurrent  the same with LSTM(64, recurrent_dropout=0.25)
    lstm_dropout    LSTM(64) -> Dropout(0.25) -> Dense

Adam (lr 1e-3, Keras's epsilon 1e-7), sparse categorical cross-entropy, batch 32, shuffled; then
reads a reglab run directory of the study and prints per variant both sides' test accuracy over
their seeds (mean ± sample std) with Welch's t-test. Seeds cannot be matched across frameworks:
what compares is the distribution over seeds.

    KERAS_BACKEND=torch .venv/bin/python benchmarks/keras_rnn_parity.py --reglab runs/recurrent-... \
        --seeds 0 1 2 3 4 --epochs 60 --out /tmp/keras-rnn.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

VARIANTS = ("lstm", "lstm_recurrent", "lstm_dropout")


def keras_run(variant: str, seed: int, epochs: int, splits) -> dict:
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((64,)), keras.layers.Reshape((8, 8)),
              keras.layers.LSTM(64, recurrent_dropout=0.25 if variant == "lstm_recurrent" else 0.0)]
    if variant == "lstm_dropout":
        layers.append(keras.layers.Dropout(0.25))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(splits.x_train, splits.y_train, batch_size=32, epochs=epochs, verbose=0, shuffle=True,
                        validation_data=(splits.x_val, splits.y_val))
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(splits.x_test, splits.y_test, verbose=0)
    return {"variant": variant, "seed": seed, "test_accuracy": float(accuracy), "test_loss": float(loss),
            "train_loss": float(history.history["loss"][-1]), "val_loss": float(history.history["val_loss"][-1]),
            "parameters": model.count_params(), "seconds": seconds}


def reglab_runs(run_dir: Path) -> dict[str, list[dict]]:
    found = json.loads(subprocess.run([sys.executable, "-m", "reglab", "results", str(run_dir), "--format", "json"],
                                      check=True, capture_output=True, text=True).stdout)
    return {v["name"]: [{"seed": r["seed"], "test_accuracy": r["test_accuracy"], "test_loss": r["test_loss"],
                         "train_loss": r["history"][-1]["train_loss"], "val_loss": r["history"][-1]["val_loss"]}
                        for r in v["runs"] if r["status"] == "completed"] for v in found["variants"]}


def main() -> int:
    from scipy import stats

    from reglab.data import load_dataset, make_splits

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reglab", type=Path, required=True, help="a run directory of `reglab run recurrent`")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    splits = make_splits(load_dataset("digits", allow_download=False), train=10000, validation=2000, test=10000)
    keras_side = [keras_run(v, s, args.epochs, splits) for v in args.variants for s in args.seeds]
    ours = reglab_runs(args.reglab)
    rows = []
    print("| variant | Keras seeds | Keras | reglab seeds | reglab | difference | Welch p |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for variant in args.variants:
        k = [r["test_accuracy"] * 100 for r in keras_side if r["variant"] == variant]
        g = [r["test_accuracy"] * 100 for r in ours.get(variant, [])]
        if len(g) < 2:
            continue
        p_value = float(stats.ttest_ind(g, k, equal_var=False).pvalue)
        km, ks, gm, gs = statistics.mean(k), statistics.stdev(k), statistics.mean(g), statistics.stdev(g)
        rows.append({"variant": variant, "keras": k, "reglab": g, "difference": gm - km, "welch_p": p_value})
        print(f"| {variant} | {len(k)} | {km:.2f} ± {ks:.2f} | {len(g)} | {gm:.2f} ± {gs:.2f} | {gm - km:+.2f} "
              f"| {p_value:.2g} |")
    print("Keras parameters:", sorted({(r["variant"], r["parameters"]) for r in keras_side}))
    print("final-epoch loss, mean over seeds (Keras / reglab): " + "; ".join(
        f"{v} train {statistics.mean(r['train_loss'] for r in keras_side if r['variant'] == v):.3f} / "
        f"{statistics.mean(r['train_loss'] for r in ours[v]):.3f}, val "
        f"{statistics.mean(r['val_loss'] for r in keras_side if r['variant'] == v):.3f} / "
        f"{statistics.mean(r['val_loss'] for r in ours[v]):.3f}" for v in args.variants if v in ours))
    if args.out:
        args.out.write_text(json.dumps({"comparison": rows, "keras": keras_side, "reglab": ours}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
