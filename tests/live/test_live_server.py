"""The live page's server over real sockets: what it serves (and refuses), where it binds, how it
ends; and the snapshot it builds from a run directory, finished, training, interrupted or damaged."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from trained_runs import EPOCHS, copy

from reglab.errors import ReglabError
from reglab.live import LiveServer, is_loopback, serve
from reglab.live.state import snapshot
from reglab.store import EpochRecord, RunArrays, RunRecord, RunStore
from reglab.store.epoch_log import progress_path


def get(server: LiveServer, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """A raw request: http.client sends the path exactly as written (no normalisation)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.fixture
def server(finished_run):
    with LiveServer(finished_run, poll_seconds=0.05) as live:
        yield live


def test_serves_the_page_and_the_studys_data(server, finished_run):
    status, headers, body = get(server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    page = body.decode("utf-8")
    assert "<script" in page and "http://" not in page and "https://" not in page  # nothing fetched from elsewhere
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    status, _, body = get(server, "/state.json")
    snap = json.loads(body)
    assert status == 200 and snap["state"] == "finished" and snap["study"] == "tiny-live"
    stored = {(r.record.variant, r.record.seed): r.record for r in RunStore.open(finished_run).load_runs()[0]}
    basic = snap["variants"][0]
    assert [v["name"] for v in snap["variants"]] == ["basic", "l2 <b>&amp;"]
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr"):
        per_seed = [[getattr(e, key) for e in stored[("basic", s)].history] for s in (0, 1)]
        assert basic["curves"][key]["mean"] == pytest.approx([sum(v) / 2 for v in zip(*per_seed)])
        assert basic["curves"][key]["low"] == pytest.approx([min(v) for v in zip(*per_seed)])
    assert snap["variants"][1]["curves"]["lr"]["mean"] == pytest.approx([0.001, 0.001] + [0.0005] * (EPOCHS - 2))
    assert snap["findings"] and all(f["en"] and f["ja"] for f in snap["findings"])
    assert get(server, "/", "HEAD")[0] == 200


@pytest.mark.parametrize("path", [
    "/../study.json", "/study.json", "/manifest.json", "/runs/00-basic/seed-0.json", "/report/../study.json",
    "/report/..%2fstudy.json", "/report/%2e%2e/study.json", "/report/%2e%2e%2fstudy.json", "//etc/passwd",
    "/report/", "/report/.hidden.html", "/report/link.html", "/report/report.html/../../study.json",
    "/font/../study.json", "/events/../study.json", "/state.json/../study.json", "/%2e%2e/%2e%2e/etc/passwd",
])
def test_nothing_but_its_own_urls_is_served(finished_run, tmp_path, path):
    run = copy(finished_run, tmp_path / "run")
    (run / "report").mkdir()
    (run / "report" / "report.html").write_text("<p>report</p>")
    (run / "report" / ".hidden.html").write_text("hidden")
    (run / "report" / "link.html").symlink_to(run / "study.json")
    with LiveServer(run) as live:
        status, _, body = get(live, path)
        assert status == 404, (path, body[:200])
        assert get(live, "/report/report.html")[2] == b"<p>report</p>"


def test_it_is_read_only(server):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, _ = get(server, "/state.json", method)
        assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_binds_only_where_told(finished_run):
    with LiveServer(finished_run, host="127.0.0.1") as live:
        assert live.host == "127.0.0.1" and live.url == f"http://127.0.0.1:{live.port}/"
        # Another address of this machine does not reach it.
        other = _non_loopback_address()
        if other is not None:
            with pytest.raises(OSError):
                socket.create_connection((other, live.port), timeout=2).close()
        # A port it was told: taken, the second server says so and how to fix it.
        with pytest.raises(ReglabError, match=rf"port {live.port} on 127.0.0.1.*another --port"):
            serve(finished_run, port=live.port, say=lambda line: None)


def test_a_host_others_can_reach_is_warned_about(finished_run):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    said: list[str] = []
    with pytest.raises(ReglabError):  # 192.0.2.1 (TEST-NET) is no address of this machine: nothing is bound
        serve(finished_run, host="192.0.2.1", port=0, say=said.append)
    assert said and said[0].startswith("warning: --host 192.0.2.1 lets other machines")


def test_a_path_that_is_not_a_run_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ReglabError, match="not a reglab run directory"):
        serve(tmp_path, say=lambda line: None)


def test_stop_ends_open_pages_and_frees_the_port(finished_run):
    live = LiveServer(finished_run).start()
    events = http.client.HTTPConnection(live.host, live.port, timeout=10)
    events.request("GET", "/events")
    stream = events.getresponse()
    assert stream.status == 200 and stream.getheader("Content-Type").startswith("text/event-stream")
    assert stream.readline() == b"event: state\n"
    threads_before = {t.name for t in threading.enumerate()}
    assert "reglab-live-poll" in threads_before
    live.stop()
    rest = stream.read()  # the server ends the stream: this returns instead of waiting forever
    assert b"event: end\n" in rest
    events.close()
    with pytest.raises(ConnectionRefusedError):  # nothing listens there any more
        socket.create_connection((live.host, live.port), timeout=2).close()
    LiveServer(finished_run, port=live.port).start().stop()  # and the port can be served again
    assert not any(t.name.startswith("reglab-live") for t in threading.enumerate())


def test_pushes_a_new_state_when_the_store_changes(finished_run, tmp_path):
    run = copy(finished_run, tmp_path / "run")
    store = RunStore.open(run)
    record = run / "runs" / "01-l2-b-amp" / "seed-1.json"
    assert record.is_file()
    record.unlink()
    with LiveServer(run, poll_seconds=0.05) as live:
        events = http.client.HTTPConnection(live.host, live.port, timeout=10)
        events.request("GET", "/events")
        stream = events.getresponse()
        first = _next_state(stream)
        assert first["state"] == "stopped" and first["counts"]["waiting"] == 1
        # Another process trains the missing run: its first epoch appears on the page.
        store.save_progress(1, "l2 <b>&amp;", 1, EpochRecord(0, 2.0, 0.3, 1.9, 0.35, 0.001, 0.1))
        second = _next_state(stream)
        runs = {r["seed"]: r for r in second["variants"][1]["runs"]}
        assert runs[1]["status"] == "interrupted" and runs[1]["epochs"] == 1  # no live writer: interrupted
        events.close()


def _next_state(stream) -> dict:
    while True:
        line = stream.readline()
        if line.startswith(b"data: "):
            return json.loads(line[6:])


def test_snapshot_of_runs_training_interrupted_and_damaged(finished_run, tmp_path):
    run = copy(finished_run, tmp_path / "run")
    folder = run / "runs" / "00-basic"
    history = RunStore.open(run).load_runs()[0][0].record.history
    (folder / "seed-1.json").write_text('{"variant": "basic", "seed": 1, "hist')  # damaged
    (run / "runs" / "01-l2-b-amp" / "seed-0.json").unlink()
    writer = RunStore.open(run)
    for record in history[:2]:
        writer.save_progress(1, "l2 <b>&amp;", 0, record)
    # A diverged epoch's NaN is stored as null and read back as NaN (JSON has no NaN).
    writer.save_progress(1, "l2 <b>&amp;", 0, EpochRecord(2, float("nan"), 0.1, float("inf"), 0.1, 0.001, 0.1))
    lines = progress_path(run / "runs" / "01-l2-b-amp" / "seed-0.json").read_text().splitlines()
    assert json.loads(lines[2])["epoch"]["train_loss"] is None
    snap = snapshot(run)
    assert snap["state"] == "stopped"
    assert snap["problems"] and snap["problems"][0].startswith("runs/00-basic/seed-1.json: ")
    states = {(v["name"], r["seed"]): (r["status"], r["epochs"]) for v in snap["variants"] for r in v["runs"]}
    assert states == {("basic", 0): ("finished", EPOCHS), ("basic", 1): ("damaged", 0),
                      ("l2 <b>&amp;", 0): ("interrupted", 3), ("l2 <b>&amp;", 1): ("finished", EPOCHS)}
    # The same directory while its writer lives (this process holds the lock): training.
    writer.lock_for_writing()
    try:
        assert snapshot(run)["variants"][1]["runs"][0]["status"] == "training"
        assert snapshot(run, ended=True)["variants"][1]["runs"][0]["status"] == "interrupted"
    finally:
        writer.release_writing_lock()
    # Nothing at all readable but the manifest: still a page, with what is missing listed.
    for name in ("study.json", "data.json"):
        (run / name).unlink()
    snap = snapshot(run)
    assert "study.json: missing" in snap["problems"]


def test_progress_resumes_from_a_checkpoint_and_goes_with_the_record(tmp_path):
    store = RunStore(tmp_path)
    path = progress_path(store.run_path(0, "a", 3))
    epochs = [EpochRecord(e, 1.0 / (e + 1), 0.5, 1.0, 0.5, 0.001, 0.1) for e in range(5)]
    for e in epochs[:4]:
        store.save_progress(0, "a", 3, e)
    # A new process resumes from a checkpoint after epoch 1: epochs 0-1 are kept from the file.
    resumed = RunStore(tmp_path)
    resumed.save_progress(0, "a", 3, epochs[2])
    assert [e.epoch for e in resumed.load_progress()[path.with_suffix(".json")][2]] == [0, 1, 2]
    # One that starts over replaces it.
    RunStore(tmp_path).save_progress(0, "a", 3, epochs[0])
    assert [e.epoch for e in RunStore(tmp_path).load_progress()[path.with_suffix(".json")][2]] == [0]
    # A line cut short by a reader arriving mid-write (or damage) is skipped.
    with open(path, "a") as handle:
        handle.write('{"variant": "a", "seed": 3, "epoch": {"epoch": 1, "train_lo')
    assert [e.epoch for e in RunStore(tmp_path).load_progress()[path.with_suffix(".json")][2]] == [0]
    assert RunStore(tmp_path).load_runs() == ([], [])  # a progress file is not a run record
    RunStore(tmp_path).save_run(0, RunRecord("a", 3, "completed", tuple(epochs), 0.1, 0.9, 1.0),
                                RunArrays(np.zeros(2, np.int64), {}))
    assert not path.exists()  # the record holds the history now


def test_watch_serves_until_ctrl_c_and_exits_cleanly(finished_run):
    process = subprocess.Popen([sys.executable, "-m", "reglab", "watch", str(finished_run), "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "COLUMNS": "80"})
    try:
        line = process.stderr.readline()  # what people read goes to stderr; stdout stays for data
        assert line.startswith("Live page: http://127.0.0.1:"), line + process.stderr.read()
        host, port = line.split("//")[1].rstrip("/\n").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", "/state.json")
        assert json.loads(connection.getresponse().read())["state"] == "finished"
        connection.close()
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err and "Traceback" not in out


def _non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_diverged_and_stopped_early_runs_are_told_apart(finished_run, tmp_path):
    from dataclasses import replace

    run = copy(finished_run, tmp_path / "run")
    store = RunStore.open(run)
    stored = {r.record.seed: r for r in store.load_runs()[0] if r.record.variant == "basic"}
    for seed, change in ((0, {"status": "diverged", "diverged_at": 2}), (1, {"stopped_epoch": 2, "best_epoch": 1})):
        store.save_run(0, replace(stored[seed].record, **change), stored[seed].arrays())
    runs = snapshot(run)["variants"][0]["runs"]
    assert [(r["status"], r.get("diverged_at"), r.get("stopped_epoch")) for r in runs] == [
        ("diverged", 2, None), ("stopped_early", None, 2)]
