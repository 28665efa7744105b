"""Techniques that steer the training loop itself."""

from __future__ import annotations

import math
from typing import Any

from reglab.techniques.hooks import Context, Hooks, Verdict
from reglab.techniques.params import Param
from reglab.techniques.registry import PER_RUN, Technique, Words, register


class EarlyStopping(Hooks):
    """Keras's EarlyStopping: stop when `monitor` has not improved by more than `min_delta` for
    `patience` epochs. Unlike Keras, which restores only when it stops early, the best weights are
    restored at the end of training whenever `restore_best` is set: the model kept is the best seen."""

    def __init__(self, p: dict[str, Any]):
        self.monitor = p["monitor"]
        self.patience = p["patience"]
        self.min_delta = p["min_delta"]
        self.restore_best = p["restore_best"]
        self.sign = -1.0 if self.monitor == "val_loss" else 1.0  # larger is better after the sign
        self.best = -math.inf
        self.best_epoch: int | None = None
        self.wait = 0

    def observe(self, epoch: int, value: float) -> tuple[bool, bool]:
        """Returns (improved, stop)."""
        score = self.sign * value
        if score > self.best + self.min_delta:
            self.best, self.best_epoch, self.wait = score, epoch, 0
            return True, False
        self.wait += 1
        return False, self.wait >= self.patience

    def epoch_end(self, record: Any, ctx: Context) -> Verdict:
        improved, stop = self.observe(record.epoch, getattr(record, self.monitor))
        return Verdict(stop=stop, keep_weights=improved and self.restore_best)

    def run_fields(self) -> dict[str, Any]:
        return {"best_epoch": self.best_epoch}

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]


register(Technique(
    "early_stopping", "training",
    "Early stopping: stop when the validation metric stops improving; keep the best weights",
    "早期終了: 検証データの指標が改善しなくなったら訓練を打ち切り、最良の重みを残す",
    (Param("monitor", "str", "val_loss", "the metric watched", choices=("val_loss", "val_accuracy")),
     Param("patience", "int", 3, "epochs without improvement before stopping", low=0),
     Param("min_delta", "float", 0.0, "smallest change that counts as an improvement", low=0.0),
     Param("restore_best", "bool", True, "end with the weights of the best epoch")),
    EarlyStopping, stacked=PER_RUN,
    words=Words(name=('early stopping', '早期終了'), note=(
        '<b>Early stopping</b>: watch the validation loss and stop training once it has not improved '
        "for <i>patience</i> epochs, keeping the weights of the best epoch; in the tutorial's words, "
        'stop training once the validation loss starts to rise.',
        '<b>早期終了</b>: 訓練ロスではなく検証ロスを監視し、検証ロスが増加に転じ始めたら（<i>patience</i> エポック改善しなければ）訓練を打ち切り、最も良かったエポックの重みを残します。')),
))
