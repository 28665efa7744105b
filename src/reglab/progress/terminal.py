"""Progress of a study in a terminal: a rich bar over all epochs, the current runs and their
latest metrics, a line per finished run. Used by `reglab run` and by reglab.run in a terminal
(in a notebook, reglab.progress.notebook draws it instead)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Column
from rich.text import Text


class _StudyProgress(Progress):
    """The bar on one line and the latest epoch's metrics on the next: at 80 columns one line held
    neither (rich cut every column alike, the times to "…")."""

    def get_renderables(self):
        yield self.make_tasks_table(self.tasks)
        for task in self.tasks:
            yield Text(task.fields["status"], no_wrap=True, overflow="ellipsis")
            if task.fields.get("cluster"):
                yield Text(task.fields["cluster"], no_wrap=True, overflow="ellipsis")


class TerminalProgress:
    """A progress bar over all epochs of the study, with the current runs and their live metrics.
    Drawn only on a terminal; the per-run lines and notices are printed wherever `console` goes."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = _StudyProgress(
            TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis", max_width=48)),
            BarColumn(bar_width=None), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
            console=console, disable=not console.is_terminal, transient=True, expand=True,
        )
        self.task = None
        self.total_runs = 0
        self.training: dict[tuple[str, int], int] = {}  # runs in progress -> their planned epochs
        self.finished = 0

    def notice(self, message: str) -> None:
        self.console.print(f"[yellow]note:[/] {escape(message)}", highlight=False)

    def study_started(self, total_runs: int, total_epochs: int) -> None:
        self.total_runs = total_runs
        self.progress.start()
        self.task = self.progress.add_task("epochs", total=total_epochs, status="")

    def runs_started(self, runs) -> None:
        for variant, seed in runs:
            self.training[(variant.name, seed)] = variant.epochs
        self._describe()

    def _describe(self) -> None:
        names = [f"{name} s{seed}" for name, seed in self.training]
        if len(names) > 2:  # a GPU stack trains dozens at once
            names = [f"{len(names)} runs: {names[0]}", "…"]
        self.progress.update(self.task, description=escape(f"[{self.finished}/{self.total_runs}] {', '.join(names)}"))

    def epoch_finished(self, variant, record) -> None:
        self.progress.update(self.task, advance=1, status=(  # plain text: rendered without markup
            f"  {variant.name} epoch {record.epoch + 1}/{variant.epochs}  loss {record.train_loss:.3f}  "
            f"val_loss {record.val_loss:.3f}  val_acc {record.val_accuracy:.3f}"))

    def run_finished(self, record) -> None:
        self.finished += 1
        if record.status == "completed":
            outcome = f"test accuracy {record.test_accuracy:.4f}"
        else:
            outcome = f"[red]diverged at epoch {record.diverged_at}[/]"
        label = escape(f"[{self.finished}/{self.total_runs}] {record.variant} seed {record.seed}")
        self.progress.console.print(f"{label}: {outcome}  ({record.seconds:.1f} s)", highlight=False)
        # The bar counts planned epochs: a run that stopped early still uses up its share.
        planned = self.training.pop((record.variant, record.seed), len(record.history))
        self.progress.update(self.task, advance=planned - len(record.history))
        self._describe()

    def units_running(self, nodes: dict[str, int]) -> None:
        """On a cluster: which nodes train how many units now (a third line under the bar)."""
        where = ", ".join(f"{node} ×{count}" for node, count in sorted(nodes.items()))
        self.progress.update(self.task, cluster=f"  {sum(nodes.values())} in flight on {len(nodes)} nodes: {where}"
                             if nodes else "")

    def stopping(self) -> None:
        self.console.print("\nstopping at the end of the current epoch (Ctrl-C again to stop at once) ...")

    def study_finished(self, run_dir: Path) -> None:
        self.close()

    def close(self) -> None:
        self.progress.stop()
