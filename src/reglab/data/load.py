"""Load a dataset from wherever it already is, downloading only as a last resort.

Lookup order for the IDX datasets: the user's `--data-dir`, a system package (Debian's
Fashion-MNIST), the cache, then a download into the cache. `digits` is embedded in
scikit-learn and always available, which makes it the offline fallback of `auto`.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any
from pathlib import Path

import numpy as np

from . import paths
from .download import fetch
from .errors import DataError
from .idx import parse_idx
from .sources import FILE_ROLES, SOURCES, Source, get_source
from .verify import digest_bytes, matches


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays with == is not a bool
class Dataset:
    name: str
    train_images: np.ndarray  # uint8 (N, H, W), read-only
    train_labels: np.ndarray  # int64 (N,), read-only
    test_images: np.ndarray | None
    test_labels: np.ndarray | None
    pixel_max: float  # 255.0, or 16.0 for digits
    class_names: tuple[str, ...]
    origin: str  # where it came from, for people: "cache /home/me/.cache/reglab/..."
    verified: bool  # every file matched a pinned checksum

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.train_images.shape[1:])  # type: ignore[return-value]


def load_dataset(
    name: str,
    *,
    data_dir: str | Path | None = None,
    allow_download: bool = True,
    progress: bool = True,
    cache_dir: str | Path | None = None,
) -> Dataset:
    """Load dataset `name`; raise DataError (with a fix) when it cannot be had."""
    source = get_source(name)
    if source.embedded:
        if data_dir is not None:
            raise DataError(
                f"{source.name} is embedded in scikit-learn and is not read from --data-dir",
                "drop `--data-dir`, or name the dataset whose files are there (e.g. mnist)",
            )
        return _load_digits(source)
    if data_dir is not None:
        return _load_dir(source, Path(data_dir), f"--data-dir {data_dir}", trusted=False)

    system = paths.system_dir(source.name)
    if system is not None and _all_present(source, system):
        try:
            return _load_dir(source, system, f"Debian package {system}", trusted=True)
        except DataError:
            pass  # a damaged system copy: the cache or a download may still work

    directory = Path(cache_dir) if cache_dir is not None else paths.cache_dir(source.name)
    origin = f"cache {directory}"
    if _all_present(source, directory):
        try:
            return _load_dir(source, directory, origin, trusted=True)
        except DataError:
            if not allow_download:
                raise
    if not allow_download:
        raise DataError(
            f"{source.name} is not in the cache ({directory}) and downloading is off",
            _fix(source),
        )
    try:
        fetch(source.name, cache_dir=directory, progress=progress)
    except DataError as e:
        raise DataError(
            f"{source.name} is not in the cache and could not be downloaded ({e.problem})",
            _fix(source),
        ) from None
    return _load_dir(source, directory, origin, trusted=True)


def _fix(source: Source) -> str:
    return (
        f"run `reglab data fetch {source.name}` on a machine with internet (it fills "
        f"{paths.cache_dir(source.name)}), or pass `--data-dir DIR` with the four IDX files, "
        "or use `--dataset digits`"
    )


def _candidates(filename: str) -> list[str]:
    """Names a file may have in a directory: as published, unpacked, or LeCun-style dotted."""
    raw = filename.removesuffix(".gz")
    dotted = raw.replace("-idx", ".idx")  # train-images.idx3-ubyte, as in many Kaggle copies
    return [filename, raw, dotted, dotted + ".gz"]


def _find(source: Source, directory: Path) -> dict[str, Path | None]:
    found: dict[str, Path | None] = {}
    for spec in source.files:
        paths_ = [directory / n for n in _candidates(spec.filename)]
        found[spec.role] = next((p for p in paths_ if p.is_file()), None)
    return found


def _all_present(source: Source, directory: Path) -> bool:
    return all(p is not None for p in _find(source, directory).values())


def _refuse_another_datasets_file(source: Source, role: str, path: Path, digests: Any) -> None:
    """Own data in the IDX format is welcome under any name, but a file that matches another
    known dataset's published checksum is that dataset: training on it as `source` would mislabel
    every result (Fashion-MNIST's files passed as KMNIST's)."""
    for other in SOURCES.values():
        if other is not source and not other.embedded and matches(other.file(role), digests):
            raise DataError(
                f"{path} is {other.name}'s {role.replace('_', ' ')} file (it matches the published {other.name} "
                f"checksum), not {source.name}'s",
                f"use `--dataset {other.name}` to train on it, or point `--data-dir` at the {source.name} files")


def _load_dir(source: Source, directory: Path, origin: str, *, trusted: bool) -> Dataset:
    """Read the four files of `source` in `directory`.

    Trusted places (cache, system package) must match the pinned checksums; a user's
    --data-dir need not (it may be their own data in the same format): it loads with
    verified=False.
    """
    if not directory.is_dir():
        names = ", ".join(spec.filename for spec in source.files)
        raise DataError(f"{directory} is not a directory, so the {source.name} files cannot be read from it",
                        f"pass the folder that holds {names} (gzip or raw), or drop `--data-dir`")
    found = _find(source, directory)
    missing = [source.file(role).filename for role, p in found.items() if p is None]
    if missing:
        raise DataError(
            f"{directory} lacks {len(missing)} of the 4 {source.name} files: {', '.join(missing)} "
            "(gzip-compressed or not)",
            f"put the missing files there, or drop `--data-dir` to use the cache"
            f" (`reglab data fetch {source.name}`)",
        )
    arrays: dict[str, np.ndarray] = {}
    verified = True
    for role in FILE_ROLES:
        path = found[role]
        assert path is not None
        try:
            data = path.read_bytes()
        except OSError as e:
            raise DataError(f"cannot read {path}: {e.strerror or e}") from None
        digests, payload = digest_bytes(data, path.name)  # IdxError for broken gzip
        ok = matches(source.file(role), digests)
        if trusted and not ok:
            raise DataError(f"{path} does not match the published {source.name} checksum")
        if not ok:
            _refuse_another_datasets_file(source, role, path, digests)
        verified = verified and ok
        arrays[role] = parse_idx(payload, path.name)
    return _assemble(source, arrays, origin, verified, directory)


def _assemble(
    source: Source, a: dict[str, np.ndarray], origin: str, verified: bool, directory: Path
) -> Dataset:
    def bad(what: str) -> DataError:
        return DataError(f"{directory}: {what}", "check that the files belong together")

    for split in ("train", "t10k"):
        images, labels = a[f"{split}-images"], a[f"{split}-labels"]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise bad(f"{split} images must be uint8 (N, H, W), got {images.dtype} {images.shape}")
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise bad(f"{split} labels must be integers (N,), got {labels.dtype} {labels.shape}")
        if len(images) != len(labels):
            raise bad(f"{len(images)} {split} images but {len(labels)} labels")
        if len(images) == 0 or 0 in images.shape[1:]:
            raise bad(f"{split} images are {images.shape}: no images, or images of no pixels")
        n_classes = len(source.class_names)
        if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
            raise bad(
                f"{split} labels span {labels.min()}..{labels.max()}, "
                f"expected 0..{n_classes - 1}"
            )
    if a["train-images"].shape[1:] != a["t10k-images"].shape[1:]:
        train_shape, test_shape = a["train-images"].shape[1:], a["t10k-images"].shape[1:]
        raise bad(f"train images are {train_shape}, test images {test_shape}")
    return Dataset(
        name=source.name,
        train_images=_frozen(a["train-images"]),
        train_labels=_frozen(a["train-labels"].astype(np.int64)),
        test_images=_frozen(a["t10k-images"]),
        test_labels=_frozen(a["t10k-labels"].astype(np.int64)),
        pixel_max=255.0,
        class_names=source.class_names,
        origin=origin,
        verified=verified,
    )


def _load_digits(source: Source) -> Dataset:
    # The file scikit-learn's load_digits reads, read as it reads it (np.loadtxt: 64 pixels, then
    # the label, per row), without importing scikit-learn, which took 1 to 2 s of every run.
    rows = np.loadtxt(_sklearn_data_file("digits.csv.gz"), delimiter=",")  # float64 holding 0..16
    return Dataset(
        name=source.name,
        train_images=_frozen(rows[:, :-1].reshape(-1, 8, 8).astype(np.uint8)),
        train_labels=_frozen(rows[:, -1].astype(np.int64)),
        test_images=None,
        test_labels=None,
        pixel_max=16.0,
        class_names=source.class_names,
        origin="scikit-learn embedded",
        verified=True,
    )


def _sklearn_data_file(name: str) -> Path:
    spec = importlib.util.find_spec("sklearn")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise DataError("scikit-learn, which ships the digits dataset, is not installed",
                        "pip install scikit-learn (a dependency of reglab)")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / name


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)  # a frozen Dataset should not change under anyone's feet
    return array


def resolve_dataset(
    name: str = "auto",
    *,
    data_dir: str | Path | None = None,
    allow_download: bool = True,
    progress: bool = True,
    cache_dir: str | Path | None = None,
) -> tuple[Dataset, list[str]]:
    """The dataset to use and notices for the user.

    `auto` means MNIST when it is cached or can be downloaded, else the embedded digits with
    a notice saying why and how to get MNIST. A dataset named explicitly is never swapped.
    """
    kwargs = dict(allow_download=allow_download, progress=progress, cache_dir=cache_dir)
    notices: list[str] = []
    if name != "auto" or data_dir is not None:
        dataset = load_dataset("mnist" if name == "auto" else name, data_dir=data_dir, **kwargs)
    else:
        try:
            dataset = load_dataset("mnist", **kwargs)
        except DataError as e:
            dataset = load_dataset("digits")
            notices.append(
                f"Using scikit-learn's 8x8 digits (1,797 images) instead of MNIST: {e.problem}. "
                "To get MNIST: run `reglab data fetch mnist` on a machine with internet, "
                "or pass `--data-dir DIR` with the four MNIST IDX files."
            )
    if not dataset.verified:
        notices.append(
            f"The files in {dataset.origin.removeprefix('--data-dir ')} do not match the "
            f"published {dataset.name} checksums: using them as your own data."
        )
    return dataset, notices


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    description_ja: str
    embedded: bool
    cached: bool  # all files present in the cache (not re-verified: listing stays instant)
    cache_dir: Path | None
    system_dir: Path | None  # a system package holds it, e.g. Debian's Fashion-MNIST
    availability: str  # one phrase for `reglab data list`


def list_datasets() -> list[DatasetInfo]:
    """Every known dataset and where it is available now; makes no network request."""
    rows = []
    for source in SOURCES.values():
        if source.embedded:
            rows.append(DatasetInfo(source.name, source.description, source.description_ja,
                                    True, False, None, None, "embedded in scikit-learn"))
            continue
        cache = paths.cache_dir(source.name)
        cached = _all_present(source, cache)
        system = paths.system_dir(source.name)
        system = system if system is not None and _all_present(source, system) else None
        if cached:
            where = f"cached in {cache}"
        elif system is not None:
            where = f"system package in {system}"
        else:
            where = f"not cached: `reglab data fetch {source.name}` downloads it"
        rows.append(DatasetInfo(source.name, source.description, source.description_ja,
                                False, cached, cache, system, where))
    from .source_registry import BUILT_IN, TABLE, data_sources

    for entry in data_sources().values():  # scikit-learn's tables (data/source_registry.py)
        if entry.kind == TABLE and entry.takes == BUILT_IN:
            where = "embedded in scikit-learn (a table)" if not entry.refused else "registered; regression comes later"
            rows.append(DatasetInfo(entry.name, entry.summary_en, entry.summary_ja, True, False, None, None, where))
    return rows
