"""The run store: one directory per study run.

    RUN_DIR/
      manifest.json            what this directory is (format, study, created, reglab version)
      study.json               the resolved study: every default filled in
      study.toml               the study's source text, as the user wrote it
      environment.json         Python, torch, numpy, reglab versions; device; threads
      data.json                dataset, where it came from, split sizes and notes, class names
      test_split.npz           the test split's labels and images (uint8, 0-255 grey, H x W): what the
                               report needs for confusion matrices and galleries, without the dataset
      runs/NN-slug/model.json  the variant's model summary (layers, output shapes, parameters)
      runs/NN-slug/seed-S.json one record per run (RunRecord)
      runs/NN-slug/seed-S.npz  its test predictions and final weights
      runs/NN-slug/seed-S.ckpt a run in progress: its last epoch checkpoint (gone once it finishes)
      runs/NN-slug/seed-S.progress  a run in progress: its epochs so far, JSON (progress.py; gone once it finishes)
      options.json             how it was run (data dir, device, engine): what `reglab resume` reuses
      .writer.lock             held (flock) by the process training into the directory

Folder names are only keys: the record inside holds the variant's real name, so any name is
safe (a name cannot escape the directory) and no setting is ever parsed out of a path.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from reglab import __version__
from reglab.errors import ReglabError
from reglab.store.atomic import write_bytes, write_json, write_npz
from reglab.store.progress import SUFFIX as PROGRESS_SUFFIX, ProgressWriter, progress_path, read_progress
from reglab.store.records import EpochRecord, RunArrays, RunRecord

FORMAT = "reglab-run/1"
MANIFEST = "manifest.json"


def slug(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:40]
    return cleaned or "variant"


@dataclass(frozen=True)
class StoredRun:
    record: RunRecord
    path: Path

    def arrays(self) -> RunArrays:
        with np.load(self.path.with_suffix(".npz"), allow_pickle=False) as bundle:
            weights = {k[len("weight/"):]: bundle[k] for k in bundle.files if k.startswith("weight/")}
            return RunArrays(bundle["test_predictions"], weights)


class RunStore:
    def __init__(self, root: Path):
        self.root = root
        self._lock = None  # the open lock file while this process trains into the directory
        self._progress = ProgressWriter()

    # ------------------------------------------------------------------ creating

    @classmethod
    def create(cls, root: Path, *, study: dict[str, Any], source_text: str, environment: dict[str, Any],
               options: dict[str, Any] | None = None) -> RunStore:
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            what = "a run directory" if (root / MANIFEST).exists() else "a non-empty path"
            raise ReglabError(f"{root} is already {what}. Choose a new --out directory (or leave --out out "
                              "to get a fresh one under ./runs).")
        try:
            root.mkdir(parents=True, exist_ok=True)
            probe = root / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ReglabError(f"cannot write the run directory {root}: {exc.strerror or exc}. "
                              "Fix: pass --out with a directory you can write to.") from None
        store = cls(root)
        write_json(root / MANIFEST, {
            "format": FORMAT, "study": study["name"], "reglab_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })
        write_json(root / "study.json", study)
        if source_text:
            write_bytes(root / "study.toml", source_text.encode("utf-8"))
        write_json(root / "environment.json", environment)
        write_json(root / "options.json", options or {})
        return store

    @staticmethod
    def default_path(study_name: str, parent: Path = Path("runs")) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = parent / f"{slug(study_name)}-{stamp}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = parent / f"{slug(study_name)}-{stamp}-{suffix}"
        return path

    def update_study(self, study: dict[str, Any], source_text: str) -> None:
        """Replace study.json and study.toml (resuming with new descriptions of the same study)."""
        write_json(self.root / "study.json", study)
        if source_text:
            write_bytes(self.root / "study.toml", source_text.encode("utf-8"))

    def write_data(self, info: dict[str, Any], test_labels: np.ndarray, test_images: np.ndarray) -> None:
        write_json(self.root / "data.json", info)
        write_npz(self.root / "test_split.npz", {"test_labels": test_labels, "test_images": test_images})

    def test_split(self) -> tuple[np.ndarray, np.ndarray]:
        """(labels, uint8 images N x H x W) of the test split."""
        with np.load(self.root / "test_split.npz", allow_pickle=False) as bundle:
            return bundle["test_labels"], bundle["test_images"]

    def save_run(self, variant_index: int, record: RunRecord, arrays: RunArrays) -> Path:
        path = self.run_path(variant_index, record.variant, record.seed)
        # Arrays first, record last: a record on disk means its arrays are complete.
        write_npz(path.with_suffix(".npz"), {
            "test_predictions": arrays.test_predictions,
            **{f"weight/{name}": value for name, value in arrays.weights.items()},
        })
        write_json(path, record.to_json())
        self.checkpoint_path(variant_index, record.variant, record.seed).unlink(missing_ok=True)
        self._progress.forget(progress_path(path))
        return path

    def save_progress(self, variant_index: int, variant_name: str, seed: int, record: EpochRecord) -> None:
        """A run's epochs so far, for watching it (reglab.live); called at every epoch end."""
        path = progress_path(self.run_path(variant_index, variant_name, seed))
        self._progress.epoch_finished(path, variant_name, seed, record)

    def checkpoint_path(self, variant_index: int, variant_name: str, seed: int) -> Path:
        return self.run_path(variant_index, variant_name, seed).with_suffix(".ckpt")

    def lock_for_writing(self) -> None:
        """Only one process trains into a run directory at a time: a second `reglab run --out`
        (or `reglab resume`) of the same directory would delete the first one's partial writes and
        race it for the same records. The lock is the operating system's (flock), so it is gone
        with the process that held it, however that process ended. Where flock does not exist
        (Windows), no lock is taken."""
        try:
            import fcntl
        except ImportError:
            return
        handle = open(self.root / ".writer.lock", "a+")  # noqa: SIM115 - held until release or exit
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise ReglabError(f"another reglab process (pid {holder}) is training into {self.root}. Fix: wait "
                              "for it to finish (or stop it), then run again to resume; or choose another "
                              "--out.") from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = handle

    def release_writing_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None

    def remove_partial_writes(self) -> int:
        """Delete temporary files left by a process killed in the middle of a write. They never
        replaced a good file (see atomic.py); only call this while no other process writes here."""
        partial = list(self.root.glob(".*.tmp")) + list(self.root.glob("runs/*/.*.tmp"))
        for path in partial:
            path.unlink(missing_ok=True)
        return len(partial)

    def finished(self) -> set[tuple[str, int]]:
        """(variant, seed) of every run whose record and arrays are complete and readable."""
        runs, _ = self.load_runs()
        return {(r.record.variant, r.record.seed) for r in runs if r.path.with_suffix(".npz").is_file()}

    def save_model_summary(self, variant_index: int, variant_name: str, rows: list[dict[str, Any]]) -> None:
        folder = self.run_path(variant_index, variant_name, 0).parent
        write_json(folder / "model.json", {"variant": variant_name, "layers": rows})

    def run_path(self, variant_index: int, variant_name: str, seed: int) -> Path:
        return self.root / "runs" / f"{variant_index:02d}-{slug(variant_name)}" / f"seed-{seed}.json"

    # ------------------------------------------------------------------ reading

    @classmethod
    def open(cls, root: Path) -> RunStore:
        manifest = root / MANIFEST
        if not root.is_dir():
            raise ReglabError(f"{root} is not a directory. Give a run directory made by `reglab run` "
                              "(it prints the path at the end).")
        if not manifest.is_file():
            raise ReglabError(f"{root} is not a reglab run directory (no {MANIFEST}). Give a directory made by "
                              "`reglab run`, e.g. runs/tutorial-20260101-120000.")
        try:
            info = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReglabError(f"{manifest} is damaged ({exc}); this run directory cannot be read.") from None
        if info.get("format") != FORMAT:
            raise ReglabError(f"{root} has format {info.get('format')!r}; this reglab reads {FORMAT!r}.")
        return cls(root)

    def read_json(self, name: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.root / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def load_runs(self) -> tuple[list[StoredRun], list[str]]:
        """Every readable run record, and a line for each damaged one (never raises for a bad file)."""
        runs, damaged = [], []
        for path in sorted((self.root / "runs").glob("*/seed-*.json")):
            try:
                record = RunRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError, KeyError) as exc:
                damaged.append(f"{path.relative_to(self.root)}: {type(exc).__name__}: {exc}")
                continue
            runs.append(StoredRun(record, path))
        return runs, damaged

    def load_progress(self) -> dict[Path, tuple[str, int, list[EpochRecord]]]:
        """The epochs so far of every run in progress (or interrupted), by its record's path.
        A progress file that cannot be read is left out: it is rewritten at the next epoch end."""
        found = {}
        for path in sorted((self.root / "runs").glob(f"*/seed-*{PROGRESS_SUFFIX}")):
            progress = read_progress(path)
            if progress is not None:
                found[path.with_suffix(".json")] = progress
        return found
