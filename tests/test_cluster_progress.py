"""The progress bar's line for a cluster: which nodes train how many units, readable at 80 columns."""

from __future__ import annotations

import io

from rich.console import Console

from reglab.config import parse_study
from reglab.progress.terminal import TerminalProgress


def test_the_units_in_flight_per_node_fit_80_columns():
    screen = io.StringIO()
    progress = TerminalProgress(Console(file=screen, force_terminal=True, width=80, color_system=None))
    progress.study_started(4, 8)
    progress.runs_started([(parse_study('[[variants]]\nname = "plain"\n').variants[0], 0)])
    progress.units_running({"192.0.2.2/3f2a": 1, "192.0.2.3/9c0d": 2})
    progress.progress.refresh()
    progress.close()
    assert "3 in flight on 2 nodes: 192.0.2.2/3f2a ×1, 192.0.2.3/9c0d ×2" in screen.getvalue()
