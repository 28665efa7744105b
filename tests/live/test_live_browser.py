"""The live page in a real browser (Playwright driving Debian's chromium; `playwright install` is
never needed): curves gain points while a study trains, in another process, with no console error;
`watch` on a finished and on a damaged run directory; screenshots in both languages.

REGLAB_SCREENSHOTS=DIR keeps the screenshots there, to look at them as a reader would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import browser_lookup
import pytest
from trained_runs import EPOCHS, copy, study_text

from reglab.live import LiveServer

CHROMIUM = browser_lookup.chromium()
playwright = pytest.importorskip("playwright.sync_api", reason="the test extra installs playwright")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=browser_lookup.HOW)

# Long enough (a second or more per run on two idle cores) for the page to see the curves grow.
LIVE_EPOCHS = 100
LIVE_STUDY = study_text(LIVE_EPOCHS).replace("train = 400", "train = 1200").replace("[32, 16]", "[128, 64]")


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


class Page:
    """A page with every console message and uncaught error kept."""

    def __init__(self, browser, url: str):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.goto(url)

    def points(self, variant: str) -> tuple[int, int, int]:
        """Epochs drawn in the variant's loss, accuracy and learning-rate charts (set by the drawing code)."""
        card = self.page.locator(f'section.card[data-variant="{variant}"]')
        return tuple(int(card.locator(f"canvas.{kind}").get_attribute("data-points") or 0)
                     for kind in ("loss", "accuracy", "lr"))

    def wait_state(self, state: str) -> None:
        self.page.wait_for_selector(f'body[data-state="{state}"]', timeout=60_000)

    def errors(self) -> list[str]:
        return [line for line in self.console if line.startswith(("error", "pageerror", "warning"))]

    def screenshot(self, name: str, tmp_path: Path) -> np.ndarray:
        from matplotlib import image

        self.page.wait_for_selector('body[data-fonts="ready"]', timeout=30_000)
        folder = Path(os.environ.get("REGLAB_SCREENSHOTS") or tmp_path)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"live-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return image.imread(path)[..., :3]


def test_curves_grow_while_a_study_trains_in_another_process(browser, tmp_path):
    (tmp_path / "study.toml").write_text(LIVE_STUDY, encoding="utf-8")
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "reglab", "run", str(tmp_path / "study.toml"), "--out", str(run_dir), "--live",
         "--no-browser", "--lang", "en", "--no-report"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "80"})
    try:
        url = _live_url(process)
        page = Page(browser, url)
        seen: dict[str, list[tuple[int, int, int]]] = {"basic": [], "l2 <b>&amp;": []}
        statuses: set[str] = set()
        shot = None
        while not page.page.locator('body[data-server="ended"]').count():
            if page.page.locator("section.card").count() == 2:
                for variant, points in seen.items():
                    points.append(page.points(variant))
                if shot is None and any(0 < p[-1][0] < LIVE_EPOCHS for p in seen.values()):
                    shot = page.screenshot("training-en", tmp_path)  # in the middle, as a reader sees it
                statuses |= set(page.page.locator("section.card .badge").evaluate_all(
                    "chips => chips.map(c => c.dataset.status)"))
            page.page.wait_for_timeout(50)
            assert process.poll() is None or page.page.locator('body[data-state="finished"]').count(), \
                process.stderr.read()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    growing = set()
    for variant, points in seen.items():
        losses = [p[0] for p in points]
        assert losses == sorted(losses), (variant, losses)  # curves only ever grow
        assert points[-1] == (LIVE_EPOCHS,) * 3, (variant, points[-1])  # loss, accuracy, lr: every epoch
        growing |= {(variant, n) for n in losses if 0 < n < LIVE_EPOCHS}
    assert len(growing) >= 2, f"the page saw no epoch-by-epoch growth: {seen}"
    assert "training" in statuses and "finished" in statuses
    # The finished study: its findings, then the server's goodbye.
    assert page.page.locator("#finding-list li").count() >= 2
    assert "reglab report" in page.page.locator("#report-line").inner_text()  # trained with --no-report
    assert "reglab watch" in page.page.locator("#connection").inner_text()
    assert page.errors() == []
    assert "Traceback" not in err


def test_watch_a_finished_study_in_both_languages(browser, finished_run, tmp_path):
    run = copy(finished_run, tmp_path / "run")
    (run / "report").mkdir()
    (run / "report" / "report.html").write_text("<!DOCTYPE html><title>report</title><p>the report</p>")
    with LiveServer(run) as live:
        for lang, title in (("en", "reglab live: tiny-live"), ("ja", "reglab ライブ: tiny-live")):
            page = Page(browser, live.url + f"?lang={lang}")
            page.wait_state("finished")
            assert page.page.locator("h1").inner_text() == title
            assert page.points("basic") == (EPOCHS, EPOCHS, EPOCHS)
            assert page.points("l2 <b>&amp;") == (EPOCHS, EPOCHS, EPOCHS)
            # Strings of the study are text, never markup: the description's <script> is shown as written.
            card = page.page.locator('section.card[data-variant="l2 <b>&amp;"]')
            assert card.locator(".name").inner_text() == "l2 <b>&amp;"
            description = "L2 正則化 <i>と</i>" if lang == "ja" else "<script>alert(1)</script> & a description"
            assert card.locator(".desc").inner_text() == description
            assert page.page.locator("#finding-list li").count() >= 2
            findings_text = page.page.locator("#finding-list").inner_text()
            assert ("test accuracy" in findings_text) if lang == "en" else ("テスト精度" in findings_text)
            pixels = page.screenshot(f"finished-{lang}", tmp_path)
            assert (pixels.mean(axis=2) < 0.9).mean() > 0.03  # text and curves, not an empty page
            page.page.click("#report-link")
            page.page.wait_for_url("**/report/report.html")
            assert page.page.locator("p").inner_text() == "the report"
            assert page.errors() == []
            page.page.close()


def test_watch_a_damaged_run_directory(browser, finished_run, tmp_path):
    run = copy(finished_run, tmp_path / "run")
    (run / "runs" / "00-basic" / "seed-1.json").write_text('{"variant": "basic", "se')  # cut short
    (run / "runs" / "01-l2-b-amp" / "seed-0.npz").unlink()
    (run / "runs" / "01-l2-b-amp" / "seed-1.progress").write_text("not json")
    (run / "data.json").unlink()
    with LiveServer(run) as live:
        page = Page(browser, live.url)
        page.wait_state("stopped")
        problems = page.page.locator("#problem-list li").all_inner_texts()
        assert len(problems) == 1 and problems[0].startswith("runs/00-basic/seed-1.json")
        assert page.points("basic") == (EPOCHS, EPOCHS, EPOCHS)  # the seed that is readable
        chips = page.page.locator('section.card[data-variant="basic"] .badge').all_inner_texts()
        assert chips[1].startswith("seed 1: damaged record")
        page.screenshot("damaged-en", tmp_path)
        assert page.errors() == []


def _live_url(process: subprocess.Popen) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if line.startswith("Live page: "):
            return line.split(": ", 1)[1].strip()
        if not line and process.poll() is not None:
            break
    raise AssertionError("no live page was announced: " + process.stderr.read())


def test_a_constant_rate_and_the_last_epoch_are_labelled_whole(browser, tmp_path, monkeypatch):
    """A learning rate that never changes is one labelled level, not two labels 5% apart ("1.0e-3"
    over "9.5e-4"); the last epoch's number ("199") ends inside the chart instead of being cut to "19"
    at the canvas's edge (issue 24)."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "report"))
    import synthetic_runs

    monkeypatch.setattr(synthetic_runs, "EPOCHS", 200)  # read by make_run when it is called
    run = synthetic_runs.make_run(tmp_path / "run", [synthetic_runs.Variant("basic")], seeds=[0])
    with LiveServer(run) as live:
        page = Page(browser, live.url + "?lang=en")
        page.wait_state("finished")
        page.page.wait_for_selector('body[data-fonts="ready"]', timeout=30_000)
        lr = page.page.locator('section.card[data-variant="basic"] canvas.lr')
        assert lr.get_attribute("data-points") == "200"
        assert lr.get_attribute("data-y-labels") == "1.0e-3"
        path = tmp_path / "lr.png"
        lr.screenshot(path=str(path))
        from matplotlib import image

        pixels = image.imread(path)[..., :3]
        rows = pixels[-22:]  # the epoch labels' row, under the plot's frame
        ink = rows.mean(axis=2) < 0.6
        assert ink.any() and not ink[:, -3:].any()  # the labels' dark pixels stop before the edge
        assert page.errors() == []
        page.screenshot("constant-rate-200-epochs", tmp_path)
