"""Training. `reference` is the plain PyTorch loop: the oracle that any faster path is tested against."""

from reglab.engine.startup import long_lived_imports

with long_lived_imports():  # torch, imported here first: see reglab/engine/startup.py
    from reglab.engine.core import DeviceData, RunOutcome
    from reglab.engine.reference import train_run

__all__ = ["DeviceData", "RunOutcome", "train_run"]
