"""What watching costs the trainer: the per-epoch progress files (store/epoch_log.py) that the live
page reads, and a live page open while the study trains.

Three configurations of the same study (digits, small MLPs: epochs of a few milliseconds, where a
per-epoch cost shows most), alternated over --repeat rounds, best of each:

    no progress files    the store with save_progress a no-op (the baseline)
    progress files       the store as it is (what every `reglab run` does)
    + a live page open   the same, with reglab.live's server polling the directory and one client
                         reading its event stream

Prints seconds per configuration and the ratio to the baseline (on a shared machine, whole-study
times drift by more than what is measured here), then the direct measure: the median time to write
one epoch's progress line against the median epoch of the study's runs. Run from the repository root:

    .venv/bin/python benchmarks/bench_live.py [--epochs 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import tempfile
import threading
import time
from pathlib import Path

from reglab import lab
from reglab.live import LiveServer
from reglab.store import RunStore

STUDY = """
name = "bench-live"
seeds = [0, 1, 2]
[data]
dataset = "digits"
train = 1000
validation = 300
test = 300
[defaults]
hidden = [64, 32]
epochs = {epochs}
batch_size = 64
[[variants]]
name = "basic"
[[variants]]
name = "dropout"
dropout = 0.2
"""


def train(root: Path, epochs: int) -> float:
    study, source = lab.load_study(str(_write(root.parent / f"{root.name}.toml", STUDY.format(epochs=epochs))))
    options = lab.run_options(study, out=root, device="cpu", checkpoint_seconds=None, source_text=source)
    started = time.perf_counter()
    lab.run_study(study, options, report=False)
    return time.perf_counter() - started


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def with_live_page(root: Path, epochs: int) -> float:
    # The directory must exist for the server: train a first epoch's worth of setup by starting it
    # once the store is created, as `--live` does (the server reads whatever is there).
    result: dict[str, float] = {}
    thread = threading.Thread(target=lambda: result.setdefault("s", train(root, epochs)))
    thread.start()
    while not (root / "manifest.json").exists():
        time.sleep(0.01)
    with LiveServer(root) as live:
        reader = threading.Thread(target=_read_events, args=(live,), daemon=True)
        reader.start()
        thread.join()
    return result["s"]


def _read_events(live: LiveServer) -> None:
    connection = http.client.HTTPConnection(live.host, live.port, timeout=60)
    connection.request("GET", "/events")
    stream = connection.getresponse()
    try:
        while stream.readline():
            pass
    except OSError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    real_save_progress = RunStore.save_progress
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.repeat):
            for name in ("no progress files", "progress files", "+ a live page open"):
                root = Path(folder) / f"{round_}-{name.replace(' ', '-').replace('+', 'plus')}"
                RunStore.save_progress = ((lambda self, *a: None) if name == "no progress files"
                                          else real_save_progress)
                seconds = with_live_page(root, args.epochs) if name.startswith("+") else train(root, args.epochs)
                best[name] = min(best.get(name, float("inf")), seconds)
        RunStore.save_progress = real_save_progress
        epoch_seconds = _median_epoch_seconds(root)
        write_seconds = _median_progress_write(Path(folder) / "writes", args.epochs)
    base = best["no progress files"]
    print(f"2 variants x 3 seeds x {args.epochs} epochs on digits, best of {args.repeat}:")
    print(f"{'configuration':<22} {'seconds':>8} {'ratio':>7}")
    for name, seconds in best.items():
        print(f"{name:<22} {seconds:8.2f} {seconds / base:6.2f}x")
    print(f"\none epoch of a run (median, from the records): {epoch_seconds * 1e3:.2f} ms; writing its progress "
          f"line (median): {write_seconds * 1e3:.3f} ms = {write_seconds / epoch_seconds:.2%} of the epoch")


def _median_epoch_seconds(root: Path) -> float:
    runs, _ = RunStore.open(root).load_runs()
    return float(statistics.median(e.seconds for r in runs for e in r.record.history))


def _median_progress_write(folder: Path, epochs: int) -> float:
    from reglab.store import EpochRecord

    store, times = RunStore(folder), []
    for seed in range(20):
        for epoch in range(epochs):
            record = EpochRecord(epoch, 0.5, 0.8, 0.6, 0.75, 0.001, 0.01)
            started = time.perf_counter()
            store.save_progress(0, "basic", seed, record)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


if __name__ == "__main__":
    main()
