"""NIQE (Mittal, Soundararajan & Bovik, IEEE SPL 2013): variants ``basicsr`` (float32), ``matlab`` (float64), ``pyiqa``.

Both BasicSR variants follow XPixelGroup/BasicSR ``basicsr/metrics/niqe.py`` (commit
8d56e3a045f9fb3e1d8872f92ee4a4f07f886b0a; the same code as BasicSR 1.4.2), which ports MATLAB's
``niqe_release``:

1. Y = round(BT.601 Y of YCbCr) on 0..255 (BasicSR ``to_y_channel``), crop border 0.
2. Crop to a multiple of the 96x96 block size.
3. At two scales (full, then MATLAB ``imresize(., 0.5)`` bicubic with antialiasing): MSCN coefficients
   (x - mu) / (sigma + 1) with the 7x7 Gaussian window of the pristine model (replicate border); per
   block of 96/scale pixels, 18 features: an AGGD fit (alpha, mean of left/right beta) of the MSCN block
   and, for the 4 circular shifts (0,1), (1,0), (1,1), (1,-1) of the block, AGGD fits of the products
   (alpha, mean, beta_l, beta_r). AGGD shape from the moment ratio by table lookup over alpha in
   [0.2, 10] step 0.001 (0.2 when the ratio is NaN, as BasicSR's argmin and MATLAB's min give).
4. Fit a Gaussian to the 36-d block features (nan-mean; covariance over nan-free rows) and return
   sqrt((mu_p - mu_d)^T ((S_p + S_d)/2)^-1 (mu_p - mu_d)).

* ``basicsr`` (default; :mod:`bfrbench.metrics.niqe_basicsr`): BasicSR's float32 arithmetic (float32 Y plane,
  float32 convolutions and resize); the numbers BasicSR, GFPGAN, VQFR and CodeFormer scripts print.
* ``matlab``: the same algorithm in float64 throughout (closer to MATLAB's double arithmetic); up to ~0.02
  (0.2%) from ``basicsr`` on real faces.
* ``pyiqa``: pyiqa 0.1.16's ``calculate_niqe`` (Y of YIQ, pyiqa's default colour space) with the same
  pristine parameters; differs from ``basicsr`` by a few percent per image (docs/metrics/niqe.md).

Bit stability: ``basicsr`` and ``matlab`` use no BLAS/LAPACK (scipy.ndimage convolutions, tap-ordered resize,
exact sums for the mean, covariance and quadratic form), so their bits do not depend on threads or CPU.
``pyiqa`` runs torch reductions and is rounded to 10 significant digits when stored.

The pristine parameters ship as package data (``data/niqe_pris_params.npz``, Apache-2.0, from the BasicSR
1.4.2 sdist; see ``data/NOTICE.md``).
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources
from typing import ClassVar

import numpy as np
from scipy.special import gamma as _gamma

from bfrbench.errors import ConfigError
from bfrbench.metrics._base import ImageItem, NoRefMetric, Shared
from bfrbench.metrics._stable import exact_nanmean_cov, spd_quad_form
from bfrbench.metrics.psnr_ssim import rgb_to_y

__all__ = ["NIQE", "niqe", "niqe_matlab", "niqe_features", "niqe_distance", "load_pristine_params",
           "matlab_resize_matrix", "PRISTINE_SHA256"]

PRISTINE_SHA256 = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"

_GAM = np.arange(0.2, 10.001, 0.001)
_R_GAM = _gamma(2.0 / _GAM) ** 2 / (_gamma(1.0 / _GAM) * _gamma(3.0 / _GAM))


@lru_cache(maxsize=1)
def load_pristine_params() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mu (36,), cov (36, 36), gaussian_window (7, 7)) float64 from the packaged, hash-checked npz."""
    import hashlib

    data = resources.files("bfrbench.metrics").joinpath("data/niqe_pris_params.npz").read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != PRISTINE_SHA256:
        raise ConfigError(f"bfrbench/metrics/data/niqe_pris_params.npz has SHA-256 {got}, expected {PRISTINE_SHA256}; "
                          "reinstall bfrbench")
    import io

    with np.load(io.BytesIO(data)) as d:
        return (np.asarray(d["mu_pris_param"], np.float64).ravel(), np.asarray(d["cov_pris_param"], np.float64),
                np.asarray(d["gaussian_window"], np.float64))


def _cubic(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    a2, a3 = a * a, a * a * a
    return ((1.5 * a3 - 2.5 * a2 + 1) * (a <= 1)
            + (-0.5 * a3 + 2.5 * a2 - 4 * a + 2) * ((a > 1) & (a <= 2)))


@lru_cache(maxsize=32)
def matlab_resize_matrix(n_in: int, scale: float) -> np.ndarray:
    """(n_out, n_in) float64 matrix of MATLAB ``imresize`` (bicubic, antialiasing, symmetric border).

    ``out = M_h @ img @ M_w.T`` reproduces MATLAB's separable resize of a 2-D image (used by tests; the
    metric itself resizes with :func:`bfrbench.metrics.niqe_basicsr.imresize_half`, which has no BLAS).
    """
    n_out = int(math.ceil(n_in * scale))
    kernel_width = 4.0 / scale if scale < 1 else 4.0
    x = np.arange(1, n_out + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    p = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(p)[None, :]  # 1-based source indices
    dist = u[:, None] - idx
    w = scale * _cubic(dist * scale) if scale < 1 else _cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    j = idx.astype(np.int64) - 1
    j = np.where(j < 0, -j - 1, j)
    j = np.where(j >= n_in, 2 * n_in - 1 - j, j)
    m = np.zeros((n_out, n_in), dtype=np.float64)
    np.add.at(m, (np.repeat(np.arange(n_out), p), j.ravel()), w.ravel())
    return m


def _aggd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised float64 AGGD fit of each row of x (n, m): alpha, beta_l, beta_r (betas nan where a side is empty)."""
    neg, pos = x < 0, x > 0
    sq = x * x
    with np.errstate(invalid="ignore", divide="ignore"):
        left_std = np.sqrt((sq * neg).sum(1) / neg.sum(1))
        right_std = np.sqrt((sq * pos).sum(1) / pos.sum(1))
        g = left_std / right_std
        rhat = np.mean(np.abs(x), axis=1) ** 2 / np.mean(sq, axis=1)
        rhatnorm = rhat * (g * g * g + 1) * (g + 1) / (g * g + 1) ** 2  # g*g*g: np.power may use SIMD libm
    pos_idx = np.argmin((_R_GAM[None, :] - rhatnorm[:, None]) ** 2, axis=1)  # all-nan row -> 0 -> alpha 0.2
    alpha = _GAM[pos_idx]
    k = np.sqrt(_gamma(1 / alpha) / _gamma(3 / alpha))
    return alpha, left_std * k, right_std * k


def _block_features(mscn: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """(n_blocks, 18) features of the blocks (column-major block order) of an MSCN plane sized a multiple of (bh, bw)."""
    h, w = mscn.shape
    blocks = mscn.reshape(h // bh, bh, w // bw, bw).transpose(2, 0, 1, 3).reshape(-1, bh, bw)
    n = blocks.shape[0]
    feats = np.empty((n, 18), dtype=np.float64)
    a, bl, br = _aggd(blocks.reshape(n, -1))
    feats[:, 0], feats[:, 1] = a, (bl + br) / 2
    for s, (dy, dx) in enumerate(((0, 1), (1, 0), (1, 1), (1, -1))):
        prod = blocks * np.roll(blocks, (dy, dx), axis=(1, 2))
        a, bl, br = _aggd(prod.reshape(n, -1))
        mean = (br - bl) * (_gamma(2 / a) / _gamma(1 / a))
        feats[:, 2 + 4 * s: 6 + 4 * s] = np.stack([a, mean, bl, br], axis=1)
    return feats


def niqe_features(y: np.ndarray, window: np.ndarray, block: int = 96) -> np.ndarray:
    """(n_blocks, 36) float64 NIQE features of a Y plane (float64, 0..255), both scales side by side."""
    from scipy.ndimage import convolve

    from bfrbench.metrics.niqe_basicsr import imresize_half

    h, w = y.shape
    nbh, nbw = h // block, w // block
    if nbh == 0 or nbw == 0:
        raise ConfigError(f"NIQE needs images of at least {block}x{block} pixels, got {w}x{h}")
    img = np.ascontiguousarray(y[: nbh * block, : nbw * block], dtype=np.float64)
    out = []
    for scale in (1, 2):
        mu = convolve(img, window, mode="nearest")
        var = convolve(img * img, window, mode="nearest") - mu * mu
        mscn = (img - mu) / (np.sqrt(np.abs(var)) + 1)
        out.append(_block_features(mscn, block // scale, block // scale))
        if scale == 1:
            img = imresize_half(img / 255.0) * 255.0
    return np.concatenate(out, axis=1)


def niqe_distance(feats: np.ndarray, mu_p: np.ndarray, cov_p: np.ndarray) -> float:
    """NIQE from (n_blocks, 36) features: Mahalanobis-like distance to the pristine Gaussian, exact sums.

    Returns nan when fewer than two blocks are nan-free.
    """
    mu_d, cov_d = exact_nanmean_cov(feats)
    if cov_d is None:
        return float("nan")
    q = spd_quad_form((cov_p + cov_d) / 2, mu_p - mu_d)
    return float(math.sqrt(q)) if q >= 0 else float("nan")


def niqe_matlab(image: np.ndarray, *, block: int = 96) -> float:
    """NIQE in float64 throughout (variant ``matlab``) of an RGB uint8 (H, W, 3) image (lower is better)."""
    mu_p, cov_p, window = load_pristine_params()
    y = np.round(rgb_to_y(image))
    return niqe_distance(niqe_features(y, window, block), mu_p, cov_p)


def niqe(image: np.ndarray, *, variant: str = "basicsr", block: int = 96) -> float:
    """NIQE of an RGB uint8 (H, W, 3) image: ``basicsr`` (float32, default) or ``matlab`` (float64).

    Returns nan when every block is degenerate (e.g. a flat image).
    """
    if variant == "basicsr":
        from bfrbench.metrics.niqe_basicsr import niqe_basicsr

        return niqe_basicsr(image, block=block)
    if variant == "matlab":
        return niqe_matlab(image, block=block)
    raise ConfigError(f"niqe: unknown variant {variant!r}; accepted: basicsr, matlab")


def niqe_pyiqa(images: list[np.ndarray], color_space: str = "yiq") -> np.ndarray:
    """pyiqa 0.1.16 ``calculate_niqe`` with the packaged pristine parameters; (N,) float64."""
    import torch
    from pyiqa.archs.niqe_arch import calculate_niqe

    mu_p, cov_p, _ = load_pristine_params()
    out = []
    for im in images:
        t = torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1)[None].to(torch.float64) / 255.0
        with torch.no_grad():
            v = calculate_niqe(t, 0, True, color_space, torch.from_numpy(mu_p), torch.from_numpy(cov_p))
        out.append(float(v.reshape(-1)[0]))
    return np.array(out, dtype=np.float64)


class NIQE(NoRefMetric):
    """Natural Image Quality Evaluator (no reference; lower is better)."""

    name: ClassVar[str] = "niqe"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float | None, float | None]] = (0.0, None)
    variants: ClassVar[dict[str, str]] = {
        "basicsr": "BasicSR calculate_niqe in float32 as BasicSR computes it: Y of YCbCr, 96x96 blocks, crop 0 (default)",
        "matlab": "the same algorithm in float64 throughout (closer to MATLAB niqe_release's double arithmetic)",
        "pyiqa": "pyiqa 0.1.16 default: Y of YIQ, same pristine parameters",
    }
    default_variant: ClassVar[str] = "basicsr"
    reference: ClassVar[str] = ("BasicSR calculate_niqe (XPixelGroup/BasicSR basicsr/metrics/niqe.py @8d56e3a), float32 for "
                                "'basicsr', float64 for 'matlab'; pyiqa 0.1.16 NIQE for 'pyiqa'")
    paper: ClassVar[str] = "Mittal, Soundararajan, Bovik, IEEE SPL 2013"
    version: ClassVar[str] = "2"  # v2: basicsr became float32 (float64 moved to matlab); NaN-ratio alpha = 0.2
    stored_digits: ClassVar[dict[str, int]] = {"pyiqa": 10}

    def score_images(self, images: list[ImageItem], shared: Shared) -> tuple[np.ndarray, list[str | None]]:
        def fn(ims: list[np.ndarray]) -> np.ndarray:
            if self.variant == "pyiqa":
                return niqe_pyiqa(ims)
            return np.array([niqe(im, variant=self.variant) for im in ims])

        vals = np.array([float(v) for v in shared.get(self.cache_id(), images, fn)], dtype=np.float64)
        errs = [None if np.isfinite(v) else "niqe: degenerate image (no usable block statistics)" for v in vals]
        return vals, errs

    def weight_hashes(self) -> dict[str, str | None]:
        return {"niqe_pris_params.npz": PRISTINE_SHA256}
