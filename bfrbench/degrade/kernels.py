"""Blur kernels: bivariate Gaussian (isotropic / anisotropic), generalized Gaussian, plateau, circular sinc.

Matches the kernel definitions of BasicSR ``basicsr/data/degradations.py`` (XPixelGroup/BasicSR, the
version used by GFPGAN, Real-ESRGAN and CodeFormer) for the same parameters, to float64 round-off:

* grid: ``ax = arange(-K//2 + 1, K//2 + 1)`` (so -20..20 for K = 41), ``grid[i, j] = (ax[j], ax[i])``,
  i.e. the first coordinate is the column (x), the second the row (y).
* covariance: ``Sigma = U diag(sigma_x^2, sigma_y^2) U^T`` with ``U`` the rotation by ``theta`` (radians);
  isotropic kernels use ``diag(sigma_x^2, sigma_x^2)`` and ignore ``sigma_y`` and ``theta``.
* quadratic form ``q = p^T Sigma^-1 p`` at every grid point ``p``;
  Gaussian ``exp(-q / 2)``, generalized Gaussian ``exp(-q^beta / 2)`` (Pascal et al. 2013),
  plateau ``1 / (q^beta + 1)``; each normalised to sum 1.
* circular low-pass (sinc) kernel: ``omega_c J1(omega_c r) / (2 pi r)`` with
  ``r`` the distance to the centre, ``omega_c^2 / (4 pi)`` at ``r = 0``, normalised, optionally zero-padded.

Extension (documented in docs/degradations.md): ``sigma_x == 0`` gives the identity (delta) kernel, so
ranges that start at 0 (ReF-LDM's ``[0, 8]``) are well defined.

All kernels are float64 arrays of shape (K, K), K odd, summing to 1.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import numpy as np

from bfrbench.errors import ConfigError

KernelType = Literal["iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"]
KERNEL_TYPES: tuple[str, ...] = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")

__all__ = [
    "KERNEL_TYPES",
    "circular_lowpass_kernel",
    "delta_kernel",
    "gaussian_kernel",
    "generalized_gaussian_kernel",
    "kernel_from_params",
    "mesh_grid",
    "plateau_kernel",
    "sigma_matrix",
]


def _check_size(kernel_size: int) -> int:
    k = int(kernel_size)
    if k != kernel_size or k < 1 or k % 2 == 0:
        raise ConfigError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")
    return k


@lru_cache(maxsize=16)
def _grid(kernel_size: int) -> np.ndarray:
    ax = np.arange(-kernel_size // 2 + 1.0, kernel_size // 2 + 1.0)
    xx, yy = np.meshgrid(ax, ax)
    grid = np.stack([xx, yy], axis=-1)
    grid.setflags(write=False)
    return grid


def mesh_grid(kernel_size: int) -> np.ndarray:
    """Kernel coordinates centred at zero.

    Returns:
        float64 array (K, K, 2); ``[..., 0]`` is the column offset x, ``[..., 1]`` the row offset y.
    """
    return _grid(_check_size(kernel_size))


def sigma_matrix(sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """Rotated covariance ``U diag(sigma_x^2, sigma_y^2) U^T`` (2, 2) float64; ``theta`` in radians."""
    d = np.array([[sigma_x**2, 0.0], [0.0, sigma_y**2]])
    c, s = np.cos(theta), np.sin(theta)
    u = np.array([[c, -s], [s, c]])
    return np.dot(u, np.dot(d, u.T))


def _quadratic_form(kernel_size: int, sigma_x: float, sigma_y: float, theta: float, isotropic: bool) -> np.ndarray:
    if sigma_x <= 0 or (not isotropic and sigma_y <= 0):
        raise ConfigError(f"blur sigmas must be > 0 (0 means no blur), got sigma_x={sigma_x}, sigma_y={sigma_y}")
    grid = mesh_grid(kernel_size)
    if isotropic:
        cov = np.array([[sigma_x**2, 0.0], [0.0, sigma_x**2]])
    else:
        cov = sigma_matrix(sigma_x, sigma_y, theta)
    inv = np.linalg.inv(cov)
    # q(p) = p^T Sigma^-1 p, evaluated as (p Sigma^-1) . p like the reference (same rounding)
    return np.sum(np.dot(grid, inv) * grid, 2)


def delta_kernel(kernel_size: int) -> np.ndarray:
    """Identity kernel: 1 at the centre, 0 elsewhere (float64, (K, K))."""
    k = _check_size(kernel_size)
    out = np.zeros((k, k), dtype=np.float64)
    out[k // 2, k // 2] = 1.0
    return out


def gaussian_kernel(kernel_size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0,
                    *, isotropic: bool = True) -> np.ndarray:
    """Bivariate Gaussian kernel ``exp(-q/2)``, normalised (float64, (K, K)).

    Args:
        kernel_size: odd size K (41 in GFPGAN-style pipelines).
        sigma_x: standard deviation along the kernel's first axis, pixels (> 0; 0 gives the delta kernel).
        sigma_y: second standard deviation (anisotropic only; defaults to ``sigma_x``).
        theta: rotation in radians (anisotropic only).
        isotropic: use ``sigma_x`` for both axes and ignore ``sigma_y``/``theta``.
    """
    if sigma_x == 0:
        return delta_kernel(kernel_size)
    sy = sigma_x if sigma_y is None else sigma_y
    kernel = np.exp(-0.5 * _quadratic_form(_check_size(kernel_size), sigma_x, sy, theta, isotropic))
    return kernel / np.sum(kernel)


def generalized_gaussian_kernel(kernel_size: int, sigma_x: float, sigma_y: float | None, theta: float, beta: float,
                                *, isotropic: bool = True) -> np.ndarray:
    """Generalized Gaussian ``exp(-q^beta / 2)``, normalised (float64, (K, K)); beta = 1 is the Gaussian."""
    if sigma_x == 0:
        return delta_kernel(kernel_size)
    sy = sigma_x if sigma_y is None else sigma_y
    q = _quadratic_form(_check_size(kernel_size), sigma_x, sy, theta, isotropic)
    kernel = np.exp(-0.5 * np.power(q, beta))
    return kernel / np.sum(kernel)


def plateau_kernel(kernel_size: int, sigma_x: float, sigma_y: float | None, theta: float, beta: float,
                   *, isotropic: bool = True) -> np.ndarray:
    """Plateau kernel ``1 / (q^beta + 1)``, normalised (float64, (K, K))."""
    if sigma_x == 0:
        return delta_kernel(kernel_size)
    sy = sigma_x if sigma_y is None else sigma_y
    q = _quadratic_form(_check_size(kernel_size), sigma_x, sy, theta, isotropic)
    kernel = np.reciprocal(np.power(q, beta) + 1)
    return kernel / np.sum(kernel)


def kernel_from_params(kernel_type: str, kernel_size: int, sigma_x: float, sigma_y: float | None = None,
                       angle: float | None = None, beta: float | None = None) -> np.ndarray:
    """Rebuild a kernel from the parameters recorded in a manifest row.

    ``kernel_type`` is one of :data:`KERNEL_TYPES`; isotropic types ignore ``sigma_y`` and ``angle``;
    ``beta`` is needed by the generalized and plateau types.
    """
    iso = kernel_type.endswith("iso") and not kernel_type.endswith("aniso")
    theta = 0.0 if angle is None else float(angle)
    if kernel_type in ("iso", "aniso"):
        return gaussian_kernel(kernel_size, sigma_x, sigma_y, theta, isotropic=iso)
    if kernel_type in ("generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"):
        if beta is None:
            raise ConfigError(f"kernel_type {kernel_type!r} needs a 'beta' value")
        fn = generalized_gaussian_kernel if kernel_type.startswith("generalized") else plateau_kernel
        return fn(kernel_size, sigma_x, sigma_y, theta, beta, isotropic=iso)
    raise ConfigError(f"unknown kernel_type {kernel_type!r}; accepted: {', '.join(KERNEL_TYPES)}")


def circular_lowpass_kernel(cutoff: float, kernel_size: int, pad_to: int = 0) -> np.ndarray:
    """2-D circularly symmetric sinc (ideal low-pass) kernel, normalised (float64, (K, K) or padded).

    Args:
        cutoff: cut-off frequency omega_c in radians (pi is the maximum), > 0.
        kernel_size: odd size K.
        pad_to: zero-pad to this odd size when larger than K (0 = no padding).
    """
    from scipy import special

    k = _check_size(kernel_size)
    if cutoff <= 0:
        raise ConfigError(f"sinc cutoff must be > 0 radians, got {cutoff}")
    c = (k - 1) / 2
    x, y = np.indices((k, k), dtype=np.float64)
    r = np.sqrt((x - c) ** 2 + (y - c) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = cutoff * special.j1(cutoff * r) / (2 * np.pi * r)
    kernel[k // 2, k // 2] = cutoff**2 / (4 * np.pi)
    kernel = kernel / np.sum(kernel)
    if pad_to > k:
        if pad_to % 2 == 0:
            raise ConfigError(f"pad_to must be odd, got {pad_to}")
        p = (pad_to - k) // 2
        kernel = np.pad(kernel, ((p, p), (p, p)))
    return kernel


PI = math.pi
