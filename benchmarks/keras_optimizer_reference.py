"""Records what Keras 3's Nadam, Adamax, Adadelta and Lion do to a fixed tensor, for
tests/techniques/test_keras_optimizers.py (which then needs no Keras).

Six steps on a 4x5 tensor with gradients fixed in advance (no loss: both sides see exactly the
same gradients), some of them tiny or zero so that where epsilon sits shows. In float64: Keras's
float32 arithmetic rounds Nadam's step to about 1e-6 at lr 0.1 (its momentum schedule in float32),
torch.optim's to 1e-7, so float32 would hide a wrong formula behind rounding; in float64 a correct
formula agrees to about 1e-9. Run with the torch backend (no TensorFlow needed):

    KERAS_BACKEND=torch python benchmarks/keras_optimizer_reference.py > tests/techniques/keras_optimizer_steps.json
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402


def problem() -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(25)
    start = rng.normal(size=(4, 5))
    grads = []
    for step in range(6):
        g = rng.normal(size=(4, 5)) * 10.0 ** rng.integers(-6, 1, size=(4, 5))
        g[0, step % 5] = 0.0  # a weight whose gradient vanishes for a step
        grads.append(g)
    return start, grads


def main() -> None:
    keras.backend.set_floatx("float64")
    start, grads = problem()
    out = {"keras": keras.__version__, "backend": keras.backend.backend(), "start": start.tolist(),
           "grads": [g.tolist() for g in grads], "after": {}}
    # Keras's own defaults, and one set with a larger learning rate so that the moves are large.
    for name, make in (("nadam", keras.optimizers.Nadam), ("adamax", keras.optimizers.Adamax),
                       ("adadelta", keras.optimizers.Adadelta), ("lion", keras.optimizers.Lion)):
        for label, kwargs in (("defaults", {}), ("lr0.1", {"learning_rate": 0.1})):
            var = keras.Variable(start.copy(), dtype="float64")
            optimizer = make(**kwargs)
            trajectory = []
            for g in grads:
                optimizer.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
                trajectory.append(keras.ops.convert_to_numpy(var.value).tolist())
            out["after"][f"{name}/{label}"] = trajectory
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
