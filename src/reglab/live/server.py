"""The live page's server: the standard library's threaded HTTP server and server-sent events.

It serves exactly these, read-only (GET and HEAD; anything else is refused):

    /                 the page (?lang=en|ja), with its /live.css and /live.js
    /state.json       the study's snapshot (live/state.py)
    /events           server-sent events: a `state` event whenever the run directory changes,
                      `end` when the server stops
    /report/NAME      the written report: report.html, findings.json and the report's PNG files
    /font/ja.ttf      the Japanese font the report's figures use (the page asks for it only to draw
                      Japanese text, for readers whose machine has no Japanese font)

No URL maps onto the file system: the report's files are looked up by exact name in the report
folder's listing, so `..`, encoded slashes or links cannot reach anything else. A request whose
Host header names another server is refused (421): a page of another site whose name was made to
resolve to 127.0.0.1 (DNS rebinding) sends its own name, and so cannot read the study.

One thread polls the run directory (a stat per file, every `poll_seconds`: twice a second) and rebuilds the
snapshot only when something changed; each open page holds one thread that waits for a new
snapshot. The trainer is never touched: it may even be another process.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from reglab.live import state as S
from reglab.live.page import SCRIPT, STYLE, render_page

REPORT_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*\.(html|png|json)$")
CONTENT_TYPES = {"html": "text/html; charset=utf-8", "png": "image/png", "json": "application/json"}
HEARTBEAT_SECONDS = 10.0  # an SSE comment, so a page that went away frees its thread
# The page's: its own script and style files, its server, nothing inline. The report (a file
# written to open offline) has no script at all and its own <style> blocks, allowed by their hashes.
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def report_policy(html: bytes) -> str:
    """The report's policy: no script; its <style> blocks by their sha256 (CSP level 2)."""
    import base64
    import hashlib

    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(block).digest()).decode()}'"
                      for block in re.findall(rb"<style[^>]*>(.*?)</style>", html, re.S))
    styles = hashes or "'none'"
    return (f"default-src 'none'; style-src {styles}; img-src 'self' data:; "
            "font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def accepted_host(header: str | None, bound: str, port: int) -> bool:
    """Whether a request's Host header names this server: its port, and a name that cannot have been
    made to point here by someone else: an IP address, localhost, or the host it was bound to
    (`bound`, as --host gave it; with 0.0.0.0 or ::, also this machine's own names)."""
    if not header:
        return False
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?", header.strip())
    if match is None or int(match.group(2) or 80) != port:
        return False
    name = match.group(1).strip("[]").lower().rstrip(".")
    try:
        ipaddress.ip_address(name)
        return True  # an address typed by the user: no name to rebind
    except ValueError:
        pass
    names = {"localhost", bound.lower()}
    if bound in ("0.0.0.0", "::"):
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    return name in names


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LiveServer:
    """Serves the live page of one run directory until stop() (or the end of a `with` block)."""

    def __init__(self, run_dir: Path | str, *, host: str = "127.0.0.1", port: int = 0, lang: str = "en",
                 poll_seconds: float = 0.5):
        self.root = Path(run_dir)
        self.named = host  # as given (--host NAME): the bound address is its number
        self.lang = lang
        self.poll_seconds = poll_seconds
        self._ended = False
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._version = 0
        self._signature: tuple | None = None
        self._snapshot: dict[str, Any] = {}
        self._findings: list[dict[str, str]] | None = None
        self._findings_key: tuple | None = None
        # The port is taken here and the directory read only at start(): `--live` takes its port
        # before the run directory exists, so that a busy port stops it before anything is written.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # allow_reuse_address (ThreadingHTTPServer's default) lets a restarted server take its port back
        # while old connections linger in TIME_WAIT; on Linux it never lets two servers share a port.
        server_class = type("_Server", (ThreadingHTTPServer,), {"address_family": family, "daemon_threads": True})
        self._http = server_class((host, port), _handler(self))
        self._threads = [threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.2},
                                          name="reglab-live-http", daemon=True),
                         threading.Thread(target=self._poll, name="reglab-live-poll", daemon=True)]

    # ------------------------------------------------------------------ lifecycle

    @property
    def host(self) -> str:
        return self._http.server_address[0]

    @property
    def port(self) -> int:
        return self._http.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> LiveServer:
        self._refresh()  # the first snapshot before the first page asks
        for thread in self._threads:
            thread.start()
        return self

    def study_ended(self) -> None:
        """Said by the process that trained the study: its runs are no longer training."""
        self._ended = True
        self._refresh(force=True)

    def stop(self) -> None:
        """Tell open pages the server is going, close every connection, release the port."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        if self._threads[0].is_alive():  # never started (a study that failed before training): nothing to stop
            self._http.shutdown()
        self._http.server_close()
        for thread in self._threads[1:]:
            thread.join(timeout=5)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ the snapshot

    def snapshot(self) -> tuple[int, dict[str, Any]]:
        with self._changed:
            return self._version, self._snapshot

    def _poll(self) -> None:
        while not self._stopping.wait(self.poll_seconds):
            try:
                self._refresh()
            except Exception:  # noqa: BLE001 - a file read mid-change; the next poll reads it again
                continue

    def _refresh(self, force: bool = False) -> None:
        signature = S.signature(self.root)
        if signature == self._signature and not force:
            return
        snap = S.snapshot(self.root, ended=self._ended)
        if snap["state"] == S.STUDY_FINISHED:
            snap["findings"] = self._finished_findings(signature)
        with self._changed:
            self._signature = signature
            self._snapshot = snap | {"server": "stopping" if self._stopping.is_set() else "live"}
            self._version += 1
            self._changed.notify_all()

    def _finished_findings(self, signature: tuple) -> list[dict[str, str]] | None:
        stored = S.stored_findings(self.root)
        if stored is not None:
            return stored
        if self._findings_key != signature:  # computed once per state of the records
            try:
                self._findings = S.computed_findings(self.root)
            except Exception:  # noqa: BLE001 - a study too damaged to analyse still shows its curves
                self._findings = None
            self._findings_key = signature
        return self._findings

    def wait_for_change(self, version: int, timeout: float) -> int:
        with self._changed:
            if self._version == version and not self._stopping.is_set():
                self._changed.wait(timeout)
            return self._version

    def report_file(self, name: str) -> Path | None:
        """A file of the written report, found by exact name in the folder's listing."""
        if not REPORT_NAME.match(name):
            return None
        folder = self.root / "report"
        try:
            names = {p.name: p for p in folder.iterdir()}
        except OSError:
            return None
        path = names.get(name)
        if path is None or path.is_symlink() or not path.is_file():
            return None
        return path


def _handler(live: LiveServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "reglab-live"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass  # the terminal shows the study's progress, not every request

        def do_HEAD(self) -> None:
            self._route(head=True)

        def do_GET(self) -> None:
            self._route(head=False)

        def _refuse(self) -> None:
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"read-only\n", "text/plain; charset=utf-8",
                       extra={"Allow": "GET, HEAD"})

        do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

        def _route(self, head: bool) -> None:
            if not accepted_host(self.headers.get("Host"), live.named, live.port):
                self._send(HTTPStatus.MISDIRECTED_REQUEST, b"this server answers only to its own address\n",
                           "text/plain; charset=utf-8", head=head)
                return
            url = urlsplit(self.path)
            path = url.path
            if path == "/":
                lang = (parse_qs(url.query).get("lang") or [live.lang])[0]
                body = render_page(lang if lang in ("en", "ja") else live.lang).encode("utf-8")
                self._send(HTTPStatus.OK, body, CONTENT_TYPES["html"], head=head)
            elif path in ("/live.js", "/live.css"):
                body, kind = (SCRIPT, "text/javascript") if path == "/live.js" else (STYLE, "text/css")
                self._send(HTTPStatus.OK, body.encode("utf-8"), f"{kind}; charset=utf-8", head=head)
            elif path == "/state.json":
                _, snap = live.snapshot()
                self._send(HTTPStatus.OK, _json(snap), CONTENT_TYPES["json"], head=head)
            elif path == "/font/ja.ttf":
                self._send(HTTPStatus.OK, _japanese_font(), "font/ttf", head=head,
                           extra={"Cache-Control": "max-age=86400"})
            elif path == "/favicon.ico":  # asked for by the browser on the report's page: none, and no error
                self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon", head=True)
            elif path == "/events" and not head:
                self._events()
            elif path.startswith("/report/") and (file := live.report_file(path[len("/report/"):])) is not None:
                try:
                    body = file.read_bytes()
                except OSError:
                    self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", head=head)
                    return
                self._send(HTTPStatus.OK, body, CONTENT_TYPES[file.suffix[1:]], head=head,
                           policy=report_policy(body) if file.suffix == ".html" else None)
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", head=head)

        def _send(self, status: HTTPStatus, body: bytes, content_type: str, head: bool = False,
                  extra: dict[str, str] | None = None, policy: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if "Cache-Control" not in (extra or {}):
                self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", policy or PAGE_POLICY)
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _events(self) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Security-Policy", PAGE_POLICY)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            version = -1
            try:
                while True:
                    current, snap = live.snapshot()
                    if current != version:
                        version = current
                        self.wfile.write(b"event: state\ndata: " + _json(snap) + b"\n\n")
                    if live._stopping.is_set():
                        self.wfile.write(b"event: end\ndata: {}\n\n")
                        self.wfile.flush()
                        return
                    self.wfile.flush()
                    started = time.monotonic()
                    if live.wait_for_change(version, HEARTBEAT_SECONDS) == version and \
                            time.monotonic() - started >= HEARTBEAT_SECONDS - 0.01:
                        self.wfile.write(b": heartbeat\n\n")
            except (BrokenPipeError, ConnectionResetError, ValueError, OSError):
                return  # the page went away (or the server closed the socket)

    return Handler


@functools.cache
def _japanese_font() -> bytes:
    import matplotlib_fontja  # the report's font (IPAexGothic), a dependency already

    return Path(matplotlib_fontja.get_font_ttf_path()).read_bytes()


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
