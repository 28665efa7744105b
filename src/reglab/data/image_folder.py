"""A folder of images, one sub-folder per class (as Keras's image_dataset_from_directory and
torchvision's ImageFolder read them): FOLDER/cat/001.png, FOLDER/dog/7.jpg, ...

Images are read with Pillow (an optional extra: pip install 'reglab[images]'), converted to grey
(the networks take one channel) and must all have one size, or [data] `image_size = [H, W]`
resizes every image to it. The classes are the sub-folders' names, sorted. Files whose suffix is
not an image's are ignored; a file with an image's suffix that cannot be read is refused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .prepared import Prepared, PrepareContext, check_size, existing, prepare_image_pool
from .source_registry import DataSource

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")


def read_grey_image(path: Path, size: tuple[int, int] | None = None, why: str = "") -> np.ndarray:
    """One image file as 8-bit grey (H, W), resized (bilinear) to `size` = (H, W) when given: how
    training reads an image folder, and how `reglab predict` reads new images."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DataError("reading images needs Pillow, which is not installed",
                        "pip install 'reglab[images]' (or Pillow)") from None
    try:
        with Image.open(path) as image:
            grey = image.convert("L")
            if size and grey.size != (size[1], size[0]):
                grey = grey.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(grey, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: not a readable image ({str(exc)[:160]})",
                        "replace or remove that file" + (f" ({why})" if why else "")) from None


def prepare_image_folder(source: DataSource, spec: Any, context: PrepareContext) -> Prepared:
    folder = existing(spec.path)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder", "name a folder with one sub-folder of images per class")
    files = sorted((p.parent.name, p) for p in folder.glob("*/*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        subfolders = sorted(p.name for p in folder.iterdir() if p.is_dir())
        raise DataError(f"{folder}: no images found in its sub-folders ({', '.join(subfolders[:8]) or 'none'})",
                        f"put the images of each class in a sub-folder named after the class, as "
                        f"{folder}/CLASS/IMAGE.png ({', '.join(SUFFIXES)})")
    size = check_size(folder, sum(path.stat().st_size for _, path in files))
    digest, images, labels = hashlib.sha256(), [], []
    wanted = tuple(spec.image_size) if spec.image_size else None
    for label, path in files:
        raw = path.read_bytes()
        digest.update(f"{label}/{path.name}:{len(raw)}:".encode())
        digest.update(raw)
        images.append(read_grey_image(path, wanted, "reglab reads every image file in the class folders"))
        labels.append(label)
    shapes = {}
    for (_, path), image in zip(files, images):
        shapes.setdefault(image.shape, path)
    if len(shapes) > 1:
        (a, pa), (b, pb) = list(shapes.items())[:2]
        raise DataError(f"{folder}: the images differ in size ({pa.name} is {a[0]}x{a[1]}, {pb.name} is "
                        f"{b[0]}x{b[1]}, H x W)", "resize them to one size, or set image_size = [H, W] in [data] "
                        "to have reglab resize every image")
    provenance = {"origin": f"folder {folder}", "name": folder.name, "path": str(folder.resolve()),
                  "bytes": size, "files": len(files), "fingerprint": digest.hexdigest(),
                  "image_size": list(wanted) if wanted else None}
    return prepare_image_pool(source, spec, {"train": (np.stack(images), np.array(labels, dtype=object))},
                              provenance)
