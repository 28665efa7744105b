"""Keras-style callbacks, told each run's progress: `reglab.run(study, callbacks=[...])`.

A callback is any object with some of Keras's hooks (a keras.callbacks.Callback subclass works):

    on_train_begin(logs)          a run starts (once per run, even when a cluster retries its unit)
    on_epoch_end(epoch, logs)     a run finished an epoch: logs has Keras's keys, loss, accuracy,
                                  val_loss, val_accuracy (losses with the L1/L2 term, as Keras's),
                                  and lr
    on_train_end(logs)            a run is stored; logs are its last epoch's

Before each hook, `set_params` (or the attribute `params`) gives the run it is about: Keras's
`epochs` and `verbose`, and reglab's `variant` and `seed`. Runs train side by side (a stack of
seeds, or units on a cluster), so hooks of different runs interleave: tell them apart by params.
Epochs are told when they end, in the study's process (the driver, on Ray too); the hooks only
watch: there is no model to change and no stop_training (an epoch's start and batches are not
told: a stack trains many runs' batches as one). A callback that raises is warned about once and
not called again: the study goes on.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from reglab.progress.events import Silent
from reglab.store.records import EpochRecord, RunRecord

HOOKS = ("on_train_begin", "on_epoch_end", "on_train_end")


class KerasCallbacks(Silent):
    """An observer that calls Keras-style callbacks (see the module's docstring)."""

    def __init__(self, callbacks: Sequence[Any]):
        self.callbacks = list(callbacks)  # checked by the API (api_checks.callbacks)
        self._params: dict[tuple[str, int], dict[str, Any]] = {}
        self._last: dict[tuple[str, int], dict[str, float]] = {}
        self._broken: set[int] = set()

    def runs_started(self, runs: list[tuple[Any, int]]) -> None:
        for variant, seed in runs:
            key = (variant.name, seed)
            if key in self._params:
                continue  # a unit trained again (a cluster's lost worker): the run began once
            self._params[key] = {"epochs": variant.epochs, "verbose": 0, "variant": variant.name, "seed": seed}
            self._call("on_train_begin", key, logs={})

    def run_epoch_finished(self, variant: Any, seed: int, record: EpochRecord) -> None:
        key = (variant.name, seed)
        self._last[key] = record.keras_logs()
        self._call("on_epoch_end", key, record.epoch, logs=dict(self._last[key]))

    def run_finished(self, record: RunRecord) -> None:
        key = (record.variant, record.seed)
        self._call("on_train_end", key, logs=dict(self._last.pop(key, {})))

    def _call(self, hook: str, key: tuple[str, int], *args: Any, logs: dict[str, float]) -> None:
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is None or id(callback) in self._broken:
                continue
            try:
                params = dict(self._params.get(key, {"variant": key[0], "seed": key[1]}))
                if callable(getattr(callback, "set_params", None)):
                    callback.set_params(params)
                else:
                    callback.params = params
                method(*args, logs=logs)
            except Exception as exc:  # a user's callback: its bug must not cost the study
                self._broken.add(id(callback))
                warnings.warn(f"callback {type(callback).__name__}.{hook} raised {type(exc).__name__}: {exc}; "
                              "it is not called again (the study goes on).", RuntimeWarning, stacklevel=2)
