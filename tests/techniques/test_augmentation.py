"""Augmentation: each check compares against an expectation computed independently of the
module (torch.roll, torch.rot90, centre of mass, sample statistics, hand-written matrices)."""

from __future__ import annotations

import pytest
import torch

from reglab.techniques import registry
from reglab.techniques.augmentation import affine_matrices, affine_theta, augment, warp
from reglab.techniques.hooks import Context

ZERO = {"shift": 0.0, "rotation": 0.0, "scale": 0.0, "noise": 0.0}
ALL = {"shift": 0.1, "rotation": 10.0, "scale": 0.1, "noise": 0.05}


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def square_batch(batch: int, size: int = 28, top: int = 11, left: int = 11, side: int = 6) -> torch.Tensor:
    img = torch.zeros(size, size)
    img[top:top + side, left:left + side] = 1.0
    return img.reshape(1, -1).repeat(batch, 1)


def centre_of_mass(x: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 2) as (column, row) in pixels."""
    img = x.reshape(-1, size, size)
    idx = torch.arange(size, dtype=x.dtype)
    mass = img.sum((1, 2))
    return torch.stack([(img.sum(1) * idx).sum(1) / mass, (img.sum(2) * idx).sum(1) / mass], 1)


def asymmetric(size: int) -> torch.Tensor:
    # An L shape plus a lone pixel: no rotation or flip maps it onto itself.
    img = torch.zeros(size, size)
    img[2:size - 2, 2] = 1.0
    img[size - 3, 2:size // 2] = 0.7
    img[1, size - 2] = 0.4
    return img


def test_all_zero_returns_input_exactly_and_draws_nothing():
    x = torch.rand(5, 64)
    g = gen(0)
    out = augment(x, (8, 8), ZERO, g)
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()
    assert torch.equal(g.get_state(), gen(0).get_state())


@pytest.mark.parametrize("shape", [(28, 28), (8, 8)])
def test_shape_dtype_device_and_range(shape):
    x = torch.rand(7, shape[0] * shape[1])
    out = augment(x, shape, {**ALL, "noise": 0.3}, gen(1))
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not torch.equal(out, x)


def test_same_seed_same_output_different_seed_different_output():
    x = torch.rand(6, 784)
    a, b = augment(x, (28, 28), ALL, gen(3)), augment(x, (28, 28), ALL, gen(3))
    assert torch.equal(a, b)
    assert not torch.allclose(a, augment(x, (28, 28), ALL, gen(4)))


def test_images_in_a_batch_get_different_transforms():
    out = augment(square_batch(8), (28, 28), {**ZERO, "shift": 0.1, "rotation": 20.0}, gen(5))
    for i in range(8):
        for j in range(i):
            assert not torch.allclose(out[i], out[j])


def test_integer_translation_matches_roll_with_a_hand_written_theta():
    # Content moves 3 px right and 2 px down: output(p) samples input(p - t); one pixel is 2/28.
    x = square_batch(1)
    theta = torch.tensor([[[1.0, 0.0, -2 * 3 / 28], [0.0, 1.0, -2 * 2 / 28]]])
    expected = torch.roll(x.reshape(28, 28), shifts=(2, 3), dims=(0, 1)).reshape(1, -1)
    assert torch.allclose(warp(x, theta, (28, 28)), expected, atol=1e-5)
    built = affine_theta(torch.zeros(1), torch.ones(1), torch.tensor([3 / 28]), torch.tensor([2 / 28]), (28, 28))
    assert torch.allclose(built, theta, atol=1e-7)


def test_random_translation_moves_centre_of_mass_by_the_drawn_amount():
    n, shift = 200, 0.25
    x = square_batch(n)
    params = {**ZERO, "shift": shift}
    theta = affine_matrices(n, (28, 28), params, gen(6))
    assert torch.equal(theta[:, :, :2], torch.eye(2).expand(n, 2, 2))  # no rotation, no scaling
    moved = centre_of_mass(augment(x, (28, 28), params, gen(6)), 28) - centre_of_mass(x, 28)
    # Bilinear sampling of a shift conserves mass and moves the centre of mass exactly; the
    # 6 px square at 11..16 stays inside for shifts up to 7 px, so nothing is cut off.
    assert torch.allclose(moved, -theta[:, :, 2] * 28 / 2, atol=1e-3)
    assert moved.abs().max() <= shift * 28 + 1e-4
    for axis in range(2):
        assert (moved[:, axis] > 2).any() and (moved[:, axis] < -2).any()


@pytest.mark.parametrize("size", [28, 8])
def test_plus_90_degrees_is_rot90_counter_clockwise(size):
    img = asymmetric(size)
    theta = affine_theta(torch.tensor([90.0, -90.0]), torch.ones(2), torch.zeros(2), torch.zeros(2), (size, size))
    out = warp(img.reshape(1, -1).repeat(2, 1), theta, (size, size)).reshape(2, size, size)
    # align_corners=False puts pixel centres symmetric about 0, so the turn lands on centres.
    assert torch.allclose(out[0], torch.rot90(img, 1, dims=(0, 1)), atol=1e-5)
    assert torch.allclose(out[1], torch.rot90(img, -1, dims=(0, 1)), atol=1e-5)


def test_random_rotation_and_scaling_stay_within_bounds():
    n = 500
    theta = affine_matrices(n, (28, 28), {**ZERO, "rotation": 30.0, "scale": 0.2}, gen(7))
    inv = theta[:, :, :2]
    factor = 1 / torch.linalg.det(inv).sqrt()  # det(A⁻¹) = 1 / f² for a rotation times f
    angle = torch.rad2deg(torch.atan2(inv[:, 1, 0], inv[:, 0, 0]))
    assert torch.allclose(theta[:, :, 2], torch.zeros(n, 2))  # no translation drawn in
    assert factor.min() >= 0.8 - 1e-5 and factor.max() <= 1.2 + 1e-5
    assert angle.abs().max() <= 30 + 1e-4 and angle.min() < -20 and angle.max() > 20


def test_noise_only_has_zero_mean_and_the_requested_std():
    x = torch.full((64, 784), 0.5)
    diff = augment(x, (28, 28), {**ZERO, "noise": 0.05}, gen(8)) - x
    assert abs(diff.mean().item()) < 0.002
    assert diff.std().item() == pytest.approx(0.05, rel=0.02)


def test_registry_entry():
    technique = registry.lookup("augmentation", "augmentation")
    assert technique.shorthand is None and "データ拡張" in technique.summary_ja
    expected = {"shift": (0.1, 0.0, 0.5), "rotation": (10.0, 0.0, 180.0),
                "scale": (0.1, 0.0, 0.9), "noise": (0.0, 0.0, 1.0)}
    assert {p.name: (p.default, p.low, p.high) for p in technique.params} == expected
    assert all(p.kind == "float" for p in technique.params)
    x = torch.rand(3, 64)
    runtime = technique.build(technique.defaults(keras_compat=False))
    runtime.generator = gen(9)
    y = torch.arange(3)
    x_out, y_out = runtime.transform_batch(x, y, Context((8, 8), 10))
    assert torch.equal(x_out, augment(x, (8, 8), technique.defaults(False), gen(9))) and y_out is y
