"""Kernels against plain per-pixel formulas (closed-form inverse covariance, no numpy linear algebra)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from bfrbench.degrade import kernels as K
from bfrbench.errors import ConfigError


def plain_q(size: int, sx: float, sy: float, theta: float) -> np.ndarray:
    """q = u^2/sx^2 + v^2/sy^2 with (u, v) the offset rotated by -theta; x = column, y = row offset."""
    c = size // 2
    q = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            x, y = j - c, i - c
            u = x * math.cos(theta) + y * math.sin(theta)
            v = -x * math.sin(theta) + y * math.cos(theta)
            q[i, j] = u * u / (sx * sx) + v * v / (sy * sy)
    return q


def normalised(k: np.ndarray) -> np.ndarray:
    return k / k.sum()


@pytest.mark.parametrize("size,sx,sy,theta", [(41, 3.0, 1.2, 0.7), (21, 0.6, 5.0, -2.9), (7, 2.0, 2.0, 1.0),
                                              (41, 10.0, 0.1, math.pi / 4)])
def test_anisotropic_gaussian_matches_formula(size: int, sx: float, sy: float, theta: float) -> None:
    got = K.gaussian_kernel(size, sx, sy, theta, isotropic=False)
    expect = normalised(np.exp(-0.5 * plain_q(size, sx, sy, theta)))
    assert got.shape == (size, size) and got.dtype == np.float64
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-12)
    assert abs(got.sum() - 1) < 1e-12
    np.testing.assert_allclose(got, got[::-1, ::-1], atol=1e-15)  # point symmetric


def test_rotation_direction_and_isotropic_ignores_sigma_y() -> None:
    # sigma_x > sigma_y, theta = 0: the kernel is wider along x (columns) than along y (rows)
    k = K.gaussian_kernel(21, 4.0, 1.0, 0.0, isotropic=False)
    assert k[10, 14] > k[14, 10] * 100
    k90 = K.gaussian_kernel(21, 4.0, 1.0, math.pi / 2, isotropic=False)
    np.testing.assert_allclose(k90, k.T, atol=1e-15)
    iso = K.gaussian_kernel(41, 2.5, 9.0, 1.0, isotropic=True)
    np.testing.assert_allclose(iso, normalised(np.exp(-0.5 * plain_q(41, 2.5, 2.5, 0.0))), atol=1e-12)


@pytest.mark.parametrize("beta", [0.5, 1.0, 3.0])
def test_generalized_and_plateau(beta: float) -> None:
    q = plain_q(21, 3.0, 1.5, 0.4)
    g = K.generalized_gaussian_kernel(21, 3.0, 1.5, 0.4, beta, isotropic=False)
    np.testing.assert_allclose(g, normalised(np.exp(-0.5 * q**beta)), atol=1e-12)
    p = K.plateau_kernel(21, 3.0, 1.5, 0.4, beta, isotropic=False)
    np.testing.assert_allclose(p, normalised(1.0 / (q**beta + 1.0)), atol=1e-12)
    if beta == 1.0:
        np.testing.assert_allclose(g, K.gaussian_kernel(21, 3.0, 1.5, 0.4, isotropic=False), atol=1e-15)


def test_kernel_from_params_dispatch() -> None:
    np.testing.assert_array_equal(K.kernel_from_params("iso", 41, 2.0), K.gaussian_kernel(41, 2.0))
    np.testing.assert_array_equal(K.kernel_from_params("plateau_aniso", 21, 2.0, 1.0, 0.3, 1.5),
                                  K.plateau_kernel(21, 2.0, 1.0, 0.3, 1.5, isotropic=False))
    with pytest.raises(ConfigError, match="beta"):
        K.kernel_from_params("generalized_iso", 21, 2.0)
    with pytest.raises(ConfigError, match="unknown kernel_type 'box'"):
        K.kernel_from_params("box", 21, 2.0)
    with pytest.raises(ConfigError, match="odd"):
        K.gaussian_kernel(40, 2.0)


def test_sigma_zero_is_identity_and_tiny_sigma_is_close() -> None:
    d = K.gaussian_kernel(41, 0.0)
    assert d[20, 20] == 1.0 and d.sum() == 1.0
    np.testing.assert_allclose(K.gaussian_kernel(41, 0.05), d, atol=1e-40)


@pytest.mark.parametrize("cutoff,size", [(math.pi / 3, 21), (2.5, 7), (math.pi, 13)])
def test_circular_lowpass_matches_formula(cutoff: float, size: int) -> None:
    c = (size - 1) / 2
    ref = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            r = math.hypot(i - c, j - c)
            ref[i, j] = cutoff**2 / (4 * math.pi) if r == 0 else cutoff * special.j1(cutoff * r) / (2 * math.pi * r)
    got = K.circular_lowpass_kernel(cutoff, size)
    np.testing.assert_allclose(got, ref / ref.sum(), atol=1e-12)
    padded = K.circular_lowpass_kernel(cutoff, size, pad_to=size + 4)
    assert padded.shape == (size + 4, size + 4) and padded[:2].sum() == 0
    np.testing.assert_array_equal(padded[2:-2, 2:-2], got)
