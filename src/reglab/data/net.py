"""HTTP for downloads: https only, a short connect timeout, and errors in plain words.

urllib (not requests) keeps the dependency list short and still honours the user's proxy
settings and follows redirects (GitHub's /raw/ URLs redirect).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import urllib.error
import urllib.request
from urllib.parse import urlsplit

# Plain http is allowed only to this machine: tests serve files from 127.0.0.1, and there is
# no network on the way for anyone to tamper with.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class UrlRefused(Exception):
    """A URL we will not fetch (not https, not loopback)."""


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return
    raise UrlRefused(f"refusing {url}: only https URLs (or http to this machine) are fetched")


def is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in LOOPBACK_HOSTS


def _with_read_timeout(base: type, read_timeout: float) -> type:
    """A connection class that connects within its own timeout, then reads with another.

    urllib has one timeout for both; we want an offline or firewalled machine to give up
    connecting within seconds, while a slow but live download may pause for longer.
    """

    class Connection(base):  # type: ignore[misc, valid-type]
        def connect(self) -> None:
            super().connect()
            self.sock.settimeout(read_timeout)

    return Connection


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, read_timeout: float) -> None:
        super().__init__()
        self._connection = _with_read_timeout(http.client.HTTPSConnection, read_timeout)

    def https_open(self, req):  # noqa: ANN001 - urllib's signature
        return self.do_open(self._connection, req, context=self._context)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, read_timeout: float) -> None:
        super().__init__()
        self._connection = _with_read_timeout(http.client.HTTPConnection, read_timeout)

    def http_open(self, req):  # noqa: ANN001
        return self.do_open(self._connection, req)


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never from https down to plain http."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        try:
            check_url(newurl)
        except UrlRefused as e:
            raise urllib.error.URLError(str(e)) from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def open_url(url: str, connect_timeout: float, read_timeout: float):  # noqa: ANN201
    """Open `url` for streaming; raises UrlRefused, urllib.error.URLError or OSError."""
    check_url(url)
    handlers: list[urllib.request.BaseHandler] = [
        _HTTPSHandler(read_timeout),
        _HTTPHandler(read_timeout),
        _SafeRedirects(),
    ]
    if is_loopback(url):
        # A proxy from the environment would otherwise be asked for 127.0.0.1.
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers={"User-Agent": "reglab"})
    return opener.open(request, timeout=connect_timeout)


def describe_error(error: BaseException, timeout: float) -> tuple[str, bool]:
    """(one-line reason, whether the host looks unreachable) for an exception from open_url.

    Unreachable hosts are skipped for the remaining files of a fetch, so that an offline
    machine fails after one attempt per mirror instead of one per file and mirror.
    """
    if isinstance(error, UrlRefused):
        return str(error), True
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}", False
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, socket.gaierror):
        return f"no network or unknown host (name lookup failed: {reason.strerror})", True
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused", True
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout:g} s (offline or firewalled?)", True
    if isinstance(reason, ssl.SSLError):
        return f"TLS error: {reason}", True
    if isinstance(reason, OSError):
        return f"network error: {reason.strerror or reason}", True
    return f"network error: {reason}", True
