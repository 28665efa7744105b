"""The live server answers only to its own address, and its pages run no inline script (issue 24,
fault 6): a page of another site whose name was made to resolve to 127.0.0.1 (DNS rebinding)
sends that name in its Host header, and gets 421, not the study."""

from __future__ import annotations

import http.client
import re

import pytest

from reglab.live import LiveServer
from reglab.live.server import PAGE_POLICY


def request(server: LiveServer, path: str, host: str | None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from trained_runs import shared

    with LiveServer(shared(tmp_path_factory), poll_seconds=0.05) as live:
        yield live


FORGED = ["attacker.example", "attacker.example:{port}", "localhost.attacker.example:{port}", "127.0.0.1:{other}",
          "localhost:{other}", "127.0.0.1", "", "127.0.0.1:{port}@evil", "[::1", None]


def test_a_forged_host_is_refused_on_every_path(server, fault_log):
    port, other = server.port, server.port + 1 if server.port < 65535 else server.port - 1
    paths = ["/", "/state.json", "/events", "/live.js", "/live.css", "/report/report.html", "/font/ja.ttf", "/nothing"]
    for host in FORGED:
        shown = host.format(port=port, other=other) if host is not None else None
        for path in paths:
            status, _, body = request(server, path, shown)
            assert status == 421 and b"tiny-live" not in body, (shown, path, status)
    fault_log(f"requests to the live page with a forged or missing Host header ({len(FORGED)} kinds, "
              f"{len(paths)} paths: DNS rebinding)", len(FORGED) * len(paths), "421, nothing of the study")


def test_its_own_addresses_are_served(server):
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", f"LOCALHOST.:{server.port}"):
        status, _, body = request(server, "/state.json", host)
        assert status == 200 and b"tiny-live" in body, host


def test_the_page_runs_no_inline_script(server):
    status, headers, body = request(server, "/", f"127.0.0.1:{server.port}")
    policy = headers["Content-Security-Policy"]
    assert status == 200 and policy == PAGE_POLICY
    assert "unsafe-inline" not in policy and "script-src 'self'" in policy
    page = body.decode("utf-8")
    # Every <script> is a file of this server or a data block (not run); no handler attributes.
    for attributes, content in re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S):
        assert 'src="/live.js"' in attributes or 'type="application/json"' in attributes, attributes
        assert 'src="/live.js"' not in attributes or not content.strip()
    assert not re.search(r"\son[a-z]+\s*=", page) and "<style" not in page
    for path, kind in (("/live.js", "text/javascript"), ("/live.css", "text/css")):
        status, headers, _ = request(server, path, f"127.0.0.1:{server.port}")
        assert status == 200 and headers["Content-Type"].startswith(kind)
    status, headers, body = request(server, "/report/report.html", f"127.0.0.1:{server.port}")
    if status == 200:  # the shared study has no report unless a test wrote one
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert "script-src" not in headers["Content-Security-Policy"]


def test_the_reports_styles_are_allowed_by_their_hashes():
    from reglab.live.server import report_policy

    html = b"<html><style>p { color: red }</style><style media=print>p { color: black }</style></html>"
    policy = report_policy(html)
    assert policy.count("'sha256-") == 2 and "unsafe" not in policy and "script" not in policy
    assert "style-src 'none'" in report_policy(b"<html></html>")


def test_the_name_it_was_bound_to_is_its_own():
    from reglab.live.server import accepted_host

    assert accepted_host("mybox.local:8000", "mybox.local", 8000)
    assert accepted_host("10.0.0.5:8000", "0.0.0.0", 8000) and not accepted_host("evil.example:8000", "0.0.0.0", 8000)
    assert accepted_host("[::1]:8000", "127.0.0.1", 8000) and accepted_host("localhost", "127.0.0.1", 80)
    assert not accepted_host("mybox.local:8001", "mybox.local", 8000)
