"""The stored preprocessing of image data (data/preprocessing.py): what a prediction applies."""

from __future__ import annotations

import numpy as np
import pytest

from reglab.data import DataError
from reglab.data.preprocessing import ImagePixels, preprocessing_from_json


def test_eight_bit_images_of_digits_come_back_to_their_levels_exactly():
    # test_split.npz stores features * 255 rounded (engine/study.py); every level of 0..16 returns.
    levels = np.arange(17, dtype=np.float32)
    stored = np.clip(np.rint((levels / np.float32(16)) * 255), 0, 255).astype(np.uint8)
    digits = ImagePixels((1, 17), 16.0)
    assert np.array_equal(digits.stored_test_inputs(stored.reshape(1, 1, 17)).ravel(), levels)
    assert np.array_equal(digits.transform(stored.reshape(1, 17), eight_bit=True), (levels / np.float32(16))[None])


def test_pixels_are_divided_in_float32_as_the_tutorial_does():
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    features = ImagePixels((28, 28), 255.0).transform(images)
    assert features.dtype == np.float32 and features.shape == (3, 784)
    assert np.array_equal(features, images.reshape(3, -1).astype(np.float32) / np.float32(255))


def test_images_of_a_dataset_of_numbers_in_0_1_are_divided_by_255_not_rounded():
    x = np.array([[[0, 128], [255, 64]]], np.uint8)
    np.testing.assert_allclose(ImagePixels((2, 2), 1.0).transform(x, eight_bit=True), [[0, 128 / 255, 1, 64 / 255]],
                               rtol=1e-6)


def test_the_fit_is_stored_and_read_back_and_older_runs_get_theirs_from_the_dataset():
    fit = ImagePixels((8, 8), 16.0)
    assert preprocessing_from_json({"preprocessing": fit.to_json()}) == fit
    # data.json written before the fit was stored: digits' pixels are 0..16, the IDX sets' 0..255.
    assert preprocessing_from_json({"dataset": "digits", "image_shape": [8, 8]}) == fit
    assert preprocessing_from_json({"dataset": "mnist", "image_shape": [28, 28]}) == ImagePixels((28, 28), 255.0)
    with pytest.raises(DataError, match="kind 'hologram'"):
        preprocessing_from_json({"preprocessing": {"kind": "hologram"}})


def test_the_test_split_keeps_the_pixels_its_8_bit_images_cannot_hold():
    images = np.random.default_rng(1).random((2, 3, 3))
    assert ImagePixels((3, 3), 16.0).stored_rows(images * 16) is None  # whole levels: the 8-bit images suffice
    kept = ImagePixels((3, 3), 1.0).stored_rows(images)
    assert kept["test_rows/pixels"].dtype == np.float32
    assert np.array_equal(ImagePixels((3, 3), 1.0).stored_test_inputs(np.zeros((2, 3, 3), np.uint8), kept),
                          images.astype(np.float32))
