"""Progress of a study where `reglab.run` is called from: a Jupyter notebook (a widget bar when
ipywidgets is installed, else one plain line per finished run) or a terminal (rich's bar, as
`reglab run` draws it). Lightning learnt the same: check for ipywidgets before drawing widgets."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from reglab.progress.events import Silent


def in_notebook() -> bool:
    """True inside a Jupyter kernel (not a plain IPython terminal)."""
    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def progress_observer(progress: Any) -> Any:
    """What `progress=` asks for: True (the right display for where we run), False or None
    (nothing at all), or an observer of one's own."""
    if progress is True:
        if in_notebook():
            return NotebookProgress()
        from rich.console import Console

        from reglab.progress.terminal import TerminalProgress

        return TerminalProgress(Console(stderr=True))
    if progress is False or progress is None:
        return None
    return progress


class NotebookProgress(Silent):
    def __init__(self) -> None:
        self.widgets = importlib.util.find_spec("ipywidgets") is not None
        self.total_runs = 0
        self.finished = 0
        self.bar: Any = None
        self.label: Any = None

    def notice(self, message: str) -> None:
        print(f"note: {message}")

    def study_started(self, total_runs: int, total_epochs: int) -> None:
        self.total_runs = total_runs
        if total_runs == 0:
            print("every run is already finished")
        elif self.widgets:
            import ipywidgets
            from IPython.display import display

            self.bar = ipywidgets.IntProgress(min=0, max=total_epochs, description="epochs",
                                              layout=ipywidgets.Layout(width="60%"))
            self.label = ipywidgets.HTML()
            display(ipywidgets.VBox([self.bar, self.label]))
        else:
            print(f"training {total_runs} runs ({total_epochs} epochs in all)")

    def epoch_finished(self, variant: Any, record: Any) -> None:
        if self.bar is not None:
            self.bar.value += 1
            self.label.value = (f"{_html(variant.name)} epoch {record.epoch + 1}/{variant.epochs} &nbsp; "
                                f"loss {record.train_loss:.3f} &nbsp; val_loss {record.val_loss:.3f} &nbsp; "
                                f"val_acc {record.val_accuracy:.3f}")

    def run_finished(self, record: Any) -> None:
        self.finished += 1
        outcome = (f"test accuracy {record.test_accuracy:.4f}" if record.status == "completed"
                   else f"diverged at epoch {record.diverged_at}")
        line = f"[{self.finished}/{self.total_runs}] {record.variant} seed {record.seed}: {outcome}  ({record.seconds:.1f} s)"
        if self.bar is not None:
            self.label.value = _html(line)
        else:
            print(line)

    def stopping(self) -> None:
        print("stopping at the end of the current epoch (interrupt again to stop at once) ...")

    def study_finished(self, run_dir: Path) -> None:
        if self.bar is not None:
            self.bar.value = self.bar.max
            self.bar.bar_style = "success"


def _html(text: str) -> str:
    import html

    return html.escape(text)
