"""The inputs of `reglab predict`, read from a file or a folder, checked before any model loads.

    read_inputs(path) -> Inputs(values, eight_bit, names)

- a CSV file: one row per example, numbers only (a header row is optional); pandas reads it, so a
  table's fit can look its columns up by name;
- a NumPy file: .npy (one array), or .npz holding one array or one named x, X, inputs, images or
  features; never pickles;
- a folder of images (PNG, JPEG, BMP, GIF, TIFF, WebP, PGM, PPM), searched recursively and read
  in sorted order as 8-bit grey, as training reads an image folder (data/image_folder.py, resized
  when the study resized); needs Pillow (`pip install 'reglab[images]'`). Each row keeps its file's name.

Every problem is a DataError that names the file and the fix. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .image_folder import SUFFIXES as IMAGE_SUFFIXES, read_grey_image

NPZ_NAMES = ("x", "X", "inputs", "images", "features")
MAX_INPUT_BYTES = 2 << 30  # a prediction's inputs are read whole into memory


@dataclass(frozen=True, eq=False)
class Inputs:
    values: Any  # a NumPy array, or a pandas DataFrame for a CSV
    eight_bit: bool  # images read from image files: 0..255
    names: list[str] | None  # each row's file, for an image folder

    def __len__(self) -> int:
        return len(self.values)


def read_inputs(path: str | Path, image_size: tuple[int, int] | None = None) -> Inputs:
    """`image_size`: the study's `[data] image_size`, to which training resized its images: a
    folder's images are resized the same way (data/image_folder.py reads both)."""
    path = Path(path)
    if path.is_dir():
        return _image_folder(path, image_size)
    if not path.is_file():
        raise DataError(f"{path} does not exist", "give a CSV file, a .npy or .npz file, or a folder of images")
    if path.stat().st_size > MAX_INPUT_BYTES:
        raise DataError(f"{path} is {path.stat().st_size:,} bytes, more than {MAX_INPUT_BYTES:,}, which are read "
                        "whole into memory", "split it into smaller files and predict each")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return Inputs(_csv(path), False, None)
    if suffix in (".npy", ".npz"):
        return Inputs(_numpy(path), False, None)
    raise DataError(f"{path}: reglab predicts on CSV files, .npy or .npz files and folders of images, not "
                    f"{suffix or 'files without a suffix'}", "convert the inputs to one of those")


def _csv(path: Path) -> Any:
    import pandas as pd

    try:
        frame = pd.read_csv(path)
        if _first_row_is_data(list(frame.columns)):
            frame = pd.read_csv(path, header=None)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path} is not a readable CSV file ({type(exc).__name__}: {exc})",
                        "write one row per example, values separated by commas") from None
    if frame.empty:
        raise DataError(f"{path} has no rows", "give at least one example to predict")
    return frame


def _first_row_is_data(header: list[str]) -> bool:
    """A first row of numbers is data (pixels written without names, as numpy.savetxt writes
    them), unless it counts 0, 1, 2, ... or 1, 2, 3, ...: the column names pandas writes."""
    try:
        numbers = [float(name) for name in header]
    except (TypeError, ValueError):
        return False
    return bool(numbers) and numbers not in (list(range(len(numbers))), list(range(1, len(numbers) + 1)))


def _numpy(path: Path) -> np.ndarray:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path} is not a readable NumPy file ({exc})",
                        "write it with numpy.save (.npy) or numpy.savez (.npz), without Python objects") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        names = list(loaded.files)
        chosen = names[0] if len(names) == 1 else next((n for n in NPZ_NAMES if n in names), None)
        if chosen is None:
            raise DataError(f"{path} holds the arrays {', '.join(names) or '(none)'}; which is the inputs is not clear",
                            f"save the inputs alone, or under one of the names {', '.join(NPZ_NAMES)}")
        try:
            return loaded[chosen]
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"{path}: the array {chosen!r} cannot be read ({exc})", "write the file again") from None


def _image_folder(folder: Path, image_size: tuple[int, int] | None) -> Inputs:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})",
                        "give a folder of image files, or a CSV or NumPy file")
    arrays = [read_grey_image(file, image_size, "or predict without it") for file in files]
    shapes = sorted({a.shape for a in arrays})
    if len(shapes) > 1:
        raise DataError(f"{folder}: the images have {len(shapes)} sizes ({', '.join('x'.join(map(str, s)) for s in shapes[:4])})",
                        "resize them all to the size the model was trained on")
    return Inputs(np.stack(arrays), True, [str(f.relative_to(folder)) for f in files])
