"""NIQE in float32 exactly as BasicSR computes it (variant ``niqe:basicsr``).

Source: XPixelGroup/BasicSR ``basicsr/metrics/niqe.py`` (``calculate_niqe``, ``niqe``, ``estimate_aggd_param``,
``compute_feature``), ``basicsr/metrics/metric_util.py`` (``to_y_channel``), ``basicsr/utils/color_util.py``
(``bgr2ycbcr``) and ``basicsr/utils/matlab_functions.py`` (``imresize``), commit
8d56e3a045f9fb3e1d8872f92ee4a4f07f886b0a (same arithmetic in BasicSR 1.4.2 and TencentARC/VQFR's copy
``vqfr/metrics/niqe.py``, commit 239c77a78152473eca83270c40be083bb0ae0f4a).

Dtypes, step by step (what makes these numbers BasicSR's rather than MATLAB's float64 ones):

1. Y plane: uint8 -> float32 / 255 (float32); Y = (24.966 B + 128.553 G + 65.481 R) + 16 in float64, / 255,
   cast to float32, * 255 in float32, rounded (float32).
2. MSCN at each scale: ``scipy.ndimage.convolve(y, window, mode="nearest")`` with a float32 input, so the
   output is float32 (scipy accumulates each output in double and rounds once);
   sigma = sqrt(|conv(y^2) - mu^2|) and (y - mu) / (sigma + 1), all float32.
3. Per block (column-major block order, as BasicSR loops ``idx_w`` outside ``idx_h``): AGGD fit in float32
   (``np.mean`` of the float32 negatives' / positives' squares, numpy's pairwise float32 sum); the
   shape-ratio table in float64 built from ``1/gam`` as BasicSR builds it; beta in float64 from the float32 std.
4. Scale 2: MATLAB bicubic ``imresize(y / 255, 0.5)`` with antialiasing in float32. For scale 0.5 the
   taps are exact dyadic numbers (-0.01171875, -0.03515625, 0.11328125, 0.43359375, mirrored) so the weights
   are order independent; each output is the float32 sum of 8 float32 products, accumulated here in tap
   order (rows first, then columns). BasicSR does the same sums with ``torch.mv`` (BLAS ``sgemv``), whose
   order varies with the BLAS build and threads: its own last bit is not machine stable, ours is.
5. Mean and covariance of the 36-d block features, then ``sqrt(d^T ((S_p + S_d) / 2)^-1 d)``, in float64 with
   exact sums (:mod:`bfrbench.metrics._stable`) instead of BLAS.

Parity with a plain restatement of BasicSR's code (tests/metrics/test_niqe_basicsr_parity.py) is within 1e-6.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.ndimage import convolve
from scipy.special import gamma

from bfrbench.errors import ConfigError

__all__ = ["niqe_basicsr", "y_plane_basicsr", "imresize_half", "resize_taps", "block_features_basicsr"]

_GAM = np.arange(0.2, 10.001, 0.001)
_GAM_REC = np.reciprocal(_GAM)
#: the AGGD shape-ratio table as BasicSR builds it (from 1/gam, float64)
R_GAM_BASICSR = np.square(gamma(_GAM_REC * 2)) / (gamma(_GAM_REC) * gamma(_GAM_REC * 3))


def y_plane_basicsr(image: np.ndarray) -> np.ndarray:
    """BasicSR ``to_y_channel`` + ``round`` of an RGB uint8 (H, W, 3) image -> float32 (H, W) in 0..255."""
    x = np.asarray(image).astype(np.float32) / np.float32(255.0)
    r, g, b = (x[..., c].astype(np.float64) for c in range(3))
    y = b * 24.966 + g * 128.553 + r * 65.481 + 16.0
    y32 = (y / 255.0).astype(np.float32) * np.float32(255.0)
    return np.round(y32)


@lru_cache(maxsize=32)
def resize_taps(n_in: int, scale: float = 0.5, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """MATLAB bicubic antialiased taps: (indices (n_out, p) int64, weights (n_out, p) of ``dtype``).

    The weights are computed in ``dtype`` as BasicSR computes them in torch float32 (float64 for the MATLAB
    variant); their row sums are accumulated in tap order.

    Indices are 0-based into the input with symmetric (edge-repeating) reflection; taps whose weight is 0 in
    every row at the first or last position are dropped, as BasicSR's ``calculate_weights_indices`` does.
    """
    f = np.dtype(dtype).type
    n_out = int(math.ceil(n_in * scale))
    kw = 4.0 / scale if scale < 1 else 4.0
    x = np.arange(1, n_out + 1, dtype=f)
    u = x / f(scale) + f(0.5 * (1 - 1 / scale))
    left = np.floor(u - f(kw / 2))
    p = int(math.ceil(kw)) + 2
    idx = left[:, None] + np.arange(p, dtype=f)[None, :]
    dist = u[:, None] - idx
    t = np.abs(dist * f(scale)) if scale < 1 else np.abs(dist)
    t2, t3 = t * t, t * t * t
    one, two = (t <= 1).astype(f), ((t > 1) & (t <= 2)).astype(f)
    cub = (f(1.5) * t3 - f(2.5) * t2 + f(1)) * one + (f(-0.5) * t3 + f(2.5) * t2 - f(4) * t + f(2)) * two
    w = f(scale) * cub if scale < 1 else cub
    wsum = np.zeros(n_out, f)
    for k in range(p):
        wsum = wsum + w[:, k]
    w = w / wsum[:, None]
    zeros = (w == 0).sum(axis=0)
    lo, hi = (1 if zeros[0] else 0), (p - 1 if zeros[-1] else p)
    idx, w = idx[:, lo:hi], w[:, lo:hi]
    j = idx.astype(np.int64) - 1
    j = np.where(j < 0, -j - 1, j)
    j = np.where(j >= n_in, 2 * n_in - 1 - j, j)
    return j, np.ascontiguousarray(w, f)


def _resize_axis0(img: np.ndarray, n_in: int) -> np.ndarray:
    idx, w = resize_taps(n_in, 0.5, img.dtype.name)
    acc = np.zeros((idx.shape[0], img.shape[1]), img.dtype)
    for k in range(idx.shape[1]):
        acc = acc + img[idx[:, k], :] * w[:, k:k + 1]
    return acc


def imresize_half(img: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize(img, 0.5)`` (bicubic, antialiasing) of a float32 or float64 (H, W) plane, same dtype.

    Each output is the sum of its tap products accumulated in tap order, first along rows then along columns
    (no BLAS), so the bits do not depend on threads or CPU.
    """
    img = np.asarray(img)
    if img.dtype not in (np.float32, np.float64):
        raise ConfigError(f"imresize_half: expected a float32 or float64 plane, got {img.dtype}")
    rows = _resize_axis0(img, img.shape[0])
    return np.ascontiguousarray(_resize_axis0(np.ascontiguousarray(rows.T), img.shape[1]).T)


def _aggd32(block: np.ndarray) -> tuple[float, float, float]:
    """AGGD fit of a flattened float32 block: (alpha, beta_l, beta_r) with float32 moments (nan if a side is empty)."""
    neg, pos = block[block < 0], block[block > 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        left_std = np.sqrt(np.mean(neg ** 2)) if neg.size else np.float32(np.nan)
        right_std = np.sqrt(np.mean(pos ** 2)) if pos.size else np.float32(np.nan)
        gammahat = left_std / right_std
        rhat = np.mean(np.abs(block)) ** 2 / np.mean(block ** 2)
        rhatnorm = (rhat * (gammahat ** 3 + 1) * (gammahat + 1)) / ((gammahat ** 2 + 1) ** 2)
    # an all-NaN argmin returns 0, so a block with an empty side gets alpha = 0.2 and NaN betas, as in BasicSR
    # (and MATLAB, whose min() skips NaN and returns index 1)
    alpha = float(_GAM[np.argmin((R_GAM_BASICSR - rhatnorm) ** 2)])
    k = math.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, float(np.float64(left_std) * k), float(np.float64(right_std) * k)


def block_features_basicsr(block: np.ndarray) -> list[float]:
    """18 NIQE features of one float32 MSCN block (BasicSR ``compute_feature``)."""
    a, bl, br = _aggd32(block.ravel())
    out = [a, (bl + br) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        prod = block * np.roll(block, shift, axis=(0, 1))
        a, bl, br = _aggd32(prod.ravel())
        mean = (br - bl) * (gamma(2 / a) / gamma(1 / a))
        out.extend([a, mean, bl, br])
    return out


def _mscn32(img: np.ndarray, window: np.ndarray) -> np.ndarray:
    mu = convolve(img, window, mode="nearest")
    sigma = np.sqrt(np.abs(convolve(np.square(img), window, mode="nearest") - np.square(mu)))
    return (img - mu) / (sigma + np.float32(1))


def niqe_features_basicsr(y: np.ndarray, window: np.ndarray, block: int = 96) -> np.ndarray:
    """(n_blocks, 36) float64 features of a float32 Y plane (BasicSR block order: column-major)."""
    h, w = y.shape
    nbh, nbw = h // block, w // block
    if nbh == 0 or nbw == 0:
        raise ConfigError(f"NIQE needs images of at least {block}x{block} pixels, got {w}x{h}")
    img = np.ascontiguousarray(y[: nbh * block, : nbw * block], np.float32)
    scales = []
    for scale in (1, 2):
        mscn = _mscn32(img, window)
        bs = block // scale
        feats = [block_features_basicsr(mscn[ih * bs:(ih + 1) * bs, iw * bs:(iw + 1) * bs])
                 for iw in range(nbw) for ih in range(nbh)]
        scales.append(np.array(feats, np.float64))
        if scale == 1:
            img = imresize_half(img / np.float32(255.0)) * np.float32(255.0)
    return np.concatenate(scales, axis=1)


def niqe_basicsr(image: np.ndarray, *, block: int = 96) -> float:
    """BasicSR ``calculate_niqe(img, crop_border=0, convert_to='y')`` of an RGB uint8 (H, W, 3) image.

    Returns nan when fewer than two blocks have usable statistics (e.g. a flat image).
    """
    from bfrbench.metrics.niqe import load_pristine_params, niqe_distance

    mu_p, cov_p, window = load_pristine_params()
    feats = niqe_features_basicsr(y_plane_basicsr(image), window, block)
    return niqe_distance(feats, mu_p, cov_p)
