"""A trained network rebuilt from a run directory: the variant's architecture, built as training
built it, filled with the run's stored final weights (runs/NN-slug/seed-S.npz), in eval mode.

    model = rebuild(study_json, "l2", image_shape=(8, 8), classes=10, weights=arrays.weights)

The caller (results.StudyResult.model) reads the store; this module only builds and checks that
the weights are the architecture's, name for name and shape for shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from reglab import models
from reglab.config import study_from_dict
from reglab.errors import ReglabError


def rebuild(study: dict[str, Any], variant: str, image_shape: tuple[int, int], classes: int,
            weights: dict[str, np.ndarray], where: str = "the run's file") -> torch.nn.Module:
    """The variant's network with `weights` (a state_dict as NumPy arrays; batch norm's step
    counts may be absent: the store leaves them out), in eval mode on the CPU. ReglabError when
    the weights are not this architecture's (`where` names them)."""
    spec = study_from_dict(study, "study.json").variant(variant)
    model = models.build(spec, tuple(image_shape), classes, None)  # None: no initial draw, filled below
    state = model.state_dict()
    # Batch norm's num_batches_tracked counts training steps; evaluation never reads it.
    needed = [k for k in state if not k.endswith("num_batches_tracked")]
    missing = [k for k in needed if k not in weights]
    unexpected = [k for k in weights if k not in state]
    wrong = [f"{k} {tuple(weights[k].shape)} (the model's is {tuple(state[k].shape)})"
             for k in needed if k in weights and tuple(weights[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or wrong:
        parts = ([f"missing {', '.join(missing[:4])}"] if missing else []) + \
                ([f"not the model's {', '.join(unexpected[:4])}"] if unexpected else []) + \
                ([f"other shapes: {', '.join(wrong[:4])}"] if wrong else [])
        raise ReglabError(f"the weights in {where} do not fit the variant {variant!r}'s network ({'; '.join(parts)}): "
                          "they were not written for this study. Fix: delete that file and its record (the .json "
                          "beside it); `reglab resume` on the run directory then trains that run again.")
    with torch.no_grad():
        for name in needed:
            state[name].copy_(torch.from_numpy(np.ascontiguousarray(weights[name])))
    return model.eval()
