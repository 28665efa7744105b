"""A real browser opens report.html from disk: it loads, logs nothing to the console, and is not blank.

Debian's `chromium` (installed by .ci/run). Without it the test skips, saying why.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import browser_lookup
import pytest
from matplotlib import image

CHROMIUM = browser_lookup.chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=browser_lookup.HOW)


def open_in_chromium(page: Path, tmp_path: Path) -> tuple[str, list[str], np.ndarray]:
    """(the DOM after load, the console messages, a screenshot as RGB) of one headless load."""
    screenshot = tmp_path / f"{page.stem}-{page.parent.name}.png"
    done = subprocess.run([
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
        "--window-size=1280,3000", f"--screenshot={screenshot}", "--dump-dom", page.resolve().as_uri(),
    ], capture_output=True, text=True, timeout=120, env={**os.environ, "LANG": "C.UTF-8"})
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console, image.imread(screenshot)[..., :3]


def test_the_console_check_sees_an_error(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>console.error('boom')</script></body></html>")
    _, console, _ = open_in_chromium(page, tmp_path)
    assert any("boom" in line for line in console)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_report_loads_without_console_errors_and_is_not_blank(rendered, tmp_path, lang):
    dom, console, pixels = open_in_chromium(rendered.reports[lang], tmp_path)
    assert console == []
    assert dom.count("<img") >= 9 and "<section" in dom and "<script" not in dom
    assert ("reglab report: synthetic" if lang == "en" else "reglab レポート: synthetic") in dom
    grey = pixels.mean(axis=2)
    assert (grey < 0.9).mean() > 0.03  # text and figures, not an empty page
    assert grey.std() > 0.1
