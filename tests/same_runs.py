"""What both engines must record alike, shared by the MLP and CNN equivalence tests and the
conformance suite (tests/techniques/test_conformance.py); and the stacks those equivalence tests
train, one table for every architecture with a stacked form.

Tolerance: the stacked products round differently from the per-run ones (another summation
order in the matrix products, a grouped convolution), so values agree to float32 rounding, not
bit for bit. Measured over these tests: at most about 3e-7 relative. rtol 1e-5 leaves room for
that error to grow over the epochs and is still far below any difference a variant makes (1e-2
and more).
"""

from __future__ import annotations

import numpy as np
import pytest

from reglab.store.records import SKETCH_BUCKETS
from reglab.techniques import registry

RTOL = 1e-5


def assert_same_records(fast, reference, rtol=RTOL):
    a, b = fast.record, reference.record
    assert (a.status, a.diverged_at, a.best_epoch, a.stopped_epoch) == (b.status, b.diverged_at, b.best_epoch,
                                                                        b.stopped_epoch)
    assert len(a.history) == len(b.history)
    for x, y in zip(a.history, b.history):
        assert (x.train_eval_loss is None) == (y.train_eval_loss is None)
        for field in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "train_penalty", "penalty",
                      "weight_norm") + (("train_eval_loss",) if x.train_eval_loss is not None else ()):
            expected = getattr(y, field)
            # A diverged epoch's loss is NaN (or inf) in both engines: then both must be not finite.
            if np.isfinite(expected):
                assert getattr(x, field) == pytest.approx(expected, rel=rtol, abs=1e-7), (a.variant, field)
            elif field.endswith("loss"):
                assert not np.isfinite(getattr(x, field)), (a.variant, field)
    if b.test_loss is not None:
        assert a.test_loss == pytest.approx(b.test_loss, rel=rtol)
        # One test example may fall the other way within the rounding.
        assert abs(a.test_accuracy - b.test_accuracy) <= 1 / len(fast.arrays.test_predictions) + 1e-9
    assert sorted(fast.arrays.weights) == sorted(reference.arrays.weights)
    for name, value in reference.arrays.weights.items():
        if np.isfinite(value).all():
            np.testing.assert_allclose(fast.arrays.weights[name], value, rtol=1e-4, atol=1e-5)
    assert_same_diagnostics(fast, reference)  # the max-norm peak per epoch, the weight sketches


def assert_identical_runs(a, b):
    """Bit for bit (a resumed run against an uninterrupted one): every record field but the times,
    every stored array."""
    def numbers(outcome):
        record = outcome.record.to_json()
        record.pop("seconds")
        for epoch in record["history"]:
            epoch.pop("seconds")
        return record

    assert numbers(a) == numbers(b)
    assert sorted(a.arrays.weights) == sorted(b.arrays.weights)
    for name, value in b.arrays.weights.items():
        assert np.array_equal(a.arrays.weights[name], value, equal_nan=True), name
    assert np.array_equal(a.arrays.test_predictions, b.arrays.test_predictions)
    assert np.array_equal(a.arrays.weight_sketches, b.arrays.weight_sketches, equal_nan=True)


def _each(family: str, key: str) -> str:
    return "".join(f'[[variants]]\nname = "{name}"\n{key} = "{name}"\n' for name in registry.family(family))


# The stacks that the equivalence tests train (tests/engine/test_fast.py, test_fast_cnn.py), by
# what they exercise: several runs in one stack, with settings that differ between them. The
# conformance suite trains every registered technique alone; these are the mixtures.
COMMON_STACKS = {
    "penalties": '[[variants]]\nname = "l1"\nl1 = 0.001\n[[variants]]\nname = "l2"\nl2 = 0.001\n'
                 '[[variants]]\nname = "l1_l2"\nl1_l2 = { l1 = 0.0005, l2 = 0.002 }\n',
    "constraints": '[[variants]]\nname = "wd"\nweight_decay = 0.05\noptimizer = { name = "sgd", lr = 0.1 }\n'
                   '[[variants]]\nname = "maxnorm"\nmax_norm = 0.5\n',
    "loss": '[[variants]]\nname = "ls"\nlabel_smoothing = 0.1\n[[variants]]\nname = "plain"\n',
    "augmentation": '[[variants]]\nname = "aug"\naugmentation = { shift = 0.2, rotation = 15.0, noise = 0.05 }\n'
                    '[[variants]]\nname = "plain"\n',
    "optimizers": _each("optimizer", "optimizer"),
}
STACKS = {
    "mlp": {
        **COMMON_STACKS,
        "dropout": '[[variants]]\nname = "drop"\ndropout = [0.5, 0.2]\n[[variants]]\nname = "plain"\n',
        # With batch norm the bias of the Linear before it has no gradient but rounding noise, which
        # Adam scales up to steps of size lr: the engines' biases and running means drift apart
        # (test_fast.py). Under SGD the noise stays noise, and the records agree to RTOL.
        "batch_norm": '[[variants]]\nname = "bn"\nbatch_norm = true\noptimizer = { name = "momentum", lr = 0.05 }\n'
                      '[[variants]]\nname = "bn_l2"\nbatch_norm = true\nl2 = 0.001\ndropout = 0.2\n'
                      'optimizer = { name = "sgd", lr = 0.1 }\n',
        "batch_norm_after": '[[variants]]\nname = "a"\nbatch_norm = { position = "after" }\noptimizer = "momentum"\n'
                            '[[variants]]\nname = "b"\nbatch_norm = { position = "after" }\noptimizer = "sgd"\n',
        "layer_norm": '[[variants]]\nname = "ln"\nlayer_norm = true\n'
                      '[[variants]]\nname = "ln_sgd"\nlayer_norm = true\noptimizer = { name = "momentum", lr = 0.05 }\n',
        "early_stopping": '[[variants]]\nname = "es"\nepochs = 12\noptimizer = { name = "adam", lr = 0.05 }\n'
                          'early_stopping = { patience = 1 }\n'
                          '[[variants]]\nname = "long"\nepochs = 6\noptimizer = { name = "adam", lr = 0.05 }\n',
        "schedules": _each("schedule", "schedule")
                     + '[[variants]]\nname = "per_step"\nschedule = { name = "cosine", unit = "step", decay_steps = 20 }\n',
    },
    "cnn": {
        **COMMON_STACKS,
        "dropout": '[[variants]]\nname = "d"\ndropout = [0.5, 0.2]\nspatial_dropout = [0.2, 0.1]\n'
                   '[[variants]]\nname = "d2"\ndropout = [0.3, 0.4]\nspatial_dropout = 0.3\n',
        "batch_norm": '[[variants]]\nname = "bn"\nbatch_norm = true\noptimizer = { name = "momentum", lr = 0.05 }\n'
                      '[[variants]]\nname = "bn_after"\nbatch_norm = true\noptimizer = { name = "sgd", lr = 0.1 }\n',
        "early_stopping": '[[variants]]\nname = "es"\nepochs = 8\noptimizer = { name = "adam", lr = 0.05 }\n'
                          'early_stopping = { patience = 1 }\n',
        "schedules": '[[variants]]\nname = "step"\nschedule = "step"\n[[variants]]\nname = "plateau"\n'
                     'schedule = "reduce_on_plateau"\n[[variants]]\nname = "per_step"\n'
                     'schedule = { name = "cosine", unit = "step", decay_steps = 10 }\n',
    },
}


def assert_same_diagnostics(fast, reference):
    """The per-epoch max-norm peak and the weight sketches: the same in both engines (the sketch is
    linear in the weights, so it agrees as the weights do)."""
    for x, y in zip(fast.record.history, reference.record.history):
        assert (x.max_norm_peak is None) == (y.max_norm_peak is None)
        if y.max_norm_peak is not None and np.isfinite(y.max_norm_peak):
            assert x.max_norm_peak == pytest.approx(y.max_norm_peak, rel=1e-4)
    a, b = fast.arrays.weight_sketches, reference.arrays.weight_sketches
    assert a.shape == b.shape == (len(reference.record.history), SKETCH_BUCKETS)
    finite = np.isfinite(b).all(axis=1)
    scale = np.abs(b[finite]).max() if finite.any() else 1.0
    np.testing.assert_allclose(a[finite], b[finite], rtol=1e-4, atol=1e-5 * scale)
