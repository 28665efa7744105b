"""Watch a study learn: a page whose curves grow epoch by epoch, served from the run directory.

    reglab watch RUN_DIR            serve the page of any run directory (training, stopped or ended)
    reglab run ... --live           the same while this process trains the study

No torch here: the page reads what the store has written (live/state.py), so it works on a study
trained by another process, and watching never slows the training.
"""

from __future__ import annotations

import os
import sys
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path

from reglab.errors import ReglabError
from reglab.live.server import LiveServer, is_loopback

__all__ = ["LiveServer", "bind", "is_loopback", "open_in_browser", "serve", "started", "watch"]


def serve(run_dir: Path | str, *, host: str = "127.0.0.1", port: int = 0, lang: str = "en",
          say: Callable[[str], None] = print) -> LiveServer:
    """Start serving `run_dir`'s live page; says where (and warns when others can reach it)."""
    from reglab.store import RunStore

    RunStore.open(Path(run_dir))  # a clear error for a path that is not a run directory
    return started(bind(run_dir, host=host, port=port, lang=lang, say=say), lang, say)


def started(server: LiveServer, lang: str, say: Callable[[str], None]) -> LiveServer:
    server.start()
    say(f"Live page: {server.url}" + ("?lang=ja" if lang == "ja" else ""))
    return server


def bind(run_dir: Path | str, *, host: str = "127.0.0.1", port: int = 0, lang: str = "en",
         say: Callable[[str], None] = print) -> LiveServer:
    """The live page's server with its port taken, not serving yet (`started` serves it): the run
    directory need not exist yet. A busy port or an address not of this machine: ReglabError."""
    if not is_loopback(host):
        say(f"warning: --host {host} lets other machines on the network read this study's live page "
            "(it is read-only, with no password). Leave --host out to serve on 127.0.0.1 only.")
    try:
        server = LiveServer(run_dir, host=host, port=port, lang=lang)
    except OSError as exc:
        what = f"port {port} on {host}" if port else host
        raise ReglabError(f"cannot serve the live page on {what}: {exc.strerror or exc}. "
                          "Fix: choose another --port (or leave it out for a free one)"
                          + ("" if is_loopback(host) else ", or another --host") + ".") from None
    return server


def open_in_browser(url: str) -> bool:
    """Open `url` when there is a screen to show it on (not over SSH, not in CI)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


def watch(run_dir: Path | str, *, host: str = "127.0.0.1", port: int = 0, lang: str = "en",
          browser: bool = True, say: Callable[[str], None] = print,
          stop: threading.Event | None = None) -> None:
    """Serve the page until Ctrl-C (or `stop` is set). The study may be training elsewhere, stopped
    or finished: the page follows whatever the run directory holds."""
    server = serve(run_dir, host=host, port=port, lang=lang, say=say)
    if browser:
        open_in_browser(server.url + ("?lang=ja" if lang == "ja" else ""))
    say("Press Ctrl-C to stop serving.")
    stop = stop or threading.Event()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
