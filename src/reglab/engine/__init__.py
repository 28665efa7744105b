"""Training. `reference` is the plain PyTorch loop: the oracle that any faster path is tested against."""

from reglab.engine.reference import DeviceData, RunOutcome, train_run

__all__ = ["DeviceData", "RunOutcome", "train_run"]
