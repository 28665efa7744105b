"""The example notebooks, run end to end by a real Jupyter kernel (nbclient + ipykernel) on digits,
then rendered to HTML (nbconvert) and opened in headless Chromium."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook extra is not installed (pip install -e '.[test]')")
nbclient = pytest.importorskip("nbclient", reason="the notebook extra is not installed (pip install -e '.[test]')")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = ("quickstart", "tutorial_ja")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> dict[str, tuple[object, Path]]:
    """Each notebook executed in a folder of its own (its runs/ land there): name -> (notebook, folder)."""
    out = {}
    for name in NOTEBOOKS:
        folder = tmp_path_factory.mktemp(name)
        notebook = nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)
        nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(folder)}}).execute()
        out[name] = (notebook, folder)
    return out


def outputs(notebook) -> list:
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_stored_without_outputs(name):
    notebook = nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("name, figures", [("quickstart", 3), ("tutorial_ja", 5)])
def test_notebook_runs_end_to_end_with_figures_and_no_stray_output(executed, name, figures):
    notebook, folder = executed[name]
    found = outputs(notebook)
    assert [o for o in found if o.output_type == "error"] == []
    # Nothing on stderr: no warnings (a missing glyph in a figure is a matplotlib warning), no tracebacks.
    assert [o.text for o in found if o.output_type == "stream" and o.name == "stderr"] == []
    assert sum("image/png" in o.get("data", {}) for o in found) >= figures
    text = "".join(o.get("text", "") for o in found)
    assert "missing from font" not in text and "Glyph" not in text
    assert list(folder.glob("runs/*/runs/*/seed-1.json"))  # two seeds were trained and stored


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_executed_notebook_renders_in_chromium_with_figures_and_japanese(executed, tmp_path):
    from nbconvert import HTMLExporter

    notebook, _ = executed["tutorial_ja"]
    body, _ = HTMLExporter(template_name="classic").from_notebook_node(notebook)
    page = tmp_path / "tutorial_ja.html"
    page.write_text(body, encoding="utf-8")
    dom, pixels = open_in_chromium(page, tmp_path, "3000")
    assert dom.count('src="data:image/png;base64,') >= 5
    assert "学習曲線" in dom and "混同行列" in dom and "平均テスト精度が最も高いのは" in dom
    grey = pixels.mean(axis=2)
    assert (grey < 0.9).mean() > 0.03 and grey.std() > 0.1  # text and figures, not an empty page
    # Japanese text is drawn, not tofu: a heading of the notebook renders differently from the same
    # number of characters that no font has (which Chromium draws as identical boxes).
    drawn = sample(tmp_path, "drawn", "学習曲線")
    assert not np.array_equal(drawn, sample(tmp_path, "tofu", "\U0010fffd" * 4))
    assert not np.array_equal(drawn, sample(tmp_path, "blank", ""))


def sample(tmp_path: Path, name: str, text: str) -> np.ndarray:
    page = tmp_path / f"{name}.html"
    page.write_text(f'<!DOCTYPE html><meta charset="utf-8"><body style="margin:0;font-size:40px">{text}</body>',
                    encoding="utf-8")
    return open_in_chromium(page, tmp_path, "200")[1]


def open_in_chromium(page: Path, tmp_path: Path, height: str) -> tuple[str, np.ndarray]:
    from matplotlib import image

    screenshot = tmp_path / f"{page.stem}.png"
    done = subprocess.run([
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", f"--window-size=1000,{height}",
        f"--screenshot={screenshot}", "--dump-dom", page.resolve().as_uri(),
    ], capture_output=True, text=True, timeout=120, env={**os.environ, "LANG": "C.UTF-8"})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, image.imread(screenshot)[..., :3]


def test_interrupting_the_kernel_saves_then_resume_finishes(tmp_path):
    # "Interrupt the kernel" in Jupyter sends SIGINT to the kernel: the study stops at the end of the
    # epoch, saves, and the cell ends in KeyboardInterrupt; reglab.resume then finishes it.
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        def execute(code: str, interrupt_when=None, timeout: float = 300) -> tuple[dict, str]:
            """The execute reply and the stdout; with interrupt_when, interrupt once it returns True
            (checked between messages, which the kernel batches: its stdout may come late)."""
            message = client.execute(code)
            stdout, deadline = "", time.monotonic() + timeout
            while time.monotonic() < deadline:
                if interrupt_when is not None and interrupt_when():
                    manager.interrupt_kernel()
                    interrupt_when = None
                try:
                    output = client.get_iopub_msg(timeout=0.05)
                except queue.Empty:
                    continue
                if output["parent_header"].get("msg_id") != message:
                    continue
                if output["msg_type"] == "stream":
                    stdout += output["content"]["text"]
                if output["msg_type"] == "status" and output["content"]["execution_state"] == "idle":
                    return client.get_shell_msg(timeout=timeout)["content"], stdout
            raise AssertionError(f"the kernel did not finish within {timeout} s")

        study = ('import reglab\n'
                 'study = reglab.Study("k", [reglab.Variant("a"), reglab.Variant("b", dropout=0.3)], seeds=[0], '
                 'data={"dataset": "digits"}, defaults={"hidden": [32], "epochs": 30})\n')
        reply, _ = execute(study + 'clean = reglab.run(study, out="clean", offline=True, report=False, engine="reference")')
        assert reply["status"] == "ok"
        # Interrupted once the first epoch's checkpoint is on disk: well before the 60 epochs end.
        reply, stdout = execute('reglab.run(study, out="stopped", offline=True, report=False, engine="reference", '
                                'checkpoint_seconds=0)',
                                interrupt_when=lambda: any((tmp_path / "stopped").glob("runs/*/seed-0.ckpt")))
        assert reply["status"] == "error" and reply["ename"] == "StudyInterrupted", reply
        assert "stopping at the end of the current epoch" in stdout
        assert list((tmp_path / "stopped").glob("runs/*/seed-0.ckpt"))  # the interrupted run saved its epoch
        reply, stdout = execute('resumed = reglab.resume("stopped", report=False)\n'
                                'import json; print(json.dumps([resumed.complete, resumed.history("a") == clean.history("a"), '
                                'resumed.history("b") == clean.history("b")]))')
        assert reply["status"] == "ok" and stdout.strip().endswith("[true, true, true]"), stdout
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
