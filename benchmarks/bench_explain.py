"""What explanations cost: attribution maps of the tutorial's ten models on 100 test images.

    python benchmarks/bench_explain.py [--dataset digits] [--methods saliency integrated_gradients]

Trains the tutorial (one seed) into a temporary directory, then times, in one invocation:
- baseline: a plain loop that calls Captum directly on each rebuilt network, nothing stored;
- reglab: explain_study without the sanity checks (maps computed and stored, statistics);
- reglab again: the maps are read back instead of computed (what a second `reglab explain` costs);
- the sanity checks alone (randomization test and deletion/insertion, per variant).
Prints each time and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--methods", nargs="+", default=["saliency", "integrated_gradients"])
    parser.add_argument("--images", type=int, default=100)
    args = parser.parse_args()

    import captum.attr as attr

    import reglab
    from reglab.explain.stored_maps import chosen_images, explain_study

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        reglab.run("tutorial", seeds=1, dataset=args.dataset, out=run, report=False, progress=False)
        result = reglab.load(run)
        chosen = chosen_images(result.test_labels, args.images)
        features = torch.tensor(result.preprocessing.transform(result.test_inputs[chosen]))
        targets = torch.tensor(result.test_labels[chosen])
        models = [result.model(v, 0) for v in result.variants]  # rebuilt once, outside every timing

        started = time.perf_counter()
        for model in models:
            for method in args.methods:
                if method == "saliency":
                    attr.Saliency(model).attribute(features.clone().requires_grad_(True), target=targets, abs=True)
                else:
                    attr.IntegratedGradients(model).attribute(features, baselines=torch.zeros_like(features),
                                                              target=targets, n_steps=32, method="gausslegendre")
        plain = time.perf_counter() - started

        rows = [("plain Captum loop (baseline)", plain)]
        for label, sanity in (("reglab explain, maps computed", False), ("reglab explain, maps reused", False),
                              ("reglab explain, reused + sanity checks", True)):
            started = time.perf_counter()
            explain_study(result, methods=tuple(args.methods), images=args.images, sanity=sanity)
            rows.append((label, time.perf_counter() - started))
        print(f"tutorial on {args.dataset}: {len(models)} models, {len(chosen)} images, methods {', '.join(args.methods)}"
              f" (torch threads {torch.get_num_threads()})")
        for label, seconds in rows:
            print(f"  {label:42s} {seconds:7.2f} s   {seconds / plain:5.2f}x the baseline")
        print(f"  per model and method, computed: {rows[1][1] / len(models) / len(args.methods) * 1000:.0f} ms; "
              f"stored maps: {sum(p.stat().st_size for p in (run / 'explanations').rglob('*.npz')) / 1e6:.1f} MB")
        np.testing.assert_array_equal(result.test_labels[chosen], targets.numpy())


if __name__ == "__main__":
    main()
