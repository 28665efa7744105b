"""The run store: one directory per study run.

    RUN_DIR/
      manifest.json            what this directory is (format, study, created, reglab version)
      study.json               the resolved study: every default filled in
      study.toml               the study's source text, as the user wrote it
      environment.json         Python, torch, numpy, reglab versions; device; threads
      data.json                dataset, where it came from (path, bytes, sha256 fingerprint, columns),
                               split sizes and notes, class names and the labels they stand for,
                               the preprocessing fitted (pixels / max, or a table's statistics)
      test_split.npz           the test split's labels and images (uint8, 0-255 grey, H x W): what the
                               report needs for confusion matrices and galleries, without the dataset;
                               a table's test rows too, column by column (test_rows/N), and
                               image pixels that 8 bits cannot hold, as given (test_rows/pixels)
      runs/NN-slug/model.json  the variant's model summary (layers, output shapes, parameters)
      runs/NN-slug/seed-S.json one record per run (RunRecord)
      runs/NN-slug/seed-S.npz  its test predictions, final weights and per-epoch weight sketches
      runs/NN-slug/seed-S.ckpt a run in progress: its last epoch checkpoint (gone once it finishes)
      runs/NN-slug/seed-S.progress  a run in progress: its epochs so far, JSON lines (progress.py; gone once it finishes)
      references.json          the scikit-learn reference models' test scores per seed, when the study names any
      options.json             how it was run (data dir, device, engine): what `reglab resume` reuses
      .writer.lock             held (flock) by the process training into the directory

manifest.json is written last when a directory is made, and holds copies of study.json,
options.json and study.toml: a directory without it is one whose making was cut short (the same
command takes it over), and either side can restore the other.

Every file goes through store/files.py: never through a link, each with its checksum (a record
also holds its .npz's, data.json the test split's), read back through a typed reader that checks
its shape (store/shapes.py). A damaged file is reported in one line and costs only itself: on
resume, what describes the study is restored from its copy or from the study, damaged checkpoints
are dropped and damaged runs are trained again (`RunStore.repair`).

Folder names are only keys: the record inside holds the variant's real name, so any name is
safe (a name cannot escape the directory) and no setting is ever parsed out of a path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from reglab import __version__
from reglab.errors import ReglabError
from reglab.store import shapes
from reglab.store.files import Damaged, RunFiles, digest, npz_bytes, read_npz_bytes
from reglab.store.epoch_log import SUFFIX as PROGRESS_SUFFIX, ProgressWriter, progress_path, read_progress
from reglab.store.records import COMPLETED, DIVERGED, EpochRecord, RunArrays, RunRecord

FORMAT = "reglab-run/2"  # 2: every file carries a checksum
READABLE_FORMATS = ("reglab-run/1", FORMAT)  # 1: reglab 0.1, before checksums
MANIFEST = "manifest.json"
LOCK = ".writer.lock"
# What making a directory writes before its manifest: a directory holding only these was cut short.
CREATION_FILES = ("study.json", "study.toml", "environment.json", "options.json", ".write-test", LOCK)


def slug(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:40]
    return cleaned or "variant"


@dataclass(frozen=True)
class StoredRun:
    record: RunRecord
    path: Path
    files: RunFiles | None = None
    arrays_sha256: str | None = None  # None: a record of reglab-run/1, written without it

    def arrays(self) -> RunArrays:
        """The run's predictions and weights; Damaged when they are missing, damaged or not this record's."""
        files = self.files or RunFiles(self.path.parent)
        data = files.read_bytes(self.path.with_suffix(".npz"))
        if self.arrays_sha256 is not None and digest(data) != self.arrays_sha256:
            raise Damaged("checksum mismatch (not the arrays its record was written with)")
        bundle = read_npz_bytes(data)
        predictions = bundle.get("test_predictions")
        if predictions is None or predictions.ndim != 1 or predictions.dtype.kind not in "iu":
            raise Damaged("no test predictions")
        weights = {k[len("weight/"):]: v for k, v in bundle.items() if k.startswith("weight/")}
        # Batch norm's state_dict holds one integer: num_batches_tracked, a count of steps, not a weight.
        weights = {k: v for k, v in weights.items()
                   if not (k.endswith("num_batches_tracked") and v.dtype.kind in "iu" and v.ndim == 0)}
        if any(v.dtype.kind != "f" for v in weights.values()):
            raise Damaged("weights that are not floating point")
        sketches = bundle.get("weight_sketches")  # absent in runs stored before it was recorded
        if sketches is not None and (sketches.ndim != 2 or sketches.dtype.kind != "f"):
            raise Damaged("weight sketches that are not a float [epochs, buckets] array")
        return RunArrays(predictions, weights, sketches)


class RunStore:
    def __init__(self, root: Path, checksums: bool = True):
        self.root = Path(root)
        self.files = RunFiles(self.root)
        self.checksums = checksums  # False: a reglab-run/1 directory, written before files had them
        self._lock: int | None = None  # the lock file's descriptor while this process trains here
        self._progress = ProgressWriter()

    # ------------------------------------------------------------------ creating

    @classmethod
    def create(cls, root: Path, *, study: dict[str, Any], source_text: str, environment: dict[str, Any],
               options: dict[str, Any] | None = None) -> RunStore:
        if root.exists() and (not root.is_dir() or not cls._unfinished_or_empty(root)):
            what = "a run directory" if (root / MANIFEST).exists() else "a non-empty path"
            raise ReglabError(f"{root} is already {what}. Choose a new --out directory (or leave --out out "
                              "to get a fresh one under ./runs).")
        store = cls(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
            store.files.write_bytes(".write-test", b"")
            store.files.unlink(".write-test")
        except (OSError, ReglabError) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
            raise ReglabError(f"cannot write the run directory {root}: {reason}. "
                              "Fix: pass --out with a directory you can write to.") from None
        store.files.write_json("study.json", study)
        if source_text:
            store.files.write_bytes("study.toml", source_text.encode("utf-8"))
        store.files.write_json("environment.json", environment)
        store.files.write_json("options.json", options or {})
        store._write_manifest(study, options or {}, source_text)  # last: the directory is complete
        return store

    @staticmethod
    def _unfinished_or_empty(root: Path) -> bool:
        """Empty, or holding only what making a run directory writes before its manifest (a crash
        or a full disk cut it short): the same command may take it over."""
        names = [p.name for p in root.iterdir()]
        return MANIFEST not in names and all(n in CREATION_FILES or (n.startswith(".") and n.endswith(".tmp"))
                                             for n in names)

    def _write_manifest(self, study: dict[str, Any], options: dict[str, Any], source_text: str) -> None:
        self.files.write_json(MANIFEST, {
            "format": FORMAT, "study": study.get("name"), "reglab_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            # Copies, so that a damaged study.json, options.json or study.toml is restored from here.
            "copies": {"study.json": study, "options.json": options, "study.toml": source_text},
        })

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
        self.files.write_json("study.json", study)
        if source_text:
            self.files.write_bytes("study.toml", source_text.encode("utf-8"))
        self._write_manifest(study, self.options(), source_text or (self.study_toml() or ""))

    def write_data(self, info: dict[str, Any], test_labels: np.ndarray, test_images: np.ndarray,
                   test_rows: dict[str, np.ndarray] | None = None) -> None:
        # The split first, then data.json with its checksum: data.json on disk means a whole split.
        # test_rows: a table's test rows as read, column by column (images cannot hold them).
        written = npz_bytes({"test_labels": test_labels, "test_images": test_images, **(test_rows or {})})
        self.files.write_bytes("test_split.npz", written)
        self.files.write_json("data.json", {**info, "test_split_sha256": digest(written)})

    def save_run(self, variant_index: int, record: RunRecord, arrays: RunArrays) -> Path:
        path = self.run_path(variant_index, record.variant, record.seed)
        # Arrays first, record last: a record on disk means its arrays are complete; it holds their checksum.
        written = npz_bytes({
            "test_predictions": arrays.test_predictions,
            **{f"weight/{name}": value for name, value in arrays.weights.items()},
            **({"weight_sketches": arrays.weight_sketches} if arrays.weight_sketches is not None else {}),
        })
        self.files.write_bytes(path.with_suffix(".npz"), written)
        self.files.write_json(path, {**record.to_json(), "arrays_sha256": digest(written)})
        self.files.unlink(self.checkpoint_path(variant_index, record.variant, record.seed))
        self._progress.forget(progress_path(path))
        return path

    def save_progress(self, variant_index: int, variant_name: str, seed: int, record: EpochRecord) -> None:
        """A run's epochs so far, for watching it (reglab.live); called at every epoch end."""
        path = progress_path(self.run_path(variant_index, variant_name, seed))
        try:
            self.files.make_folder_for(path)  # never written through a link
        except OSError:
            return  # progress is only for watching
        self._progress.epoch_finished(path, variant_name, seed, record)

    def checkpoint_path(self, variant_index: int, variant_name: str, seed: int) -> Path:
        return self.run_path(variant_index, variant_name, seed).with_suffix(".ckpt")

    def lock_for_writing(self) -> None:
        """Only one process trains into a run directory at a time: a second `reglab run --out`
        (or `reglab resume`) of the same directory would delete the first one's partial writes and
        race it for the same records. The lock is the operating system's (flock), so it is gone
        with the process that held it, however that process ended. The lock file is opened without
        following a link; one in its place (or a folder) is replaced."""
        try:
            import fcntl
        except ImportError:  # Windows: no flock, no lock
            return
        try:
            fd = self.files.open_lock(LOCK)
        except OSError as exc:
            raise ReglabError(f"cannot write the run directory {self.root}: {exc.strerror or exc}. "
                              "Fix: check its permissions and free space, then run again.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ReglabError(f"another reglab process (pid {holder}) is training into {self.root}. Fix: wait "
                              "for it to finish (or stop it), then run again to resume; or choose another "
                              "--out.") from None
        self._lock = fd  # from here on release_writing_lock() frees it, whatever fails next
        try:  # the holder's pid, for the message another process gives
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        except OSError:
            pass  # a full disk: the lock holds all the same; the other process's message says "unknown"

    def release_writing_lock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the file releases the flock
            self._lock = None

    def remove_partial_writes(self) -> int:
        """Delete temporary files left by a process killed in the middle of a write. They never
        replaced a good file (see atomic.py); only call this while no other process writes here."""
        partial = [*self.files.files(".", ".", ".tmp"), *self.files.files("runs", ".", ".tmp", depth=1)]
        for path in partial:
            self.files.unlink(path)
        return len(partial)

    def finished(self) -> set[tuple[str, int]]:
        """(variant, seed) of every run whose record and arrays are complete and verified."""
        runs, _ = self.load_runs()
        return {(r.record.variant, r.record.seed) for r in runs if self._arrays_intact(r)}

    def _arrays_intact(self, run: StoredRun) -> bool:
        try:
            if run.arrays_sha256 is not None:  # the checksum: no need to inflate them
                return digest(self.files.read_bytes(run.path.with_suffix(".npz"))) == run.arrays_sha256
            run.arrays()
            return True
        except Damaged:
            return False

    def save_model_summary(self, variant_index: int, variant_name: str, rows: list[dict[str, Any]]) -> None:
        folder = self.run_path(variant_index, variant_name, 0).parent
        self.files.write_json(folder / "model.json", {"variant": variant_name, "layers": rows})

    def run_path(self, variant_index: int, variant_name: str, seed: int) -> Path:
        return self.root / "runs" / f"{variant_index:02d}-{slug(variant_name)}" / f"seed-{seed}.json"

    def save_checkpoint(self, path: Path, payload: bytes) -> None:
        self.files.write_sealed(path, payload)

    # ------------------------------------------------------------------ reading

    @classmethod
    def open(cls, root: Path) -> RunStore:
        """A run directory to read or resume. A damaged manifest is not fatal when study.json is
        intact (a resume writes the manifest again)."""
        root = Path(root)
        if not root.is_dir():
            raise ReglabError(f"{root} is not a directory. Give a run directory made by `reglab run` "
                              "(it prints the path at the end).")
        store = cls(root)
        try:
            info = store.manifest()
        except Damaged as exc:
            if not exc.missing or store.files.exists("study.json"):
                try:
                    store.study()
                    return store
                except Damaged:
                    pass
            if exc.missing and not store.files.exists("study.json"):
                raise ReglabError(f"{root} is not a reglab run directory (no {MANIFEST}). Give a directory made "
                                  "by `reglab run`, e.g. runs/tutorial-20260101-120000.") from None
            raise ReglabError(f"{root / MANIFEST} is damaged ({exc.reason}) and so is study.json: this run "
                              "directory cannot be read. Fix: run the study again with a new --out.") from None
        store.checksums = info["format"] != "reglab-run/1"
        return store

    @staticmethod
    def holds_a_run(root: Path) -> bool:
        """Whether `root` is (or was) a run directory to resume, rather than one to make."""
        return root.is_dir() and any(os.path.lexists(root / name) for name in (MANIFEST, "data.json", "runs"))

    def _json(self, name: str | Path, shape: Any) -> dict[str, Any]:
        return shapes.check(self.files.read_json(name, require_checksum=self.checksums), shape)

    def manifest(self) -> dict[str, Any]:
        # The manifest says which format the rest is in: its own checksum is checked when it has one.
        info = shapes.check(self.files.read_json(MANIFEST, require_checksum=False), shapes.MANIFEST)
        if info["format"] not in READABLE_FORMATS:
            raise Damaged(f"format {info['format']!r}; this reglab reads {', '.join(READABLE_FORMATS)}")
        if info["format"] == FORMAT:
            self.files.read_json(MANIFEST)  # a directory of this format: its manifest carries a checksum
        return info

    def _copy(self, name: str) -> Any:
        try:
            return self.manifest().get("copies", {}).get(name)
        except Damaged:
            return None

    def study(self) -> dict[str, Any]:
        """The resolved study (study.json, else its copy in the manifest); Damaged when neither is intact."""
        try:
            return _valid_study(self._json("study.json", shapes.STUDY))
        except Damaged as damaged:
            copy = self._copy("study.json")
            if copy is None:
                raise
            try:
                return _valid_study(shapes.check(copy, shapes.STUDY))
            except Damaged:
                raise damaged from None

    def options(self) -> dict[str, Any]:
        """How the study was run; {} when neither options.json nor its copy is intact."""
        for read in (lambda: self._json("options.json", shapes.OPTIONS),
                     lambda: shapes.check(self._copy("options.json"), shapes.OPTIONS)):
            try:
                return read()
            except Damaged:
                continue
        return {}

    def study_toml(self) -> str | None:
        """The study's source text (None for a built-in study, or when damaged without a copy)."""
        try:
            text = self.files.read_text("study.toml")
        except Damaged:
            copy = self._copy("study.toml")
            return copy if isinstance(copy, str) and copy else None
        copy = self._copy("study.toml")
        if self.checksums and isinstance(copy, str) and copy != text:
            return copy or None  # the copy was written with the manifest's checksum: study.toml was changed
        return text

    def data(self) -> dict[str, Any]:
        return self._json("data.json", shapes.DATA)


    def environment(self) -> dict[str, Any]:
        return self._json("environment.json", shapes.ENVIRONMENT)

    def model(self, folder: Path) -> list[dict[str, Any]]:
        return self._json(Path(folder) / "model.json", shapes.MODEL)["layers"]

    def test_split(self) -> tuple[np.ndarray, np.ndarray]:
        """(labels, uint8 images N x H x W) of the test split; Damaged when missing or damaged."""
        data = self.files.read_bytes("test_split.npz")
        expected = self.data().get("test_split_sha256") if self.checksums else None
        if self.checksums and digest(data) != expected:
            raise Damaged("checksum mismatch" if expected else "no checksum in data.json")
        bundle = read_npz_bytes(data)
        labels, images = bundle.get("test_labels"), bundle.get("test_images")
        if labels is None or images is None or labels.ndim != 1 or images.ndim != 3 or len(labels) != len(images) \
                or labels.dtype.kind not in "iu" or images.dtype != np.uint8:
            raise Damaged("not a test split (labels N, uint8 images N x H x W)")
        return labels, images

    def save_references(self, runs: list[dict[str, Any]]) -> None:
        """The reference models' runs (models/sklearn_references.py), all of them, replacing the file."""
        self.files.write_json("references.json", {"runs": runs})

    def references(self) -> list[dict[str, Any]]:
        """The reference models' runs; [] when there are none or the file is damaged (a resume fits
        them again: they take seconds and are deterministic for a seed)."""
        try:
            return self._json("references.json", shapes.REFERENCES)["runs"]
        except Damaged:
            return []

    def test_rows(self) -> dict[str, np.ndarray]:
        """A table's test rows as read, column by column (test_rows/N), from the verified test split."""
        self.test_split()  # the checksum and shape checks
        bundle = read_npz_bytes(self.files.read_bytes("test_split.npz"))
        return {key: value for key, value in bundle.items() if key.startswith("test_rows")}

    def read_json(self, name: str) -> dict[str, Any] | None:
        """Any JSON file of the directory, its checksum verified; None when missing or damaged."""
        try:
            return self.files.read_json(name, require_checksum=self.checksums)
        except Damaged:
            return None

    def load_runs(self) -> tuple[list[StoredRun], list[str]]:
        """Every intact run record, and a line for each damaged one (never raises for a bad file)."""
        runs, damaged = [], []
        for path in self.files.files("runs", "seed-", ".json", depth=1):
            try:
                raw = self._json(path, shapes.RECORD)
                record = _record(raw)
            except Damaged as exc:
                damaged.append(f"{path.relative_to(self.root)}: {exc.reason}")
                continue
            runs.append(StoredRun(record, path, self.files, raw.get("arrays_sha256")))
        return runs, damaged

    # ------------------------------------------------------------------ repairing, before a resume

    def repair(self, study: dict[str, Any], source_text: str, options: dict[str, Any],
               environment: dict[str, Any]) -> list[str]:
        """Restore what describes the study (from its copies, or from the study being resumed) and
        drop damaged checkpoints; one line for each thing done. Damaged runs need nothing here:
        they are not finished, so they are trained again."""
        done = []
        if self.checksums:  # a reglab-run/1 directory has no checksums to restore its files by
            try:
                self.manifest()
            except Damaged as exc:
                self._write_manifest(study, options, source_text or (self.study_toml() or ""))
                done.append(f"{MANIFEST}: {exc.reason}; written again")
            text = source_text or self.study_toml() or ""
            checks = {
                "study.json": (lambda: self._json("study.json", shapes.STUDY), lambda: self.files.write_json("study.json", study)),
                "options.json": (lambda: self._json("options.json", shapes.OPTIONS),
                                 lambda: self.files.write_json("options.json", options)),
                "environment.json": (lambda: self._json("environment.json", shapes.ENVIRONMENT),
                                     lambda: self.files.write_json("environment.json", environment)),
                "study.toml": (lambda: self._same_text("study.toml", text),
                               lambda: self.files.write_bytes("study.toml", text.encode("utf-8"))),
            }
            for name, (read, write) in checks.items():
                try:
                    read()
                except Damaged as exc:
                    write()
                    done.append(f"{name}: {exc.reason}; written again")
        for path in self.files.files("runs", "seed-", ".ckpt", depth=1):
            try:
                self.files.read_sealed(path)
            except Damaged as exc:
                self.files.unlink(path)
                done.append(f"{path.relative_to(self.root)}: {exc.reason}; that run starts over")
        runs, damaged = self.load_runs()
        done += [f"{line}; that run is trained again" for line in damaged]
        done += [f"{r.path.relative_to(self.root).with_suffix('.npz')}: missing or damaged; that run is trained again"
                 for r in runs if not self._arrays_intact(r)]
        return done

    def _same_text(self, name: str, text: str) -> None:
        """study.toml has no checksum of its own: the manifest's copy of it is the reference."""
        if not text:
            return  # a built-in study: no source text
        if self.files.read_text(name) != text:
            raise Damaged("not the study's text")

    def data_intact(self) -> str | None:
        """None when data.json and the test split are intact, else why not (resume writes them again)."""
        try:
            self.data()
            self.test_split()
        except Damaged as exc:
            return exc.reason
        return None


    def load_progress(self) -> dict[Path, tuple[str, int, list[EpochRecord]]]:
        """The epochs so far of every run in progress (or interrupted), by its record's path.
        A progress file that cannot be read is left out: it is rewritten at the next epoch end.
        Only real files in real folders are read (no link is followed)."""
        found = {}
        for path in self.files.files("runs", "seed-", PROGRESS_SUFFIX, depth=1):
            progress = read_progress(path)
            if progress is not None:
                found[path.with_suffix(".json")] = progress
        return found


def _valid_study(study: dict[str, Any]) -> dict[str, Any]:
    names = [v["name"] for v in study["variants"]]
    if not names or len(set(names)) != len(names) or not study["seeds"]:
        raise Damaged("variants or seeds missing or repeated")
    return study


def _record(raw: dict[str, Any]) -> RunRecord:
    if raw["status"] not in (COMPLETED, DIVERGED):
        raise Damaged(f"status {raw['status']!r} is not {COMPLETED!r} or {DIVERGED!r}")
    if raw["status"] == COMPLETED and (raw["test_accuracy"] is None or raw["test_loss"] is None):
        raise Damaged("a completed run without its test results")
    epochs = tuple(EpochRecord(**{k: v for k, v in e.items() if k in _EPOCH_FIELDS}) for e in raw["history"])
    fields = {k: raw[k] for k in _RECORD_FIELDS if k in raw}
    return RunRecord(**{**fields, "history": epochs})


_EPOCH_FIELDS = tuple(EpochRecord.__dataclass_fields__)
_RECORD_FIELDS = tuple(RunRecord.__dataclass_fields__)
