"""Compare reglab's CNN runs with the Keras reference (docs/keras-parity.md, "The CNN").

Reads the Keras side's JSON (benchmarks/keras_cnn_reference.py, one or more files) and a reglab
run directory or more (`reglab run benchmarks/cnn-parity.toml ...`), prints per model the test accuracy
of both sides over their seeds (mean ± sample standard deviation) with Welch's t-test, and the
final-epoch training and validation loss, and writes every per-seed number to one JSON file:

    .venv/bin/python benchmarks/keras_cnn_parity.py --keras docs/keras-cnn-reference.json \
        --reglab /tmp/cnn-parity --out docs/keras-cnn-parity.json

Seeds cannot be matched across frameworks (different random number generators): what compares
is the distribution over seeds on each side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from scipy import stats


def keras_runs(paths: list[Path]) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {}
    for path in paths:
        for run in json.loads(path.read_text())["runs"]:
            runs.setdefault(run["model"], []).append({
                "seed": run["seed"], "test_accuracy": run["test_accuracy"], "test_loss": run["test_loss"],
                "train_loss": run["final"]["loss"], "val_loss": run["final"]["val_loss"],
                "val_accuracy": run["final"]["val_accuracy"], "seconds": run["fit_seconds"]})
    return runs


def reglab_runs(run_dirs: list[Path]) -> dict[str, list[dict]]:
    reglab = Path(sys.executable).with_name("reglab")
    variants = [variant for run_dir in run_dirs for variant in json.loads(subprocess.run(
        [str(reglab), "results", str(run_dir), "--format", "json"], check=True, capture_output=True, text=True,
    ).stdout)["variants"]]
    runs: dict[str, list[dict]] = {}
    for variant in variants:
        for run in variant["runs"]:
            if run["status"] != "completed":
                continue
            last = run["history"][-1]
            runs.setdefault(variant["name"], []).append({
                "seed": run["seed"], "test_accuracy": run["test_accuracy"], "test_loss": run["test_loss"],
                # Keras's `loss` is the running mean over the last epoch's batches, as reglab's train_loss.
                "train_loss": last["train_loss"] + last.get("train_penalty", 0.0), "val_loss": last["val_loss"],
                "val_accuracy": last["val_accuracy"], "seconds": run["seconds"], "engine": run["engine"]})
    return runs


def summary(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--keras", type=Path, nargs="+", required=True, help="keras_cnn_reference.py's JSON files")
    p.add_argument("--reglab", type=Path, nargs="+", required=True, help="the reglab run directories")
    p.add_argument("--out", type=Path, help="write both sides' per-seed numbers and the comparison here")
    args = p.parse_args()
    keras, reglab = keras_runs(args.keras), reglab_runs(args.reglab)
    rows = []
    print("| Keras model | Keras seeds | Keras | reglab variant | reglab seeds | reglab | difference | Welch p |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    # Keras's `*_warp` models (the augmentation in one warp, as reglab draws it) are compared with
    # reglab's model of the name without the suffix.
    pairs = [(model, model.removesuffix("_warp")) for model in keras if model.removesuffix("_warp") in reglab]
    for model, ours in pairs:
        k = [r["test_accuracy"] * 100 for r in keras[model]]
        g = [r["test_accuracy"] * 100 for r in reglab[ours]]
        (km, ks), (gm, gs) = summary(k), summary(g)
        p_value = float(stats.ttest_ind(g, k, equal_var=False).pvalue) if min(len(k), len(g)) > 1 else float("nan")
        rows.append({"model": model, "reglab_model": ours, "keras": {"n": len(k), "mean": km, "sd": ks},
                     "reglab": {"n": len(g), "mean": gm, "sd": gs}, "difference": gm - km, "welch_p": p_value,
                     "keras_final_train_loss": statistics.mean(r["train_loss"] for r in keras[model]),
                     "reglab_final_train_loss": statistics.mean(r["train_loss"] for r in reglab[ours]),
                     "keras_final_val_loss": statistics.mean(r["val_loss"] for r in keras[model]),
                     "reglab_final_val_loss": statistics.mean(r["val_loss"] for r in reglab[ours])})
        print(f"| {model} | {len(k)} | {km:.2f} ± {ks:.2f} | {ours} | {len(g)} | {gm:.2f} ± {gs:.2f} | {gm - km:+.2f} "
              f"| {p_value:.2g} |")
    print()
    print("final-epoch loss, mean over seeds (Keras / reglab): " + "; ".join(
        f"{r['model']} train {r['keras_final_train_loss']:.3f} / {r['reglab_final_train_loss']:.3f}, "
        f"val {r['keras_final_val_loss']:.3f} / {r['reglab_final_val_loss']:.3f}" for r in rows))
    if args.out:
        args.out.write_text(json.dumps({"comparison": rows, "keras": keras, "reglab": reglab,
                                        "keras_files": [str(path) for path in args.keras],
                                        "reglab_run_dirs": [str(path) for path in args.reglab]}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
