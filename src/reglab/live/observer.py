"""`reglab run --live`: an observer of the study that serves its live page while it trains.

It only starts and stops the server: the page's data comes from the run directory, which the
trainer writes as it always does, so this observer adds nothing to an epoch's cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from reglab.live import bind, open_in_browser, started
from reglab.live.server import LiveServer

# After the study, open pages get its final state and the `end` event before the port closes.
GOODBYE_SECONDS = 1.0


class LiveObserver:
    def __init__(self, run_dir: Path, *, host: str = "127.0.0.1", port: int = 0, lang: str = "en",
                 browser: bool = True, say: Callable[[str], None] = print):
        self.run_dir = Path(run_dir)
        self.host, self.port, self.lang, self.browser, self.say = host, port, lang, browser, say
        # The port now, before the study makes its run directory: a busy one stops everything here.
        self.server: LiveServer | None = bind(self.run_dir, host=host, port=port, lang=lang, say=say)
        self.serving = False

    def start(self) -> None:
        """Serve now: the run directory exists (the store is created before the first run starts)."""
        if self.serving or self.server is None:
            return
        self.serving = True
        started(self.server, self.lang, self.say)
        if self.browser:
            open_in_browser(self.server.url + ("?lang=ja" if self.lang == "ja" else ""))

    def close(self) -> None:
        """The study is over (finished, failed or interrupted): show its last state, then stop."""
        if self.server is None:
            return
        if self.serving:
            self.server.study_ended()
            time.sleep(GOODBYE_SECONDS)
        self.server.stop()  # never served (the study failed before training): the port is given back
        self.server = None

    def __enter__(self) -> LiveObserver:
        """From Python: `with LiveObserver(out) as live: reglab.run(..., out=out, observers=(live,))`
        serves the page while the study trains and stops it after the block."""
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ the Observer protocol

    def study_started(self, total_runs: int, total_epochs: int) -> None:
        self.start()

    def notice(self, message: str) -> None: pass
    def runs_started(self, runs) -> None: pass
    def epoch_finished(self, variant, record) -> None: pass
    def run_finished(self, record) -> None: pass
