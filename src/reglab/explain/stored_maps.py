"""A run directory's explanations: attribution maps of every finished run, computed once and
stored, the sanity checks, and the comparison across techniques and seeds (explanations.json).

    explanations/<method>/NN-slug/seed-S.npz    maps float32 [N, D] and the image indices
    explanations.json                           what `reglab explain` and the report read

Every run explains the same N test images (EXPLAINED_IMAGES by default: the first images of each
class in test order, as evenly over the classes as N allows), each for its true class, so maps pair
across seeds and variants. A stored map is reused when its images match (a resumed or repeated
`explain` computes only what is missing); a damaged or foreign file is computed again.

The caller (lab.explain) passes the study's results object, which rebuilds the trained networks;
this module never reads the store's records itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from reglab.analysis import explanation_stats
from reglab.explain.attributions import METHODS, attribute
from reglab.explain.sanity import faithfulness, randomization_test
from reglab.store.files import Damaged, RunFiles, npz_bytes, read_npz_bytes

EXPLAINED_IMAGES = 100
FOLDER = "explanations"
SUMMARY = "explanations.json"
SANITY_IMAGES = 32  # the randomization test explains these again once per layer: kept small


def chosen_images(labels: np.ndarray, count: int) -> np.ndarray:
    """Indices of `count` test images, round-robin over the classes in test order (the first image
    of each class, then the second, ...), sorted; fewer when the split has fewer."""
    by_class = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    picked: list[int] = []
    depth = 0
    while len(picked) < count and any(depth < len(rows) for rows in by_class):
        picked += [int(rows[depth]) for rows in by_class if depth < len(rows)][: count - len(picked)]
        depth += 1
    return np.array(sorted(picked), dtype=np.int64)


def _slug_folder(index: int, variant: str) -> str:
    return f"{index:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', variant)[:60]}"


def stored_or_computed(files: RunFiles, path: Path, images: np.ndarray,
                       compute: Callable[[], np.ndarray]) -> tuple[np.ndarray, bool]:
    """(maps, whether they were computed now). A stored file counts only if it is whole and holds
    maps of exactly these images."""
    try:
        bundle = read_npz_bytes(files.read_sealed(path))
        maps, stored_images = bundle.get("maps"), bundle.get("images")
        if maps is not None and stored_images is not None and np.array_equal(stored_images, images) \
                and maps.ndim == 2 and maps.shape[0] == len(images) and maps.dtype.kind == "f":
            return maps, False
    except Damaged:
        pass
    maps = compute()
    files.write_sealed(path, npz_bytes({"maps": maps.astype(np.float32), "images": images}))
    return maps, True


def explain_study(result: Any, *, methods: tuple[str, ...] = ("saliency",), images: int = EXPLAINED_IMAGES,
                  sanity: bool = True, on_run: Callable[[str, str, int, bool], None] | None = None) -> dict[str, Any]:
    """Maps of every finished run of `result` (a reglab StudyResult), their statistics and checks;
    writes explanations.json beside the study and returns its content."""
    root = Path(result.run_dir)
    files = RunFiles(root)
    labels = result.test_labels
    chosen = chosen_images(labels, images)
    features = result.preprocessing.transform(result.test_inputs[chosen]) if len(chosen) else np.zeros((0, 0))
    targets = labels[chosen]
    shape = tuple(result._data_json()["image_shape"])
    variants = result.variants
    baselines = {v: (result.study["variants"][i].get("baseline") or v) for i, v in enumerate(variants)} \
        if result.study.get("variants") else {v: v for v in variants}
    out: dict[str, Any] = {"images": chosen.tolist(), "methods": {}}
    for method in methods:
        maps: dict[str, dict[int, np.ndarray]] = {}
        sanity_rows = []
        for index, variant in enumerate(variants):
            seeds = [r.seed for r in result.runs if r.variant == variant and r.status == "completed"]
            for seed in seeds:
                model = result.model(variant, seed)
                path = root / FOLDER / method / _slug_folder(index, variant) / f"seed-{seed}.npz"
                maps.setdefault(variant, {})[seed], computed = stored_or_computed(
                    files, path, chosen,
                    lambda: attribute(model, features, targets, method, image_shape=shape, seed=seed))
                if on_run is not None:
                    on_run(method, variant, seed, computed)
            if sanity and seeds:
                model = result.model(variant, seeds[0])
                few = slice(0, SANITY_IMAGES)
                test = randomization_test(model, features[few], targets[few], lambda m, x, t: attribute(
                    m, x, t, method, image_shape=shape, seed=seeds[0]), seed=seeds[0])
                faithful = faithfulness(model, features, targets, maps[variant][seeds[0]], seed=seeds[0])
                sanity_rows.append({"variant": variant, "seed": seeds[0], "randomization": test.to_json(),
                                    "faithfulness": faithful.to_json()})
        summaries = [explanation_stats.summarize(v, m, maps.get(baselines.get(v)) if baselines.get(v) != v else None)
                     for v, m in maps.items()]
        out["methods"][method] = {
            "variants": [s.to_json() for s in summaries],
            "changes": [c.to_json() for c in explanation_stats.changes(maps, baselines)],
            "sanity": sanity_rows,
        }
    files.write_json(root / SUMMARY, out)
    return out


__all__ = ["METHODS", "EXPLAINED_IMAGES", "explain_study", "chosen_images"]
