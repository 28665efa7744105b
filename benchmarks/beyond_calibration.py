"""Calibration of a finished `beyond` study (or any study): for each variant and seed, the
expected calibration error (ECE, 15 equal-width bins of top-class confidence, Guo et al. 2017),
mean confidence against accuracy, and test cross-entropy, from the stored networks' probabilities
on the stored test split (StudyResult.predict_proba). The store keeps predicted classes, not
probabilities, so the report cannot say this itself; this script recomputes them.

    python benchmarks/beyond_calibration.py RUN_DIR [--variants mlp label_smoothing mixup]

Checks first that each network's argmax reproduces the predictions stored when it was tested.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

import reglab


def ece(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    confidence, predicted = probabilities.max(1), probabilities.argmax(1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs((predicted[inside] == labels[inside]).mean() - confidence[inside].mean())
    return float(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--variants", nargs="*", default=["mlp", "label_smoothing", "mixup"])
    args = parser.parse_args()
    result = reglab.load(args.run_dir)
    labels, images = result.test_labels, result.test_images
    seeds = sorted({r.record.seed for r in result._variant_runs(args.variants[0]).runs})
    rows = {}
    for variant in args.variants:
        per_seed = []
        for seed in seeds:
            p = result.predict_proba(variant, images, seed, eight_bit=True)
            assert (p.argmax(1) == result.predictions(variant, seed)).all(), (variant, seed)
            nll = -np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, None)).mean()
            per_seed.append((ece(p, labels), p.max(1).mean(), (p.argmax(1) == labels).mean(), nll))
        rows[variant] = np.array(per_seed)
    base = rows[args.variants[0]]
    print(f"{len(seeds)} seeds, {len(labels)} test images; mean ± sample std over seeds; "
          f"paired t-test of ECE against {args.variants[0]!r}")
    print(f"{'variant':<16} {'ECE %':>12} {'confidence %':>14} {'accuracy %':>12} {'test NLL':>14} {'ECE diff, p':>16}")
    for variant, r in rows.items():
        m, s = r.mean(0), r.std(0, ddof=1)
        diff = "" if variant == args.variants[0] else (
            f"{100 * (r[:, 0] - base[:, 0]).mean():+.2f}, {stats.ttest_rel(r[:, 0], base[:, 0]).pvalue:.2g}")
        print(f"{variant:<16} {100 * m[0]:5.2f} ± {100 * s[0]:4.2f} {100 * m[1]:7.2f} ± {100 * s[1]:4.2f} "
              f"{100 * m[2]:5.2f} ± {100 * s[2]:4.2f} {m[3]:6.3f} ± {s[3]:5.3f} {diff:>16}")


if __name__ == "__main__":
    main()
