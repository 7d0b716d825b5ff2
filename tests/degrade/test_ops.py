"""Ops and whole presets against reference pipelines written plainly here, the way BasicSR/GFPGAN/DifFace do it
(BGR float32 images in [0, 1], cv2 calls with the same arguments, final round and clip)."""

from __future__ import annotations

import copy
import math
import warnings

import cv2
import numpy as np
import pytest

from bfrbench.degrade import (
    add_gaussian_noise,
    blur,
    color_shift,
    downsample,
    gaussian_kernel,
    grayscale,
    jpeg_compress,
    load_recipe,
    quantize,
    resize_to,
    to_float32,
)
from bfrbench.rng import item_generator


@pytest.fixture(scope="module")
def face512() -> np.ndarray:
    import skimage.data

    return cv2.resize(np.ascontiguousarray(skimage.data.astronaut()[0:400, 60:460]), (512, 512),
                      interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def small() -> np.ndarray:
    rng = np.random.default_rng(5)
    img = np.full((48, 48, 3), 120, np.uint8)
    cv2.circle(img, (24, 24), 15, (220, 180, 150), -1)
    return np.clip(img + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)


def ref_kernel(size: int, sx: float, sy: float, theta: float, iso: bool) -> np.ndarray:
    """BasicSR's recipe: grid (x, y), Sigma = U D U^T, exp(-0.5 * sum(grid @ inv(Sigma) * grid)), normalise."""
    ax = np.arange(-size // 2 + 1.0, size // 2 + 1.0)
    xx, yy = np.meshgrid(ax, ax)
    grid = np.hstack((xx.reshape(-1, 1), yy.reshape(-1, 1))).reshape(size, size, 2)
    if iso:
        cov = np.array([[sx**2, 0], [0, sx**2]])
    else:
        u = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        cov = np.dot(u, np.dot(np.array([[sx**2, 0], [0, sy**2]]), u.T))
    k = np.exp(-0.5 * np.sum(np.dot(grid, np.linalg.inv(cov)) * grid, 2))
    return k / np.sum(k)


def ref_jpeg_bgr(img: np.ndarray, q: int) -> np.ndarray:
    img = np.clip(img, 0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, enc = cv2.imencode(".jpg", img * 255.0, [int(cv2.IMWRITE_JPEG_QUALITY), q])  # float input, as BasicSR
    return np.float32(cv2.imdecode(enc, 1)) / 255.0


def ref_gfpgan(hq_rgb: np.ndarray, p: dict, noise_rng: np.random.Generator) -> np.ndarray:
    """GFPGAN FFHQDegradationDataset LQ branch (no jitter/gray) with given parameters; returns RGB uint8."""
    img = hq_rgb[..., ::-1].astype(np.float32) / 255.0  # BGR float32, like imfrombytes(float32=True)
    h, w = img.shape[:2]
    iso = p["kernel_type"] == "iso"
    k = ref_kernel(41, p["sigma_x"], p["sigma_y"] if not iso else 0, p["angle"] if not iso else 0, iso)
    lq = cv2.filter2D(img, -1, k)
    lq = cv2.resize(lq, (int(w // p["scale"]), int(h // p["scale"])), interpolation=cv2.INTER_LINEAR)
    noise = np.float32(noise_rng.standard_normal(lq.shape)) * p["noise_sigma"] / 255.0
    lq = np.clip(lq + noise, 0, 1)
    lq = ref_jpeg_bgr(lq, p["jpeg_quality"])
    lq = cv2.resize(lq, (w, h), interpolation=cv2.INTER_LINEAR)
    lq = lq[..., ::-1]  # to RGB, as img2tensor(bgr2rgb=True)
    return np.clip((lq * 255.0).round(), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("item", ["a", "b", "c", "d"])
def test_gfpgan_preset_pixel_identical_to_reference(face512: np.ndarray, item: str) -> None:
    recipe = load_recipe("gfpgan")
    rng = item_generator(7, item)
    params = recipe.sample(rng)
    noise_rng = copy.deepcopy(rng)
    lq = recipe.apply(face512, params, rng)
    expect = ref_gfpgan(face512, params, noise_rng)
    assert lq.shape == (512, 512, 3) and lq.dtype == np.uint8
    np.testing.assert_array_equal(lq, expect)
    assert 0.1 <= params["sigma_x"] <= 10 and 0.8 <= params["scale"] <= 8 and 60 <= params["jpeg_quality"] <= 100


def test_gfpgan_both_kernel_types_covered() -> None:
    recipe = load_recipe("gfpgan")
    types = {recipe.sample(item_generator(7, i))["kernel_type"] for i in "abcd"}
    assert types == {"iso", "aniso"}  # the parametrized test above exercises both


def ref_difface(hq_rgb: np.ndarray, sf: float, sx: float, sy: float, theta: float, nf: float, qf: int,
                noise_rng: np.random.Generator) -> np.ndarray:
    """DifFace face_degradation (aniso kernel 41, resize, noise clip, JPEG, resize back, round)."""
    img = hq_rgb[..., ::-1].astype(np.float32) / 255.0
    h, w = img.shape[:2]
    lq = cv2.filter2D(img, -1, ref_kernel(41, sx, sy, theta, False))
    lq = cv2.resize(lq, (int(w // sf), int(h // sf)), interpolation=cv2.INTER_LINEAR)
    lq = np.clip(lq + np.float32(noise_rng.standard_normal(lq.shape)) * nf / 255.0, 0, 1)
    lq = ref_jpeg_bgr(lq, qf)
    lq = cv2.resize(lq, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip((lq[..., ::-1] * 255.0).round(), 0, 255).astype(np.uint8)


def test_difface_grid_cell_and_pixels(face512: np.ndarray) -> None:
    recipe = load_recipe("difface-grid")
    index = 4000 + 1234  # wraps around: cell 1234
    rng = item_generator(3, "x")
    p = recipe.sample(rng, index=index)
    # nested loops qf > sf > nf > sig_x > theta: 1234 = ((((qf*10 + sf)*5 + nf)*4 + sx)*4 + th)
    th, rest = 1234 % 4, 1234 // 4
    sx, rest = rest % 4, rest // 4
    nf, rest = rest % 5, rest // 5
    sf, qf = rest % 10, rest // 10
    assert p["grid_cell"] == 1234
    assert (p["jpeg_quality"], p["scale"], p["noise_sigma"], p["sigma_x"]) == (
        [30, 40, 50, 60, 70][qf], [4, 8, 12, 16, 20, 24, 28, 32, 36, 40][sf], [1, 5, 10, 15, 20][nf], [4, 8, 12, 16][sx])
    assert p["angle"] == pytest.approx([0, 0.25, 0.5, 0.75][th] * math.pi, abs=1e-15)
    assert p["sigma_y"] in (4, 8, 12, 16) and p["kernel_type"] == "aniso"
    noise_rng = copy.deepcopy(rng)
    lq = recipe.apply(face512, p, rng)
    np.testing.assert_array_equal(lq, ref_difface(face512, p["scale"], p["sigma_x"], p["sigma_y"], p["angle"],
                                                  p["noise_sigma"], p["jpeg_quality"], noise_rng))


def test_blur_is_filter2d_reflect101(small: np.ndarray) -> None:
    img = to_float32(small)
    k = gaussian_kernel(7, 1.5, 0.8, 0.3, isotropic=False)
    out = blur(img, k)
    ref = cv2.filter2D(img[..., ::-1], -1, k)[..., ::-1]  # BGR reference, default border
    np.testing.assert_array_equal(out, ref)
    # border handling: reflect-101 by hand for one corner pixel
    pad = np.pad(img, ((3, 3), (3, 3), (0, 0)), mode="reflect")
    manual = (pad[0:7, 0:7] * k[:, :, None]).sum(axis=(0, 1))
    np.testing.assert_allclose(out[0, 0], manual, atol=1e-6)


@pytest.mark.parametrize("scale,expect", [(3.7, 12), (0.8, 59), (1.0, 48), (8.0, 6)])  # 48 // 0.8 == 59.0
def test_downsample_size_and_values(small: np.ndarray, scale: float, expect: int) -> None:
    img = to_float32(small)
    out = downsample(img, scale)
    assert out.shape == (expect, expect, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out, cv2.resize(img, (int(48 // scale),) * 2, interpolation=cv2.INTER_LINEAR))
    back = resize_to(out, 48)
    assert back.shape == (48, 48, 3)


def test_gaussian_noise_same_draws_as_bgr_reference(small: np.ndarray) -> None:
    img = to_float32(small)
    out = add_gaussian_noise(img, 12.5, np.random.default_rng(9))
    r = np.random.default_rng(9)
    ref_bgr = np.clip(img[..., ::-1] + np.float32(r.standard_normal(img.shape)) * 12.5 / 255.0, 0, 1)
    np.testing.assert_array_equal(out, ref_bgr[..., ::-1])
    resid = (out - img)[(img > 0.2) & (img < 0.8)] * 255
    assert 11.0 < resid.std() < 14.0 and abs(resid.mean()) < 1.0
    g = add_gaussian_noise(img, 10, np.random.default_rng(1), gray=True)
    d = g - img
    inner = (img > 0.1).all(axis=2) & (img < 0.9).all(axis=2)
    np.testing.assert_allclose(d[inner][:, 0], d[inner][:, 2], atol=1e-6)


@pytest.mark.parametrize("q", [10, 60, 95])
def test_jpeg_equals_basicsr_float_imencode(small: np.ndarray, q: int) -> None:
    img = add_gaussian_noise(to_float32(small), 5, np.random.default_rng(0))
    out = jpeg_compress(img, q)
    np.testing.assert_array_equal(out, ref_jpeg_bgr(img[..., ::-1], q)[..., ::-1])
    err = np.abs(out - img).mean()
    assert (err > 0.004) if q == 10 else (err < 0.05)
    with pytest.raises(ValueError, match="integer"):
        jpeg_compress(img, 70.5)  # type: ignore[arg-type]


def test_color_ops(small: np.ndarray) -> None:
    img = to_float32(small)
    out = color_shift(img, (0.1, -0.05, 0.0))
    jitter_bgr = np.array([0.0, -0.05, 0.1]).astype(np.float32)  # GFPGAN: uniform(-s, s, 3).astype(float32)
    np.testing.assert_array_equal(out, np.clip(img[..., ::-1] + jitter_bgr, 0, 1)[..., ::-1])
    np.testing.assert_array_equal(out[..., 2], img[..., 2])
    g = grayscale(img)
    ref = cv2.cvtColor(img[..., ::-1], cv2.COLOR_BGR2GRAY)  # BasicSR converts its BGR image
    for c in range(3):
        np.testing.assert_array_equal(g[..., c], ref)
    y = 0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]
    np.testing.assert_allclose(g[..., 0], y, atol=1e-5)


def test_quantize_round_half_even_and_roundtrip() -> None:
    k = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    np.testing.assert_array_equal(quantize(to_float32(k)), k)
    halves = np.array([[[0.5 / 255, 1.5 / 255, 2.5 / 255]]], dtype=np.float32)
    assert quantize(halves).tolist() == [[[0, 2, 2]]]
    assert quantize(np.array([[[-0.2, 1.3, 0.999]]], np.float32)).tolist() == [[[0, 255, 255]]]
