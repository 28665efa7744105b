"""What a face hears while a study runs, and the observers every face can use.

The engine calls the training events (notice .. run_finished; run_epoch_finished is
epoch_finished with the run's seed, for Keras-style callbacks); the lab (lab.py) adds the study's
end, the report and an interrupt. An observer implements the events it cares about: `Observers`
fans each event out to those that have it, so progress bars, exporters and a live
page compose without knowing of each other. Torch-free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from reglab.store.records import EpochRecord, RunRecord

# Every event, in the order a study meets them (study_finished .. report_written once, at the end).
EVENTS = ("notice", "study_started", "runs_started", "units_running", "epoch_finished", "run_epoch_finished",
          "run_finished", "stopping", "study_finished", "report_missing", "report_written")


class Observer(Protocol):
    """The training events the engine sends (engine/scheduler.py)."""

    def notice(self, message: str) -> None: ...
    def study_started(self, total_runs: int, total_epochs: int) -> None: ...
    def runs_started(self, runs: list[tuple[Any, int]]) -> None: ...  # (VariantSpec, seed)
    def epoch_finished(self, variant: Any, record: EpochRecord) -> None: ...
    def run_finished(self, record: RunRecord) -> None: ...


class Silent:
    """Hears everything, does nothing: a base class for observers that want only some events."""

    def notice(self, message: str) -> None: pass
    def study_started(self, total_runs: int, total_epochs: int) -> None: pass
    def runs_started(self, runs: list[tuple[Any, int]]) -> None: pass
    def epoch_finished(self, variant: Any, record: EpochRecord) -> None: pass
    def run_finished(self, record: RunRecord) -> None: pass
    def units_running(self, nodes: dict[str, int]) -> None: pass  # a cluster: units in flight on each node
    # epoch_finished with the run's seed, told right after it (Keras-style callbacks need to know the run).
    def run_epoch_finished(self, variant: Any, seed: int, record: EpochRecord) -> None: pass
    # The lab's events (lab.py).
    def stopping(self) -> None: pass  # a first Ctrl-C / kernel interrupt: stopping at the epoch's end
    def study_finished(self, run_dir: Path) -> None: pass  # every run trained and stored
    def report_missing(self, line: str) -> None: pass  # something the report could not read
    def report_written(self, path: Path) -> None: pass  # report.html


class Observers(Silent):
    """Several observers as one: each event goes to every observer that defines it, in order."""

    def __init__(self, *observers: Any):
        self.observers = [o for o in observers if o is not None]

    def _send(self, event: str, *args: Any) -> None:
        for observer in self.observers:
            handler = getattr(observer, event, None)
            if handler is not None:
                handler(*args)

    def notice(self, message): self._send("notice", message)
    def study_started(self, total_runs, total_epochs): self._send("study_started", total_runs, total_epochs)
    def runs_started(self, runs): self._send("runs_started", runs)
    def epoch_finished(self, variant, record): self._send("epoch_finished", variant, record)
    def run_epoch_finished(self, variant, seed, record): self._send("run_epoch_finished", variant, seed, record)
    def run_finished(self, record): self._send("run_finished", record)
    def units_running(self, nodes): self._send("units_running", nodes)
    def stopping(self): self._send("stopping")
    def study_finished(self, run_dir): self._send("study_finished", run_dir)
    def report_missing(self, line): self._send("report_missing", line)
    def report_written(self, path): self._send("report_written", path)


class Recorder(Silent):
    """Keeps every event in memory, in order, as (event, args): for tests and benchmarks."""

    def __init__(self) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []

    def __getattribute__(self, name: str) -> Any:
        if name in EVENTS:
            events = object.__getattribute__(self, "events")
            return lambda *args: events.append((name, args))
        return object.__getattribute__(self, name)

    def of(self, event: str) -> list[tuple[Any, ...]]:
        return [args for name, args in self.events if name == event]
