"""What turns a user's inputs into the network's features: fitted when a study reads its data,
stored with the run (data.json's "preprocessing"), applied again to anything predicted later.

    prep = preprocessing_from_json(store.data())      # the stored fit (or the one an older run implies)
    features = prep.transform(inputs)                 # float32 (rows, prep.n_features)

One class per kind of data, registered by its `kind`: `ImagePixels` (the built-in datasets:
pixels / pixel_max, flattened) here; a table's fit (standardized numbers, one-hot categories,
imputation) registers its own (data/table_preprocess.py's TableFit). A kind implements `transform`, `to_json` / `from_json`,
`n_features` and `stored_test_inputs`, and raises DataError (the problem and its fix) for inputs
it cannot take: the wrong shape, columns or values. The training path calls the same `transform`,
so a prediction gets the very features training had. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .errors import DataError

KINDS: dict[str, type[Preprocessing]] = {}


class Preprocessing:
    """The stored fit of one kind of data (see the module's docstring)."""

    kind: ClassVar[str]

    @property
    def n_features(self) -> int:
        raise NotImplementedError

    def transform(self, inputs: Any, *, eight_bit: bool = False) -> np.ndarray:
        """float32 (rows, n_features). `eight_bit`: images read from image files (0..255)."""
        raise NotImplementedError

    def stored_test_inputs(self, test_images: np.ndarray, test_rows: dict[str, np.ndarray] | None = None) -> Any:
        """The run directory's test split (test_split.npz: its images, and a table's rows) as inputs
        `transform` takes."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Preprocessing:
        raise NotImplementedError

    def describe(self) -> str:
        """One line for people and for the exported model's description."""
        raise NotImplementedError


def register(cls: type[Preprocessing]) -> type[Preprocessing]:
    KINDS[cls.kind] = cls
    return cls


def preprocessing_from_json(data: dict[str, Any]) -> Preprocessing:
    """The preprocessing a run's data.json records. Runs stored before it was recorded are the
    built-in image datasets: their fit follows from the dataset (digits' pixels are 0..16)."""
    raw = data.get("preprocessing")
    if raw is None:
        return ImagePixels(tuple(data["image_shape"]), 16.0 if data.get("dataset") == "digits" else 255.0)
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if kind not in KINDS:
        raise DataError(f"the run's data.json records a preprocessing of kind {kind!r}, which this reglab "
                        f"does not know (it knows {', '.join(KINDS)})", "use the reglab version that trained it")
    return KINDS[kind].from_json(raw)


@register
@dataclass(frozen=True)
class ImagePixels(Preprocessing):
    """Grey images of `image_shape`, pixels divided by `pixel_max` (255, or 16 for digits) into
    [0, 1] and flattened row by row: what the tutorial's `x.astype('float32') / 255` does."""

    image_shape: tuple[int, int]
    pixel_max: float
    kind: ClassVar[str] = "images"

    @property
    def n_features(self) -> int:
        return self.image_shape[0] * self.image_shape[1]

    def transform(self, inputs: Any, *, eight_bit: bool = False) -> np.ndarray:
        x = self._checked(inputs, 255.0 if eight_bit else self.pixel_max)
        if eight_bit:
            x = self._from_8bit(x)
        elif x.size and x.dtype.kind == "f" and self.pixel_max > 1 and x.max() <= 1.0:
            raise DataError(f"every value is at most 1, as if these were already scaled features; the model "
                            f"takes pixels as the dataset has them (0 to {self.pixel_max:g}) and scales them itself",
                            f"pass the raw pixels (0 to {self.pixel_max:g}), or preprocessed=True if these are "
                            "the model's features already")
        features = x.reshape(len(x), self.n_features).astype(np.float32)
        features /= np.float32(self.pixel_max)  # in float32, as the tutorial's x.astype('float32') / 255
        return features

    def features(self, inputs: Any) -> np.ndarray:
        """Inputs that are the model's features already: checked for shape, passed on as float32."""
        return self._checked(inputs, 1.0).reshape(-1, self.n_features).astype(np.float32)

    def stored_test_inputs(self, test_images: np.ndarray, test_rows: dict[str, np.ndarray] | None = None) -> np.ndarray:
        # test_split.npz holds the test images as 8-bit grey (for the report's galleries), and
        # pixels that 8 bits cannot hold as they were given (stored_rows).
        if test_rows and "test_rows/pixels" in test_rows:
            return test_rows["test_rows/pixels"]
        return self._from_8bit(test_images)

    def stored_rows(self, test_images: np.ndarray) -> dict[str, np.ndarray] | None:
        """What test_split.npz keeps beside its 8-bit images so that `stored_test_inputs` gives the
        test inputs exactly: nothing for pixels of whole levels (the 8-bit images give them back);
        pixels that were numbers in [0, 1] as float32, the precision the network saw them in."""
        if self.pixel_max > 1 and float(self.pixel_max).is_integer():
            return None
        return {"test_rows/pixels": np.asarray(test_images, dtype=np.float32)}

    def _from_8bit(self, x: np.ndarray) -> np.ndarray:
        """8-bit images in the dataset's pixel units. A dataset whose pixels are other whole levels
        (digits: 0..16) gets those levels back, as its training images had them (exactly, for
        test_split.npz's images); one whose pixels were numbers in [0, 1] (pixel_max 1) gets x / 255."""
        if self.pixel_max == 255.0:
            return x
        scaled = x.astype(np.float64) * (self.pixel_max / 255.0)
        return np.rint(scaled) if self.pixel_max > 1 and float(self.pixel_max).is_integer() else scaled

    def _checked(self, inputs: Any, top: float) -> np.ndarray:
        try:
            x = np.asarray(getattr(inputs, "to_numpy", lambda: inputs)())  # a pandas frame, too
        except (TypeError, ValueError) as exc:
            raise DataError(f"the inputs are not an array of numbers ({exc})", "pass a NumPy array") from None
        h, w = self.image_shape
        if x.dtype.kind not in "iuf":
            raise DataError(f"the inputs are of type {x.dtype}, not numbers (a column of text?)",
                            f"pass {h}x{w} images or rows of {h * w} pixel values")
        if not ((x.ndim == 2 and x.shape[1] == h * w) or (x.ndim == 3 and x.shape[1:] == (h, w))
                or (x.ndim == 4 and x.shape[1:] in ((1, h, w), (h, w, 1)))):
            raise DataError(f"the inputs have shape {x.shape}; the model was trained on {h}x{w} images "
                            f"({h * w} values each)", f"pass an array of shape (rows, {h}, {w}) or (rows, {h * w}); "
                            "images of another size must be resized first")
        if x.size and x.dtype.kind == "f" and not np.isfinite(x).all():
            raise DataError("the inputs hold NaN or infinite values", "replace them with pixel values")
        if x.size and (x.min() < 0 or x.max() > top):
            raise DataError(f"pixel values span {x.min():g} to {x.max():g}; the model's inputs span 0 to {top:g}",
                            "pass values in that range" + (" (8-bit images of digits, 0..255: predict on them as a "
                                                           "folder of images, or with eight_bit=True in Python)"
                                                           if top == 16.0 else ""))
        return x

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "image_shape": list(self.image_shape), "pixel_max": self.pixel_max}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ImagePixels:
        return cls(tuple(int(n) for n in raw["image_shape"]), float(raw["pixel_max"]))

    def describe(self) -> str:
        h, w = self.image_shape
        return f"{h}x{w} grey images, pixels / {self.pixel_max:g}, flattened row by row to {h * w} features"
