"""NIQE (Mittal, Soundararajan & Bovik, IEEE SPL 2013) as computed by BasicSR 1.4.2 / the official MATLAB code.

Variant ``basicsr`` (default) follows ``basicsr/metrics/niqe.py`` (which matches MATLAB's ``niqe_release``):

1. Y = round(BT.601 Y of YCbCr) on 0..255 (BasicSR ``to_y_channel``), crop border 0.
2. Crop to a multiple of the 96x96 block size.
3. At two scales (full, then MATLAB ``imresize(., 0.5)`` bicubic with antialiasing): MSCN coefficients
   (x - mu) / (sigma + 1) with the 7x7 Gaussian window of the pristine model (replicate border); per
   block of 96/scale pixels, 18 features: an AGGD fit (alpha, mean of left/right beta) of the MSCN block
   and, for the 4 circular shifts (0,1), (1,0), (1,1), (1,-1) of the block, AGGD fits of the products
   (alpha, mean, beta_l, beta_r). AGGD shape from the moment ratio by table lookup over alpha in
   [0.2, 10] step 0.001.
4. Fit a Gaussian to the 36-d block features (nan-mean; covariance over nan-free rows) and return
   sqrt((mu_p - mu_d)^T pinv((S_p + S_d)/2) (mu_p - mu_d)).

The pristine parameters ship as package data (``data/niqe_pris_params.npz``, Apache-2.0, from the BasicSR
1.4.2 sdist; see ``data/NOTICE.md``). This implementation vectorises the per-block loops and replaces the
MATLAB resize by its exact weight matrices (float64 throughout).

Variant ``pyiqa`` calls pyiqa 0.1.16's ``calculate_niqe`` (Y of YIQ, pyiqa's default colour space) with
the same pristine parameters; it differs from ``basicsr`` by a few percent per image (docs/metrics/niqe.md).
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources
from typing import ClassVar

import cv2
import numpy as np
from scipy.special import gamma as _gamma

from bfrbench.errors import ConfigError
from bfrbench.metrics._base import ImageItem, NoRefMetric, Shared
from bfrbench.metrics.psnr_ssim import rgb_to_y

__all__ = ["NIQE", "niqe", "niqe_features", "load_pristine_params", "matlab_resize_matrix", "PRISTINE_SHA256"]

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

    ``out = M_h @ img @ M_w.T`` reproduces MATLAB's separable resize of a 2-D image.
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
    """Vectorised AGGD fit of each row of x (n, m): alpha, beta_l, beta_r (nan where a side is empty)."""
    neg, pos = x < 0, x > 0
    sq = x * x
    with np.errstate(invalid="ignore", divide="ignore"):
        left_std = np.sqrt((sq * neg).sum(1) / neg.sum(1))
        right_std = np.sqrt((sq * pos).sum(1) / pos.sum(1))
        gammahat = left_std / right_std
        rhat = np.mean(np.abs(x), axis=1) ** 2 / np.mean(sq, axis=1)
        rhatnorm = rhat * (gammahat ** 3 + 1) * (gammahat + 1) / (gammahat ** 2 + 1) ** 2
    pos_idx = np.argmin((_R_GAM[None, :] - rhatnorm[:, None]) ** 2, axis=1)
    alpha = _GAM[pos_idx]
    # argmin over an all-nan row returns 0 in numpy; keep nan as BasicSR's features would be
    alpha = np.where(np.isnan(rhatnorm), np.nan, alpha)
    with np.errstate(invalid="ignore"):
        k = np.sqrt(_gamma(1 / alpha) / _gamma(3 / alpha))
    return alpha, left_std * k, right_std * k


def _block_features(mscn: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """(n_blocks, 18) features of the blocks of an MSCN plane whose size is a multiple of (bh, bw)."""
    h, w = mscn.shape
    blocks = mscn.reshape(h // bh, bh, w // bw, bw).transpose(0, 2, 1, 3).reshape(-1, bh, bw)
    n = blocks.shape[0]
    feats = np.empty((n, 18), dtype=np.float64)
    a, bl, br = _aggd(blocks.reshape(n, -1))
    feats[:, 0], feats[:, 1] = a, (bl + br) / 2
    for s, (dy, dx) in enumerate(((0, 1), (1, 0), (1, 1), (1, -1))):
        prod = blocks * np.roll(blocks, (dy, dx), axis=(1, 2))
        a, bl, br = _aggd(prod.reshape(n, -1))
        with np.errstate(invalid="ignore"):
            mean = (br - bl) * (_gamma(2 / a) / _gamma(1 / a))
        feats[:, 2 + 4 * s: 6 + 4 * s] = np.stack([a, mean, bl, br], axis=1)
    return feats


def niqe_features(y: np.ndarray, window: np.ndarray, block: int = 96) -> np.ndarray:
    """(n_blocks, 36) NIQE features of a Y plane (float64, 0..255), both scales side by side."""
    h, w = y.shape
    nbh, nbw = h // block, w // block
    if nbh == 0 or nbw == 0:
        raise ConfigError(f"NIQE needs images of at least {block}x{block} pixels, got {w}x{h}")
    img = np.ascontiguousarray(y[: nbh * block, : nbw * block], dtype=np.float64)
    kernel = np.ascontiguousarray(window[::-1, ::-1])  # filter2D correlates; flip for convolution
    out = []
    for scale in (1, 2):
        mu = cv2.filter2D(img, cv2.CV_64F, kernel, borderType=cv2.BORDER_REPLICATE)
        var = cv2.filter2D(img * img, cv2.CV_64F, kernel, borderType=cv2.BORDER_REPLICATE) - mu * mu
        mscn = (img - mu) / (np.sqrt(np.abs(var)) + 1)
        out.append(_block_features(mscn, block // scale, block // scale))
        if scale == 1:
            img = matlab_resize_matrix(img.shape[0], 0.5) @ (img / 255.0) @ matlab_resize_matrix(img.shape[1], 0.5).T
            img = img * 255.0
    return np.concatenate(out, axis=1)


def niqe(image: np.ndarray, *, block: int = 96) -> float:
    """BasicSR/MATLAB NIQE of an RGB uint8 (H, W, 3) image (lower is better; >= 0).

    Returns nan when every block is degenerate (e.g. a flat image).
    """
    mu_p, cov_p, window = load_pristine_params()
    y = np.round(rgb_to_y(image))
    feats = niqe_features(y, window, block)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan columns of a flat image
        mu_d = np.nanmean(feats, axis=0)
    ok = feats[~np.isnan(feats).any(axis=1)]
    if ok.shape[0] < 2:
        return float("nan")
    cov_d = np.cov(ok, rowvar=False)
    d = mu_p - mu_d
    q = float(d @ np.linalg.pinv((cov_p + cov_d) / 2) @ d)
    return float(np.sqrt(q)) if q >= 0 else float("nan")


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
        "basicsr": "BasicSR/MATLAB: Y of YCbCr, 96x96 blocks, crop 0, official pristine parameters (default)",
        "pyiqa": "pyiqa 0.1.16 default: Y of YIQ, same pristine parameters",
    }
    default_variant: ClassVar[str] = "basicsr"
    reference: ClassVar[str] = "BasicSR 1.4.2 calculate_niqe (= MATLAB niqe_release); pyiqa 0.1.16 NIQE for 'pyiqa'"
    paper: ClassVar[str] = "Mittal, Soundararajan, Bovik, IEEE SPL 2013"

    def score_images(self, images: list[ImageItem], shared: Shared) -> tuple[np.ndarray, list[str | None]]:
        if self.variant == "basicsr":
            fn = lambda ims: np.array([niqe(im) for im in ims])  # noqa: E731
        else:
            fn = niqe_pyiqa
        vals = np.array([float(v) for v in shared.get(self.cache_id(), images, fn)], dtype=np.float64)
        errs = [None if np.isfinite(v) else "niqe: degenerate image (no usable block statistics)" for v in vals]
        return vals, errs

    def weight_hashes(self) -> dict[str, str | None]:
        return {"niqe_pris_params.npz": PRISTINE_SHA256}
