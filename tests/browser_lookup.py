"""The browser the browser tests drive (report pages, the live page): Debian's or Ubuntu's
`chromium` when it is installed (`apt-get install chromium`; .ci/run installs it), else the
Chromium that Playwright downloads (`python -m playwright install chromium`). The `test` extra
brings Playwright, which brings no browser: without either, those tests skip and say how to get one."""

from __future__ import annotations

import shutil
from pathlib import Path

HOW = ("no browser for the browser tests: `apt-get install chromium` (Debian, Ubuntu) or "
       "`python -m playwright install chromium`")


def chromium() -> str | None:
    """The browser's executable, or None where there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            path = p.chromium.executable_path  # where `playwright install chromium` puts it
        return path if Path(path).is_file() else None
    except Exception:  # no playwright, or it cannot start here: the tests skip with HOW
        return None
