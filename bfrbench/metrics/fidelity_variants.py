"""PSNR/SSIM as specific papers' evaluation scripts compute them (variants of ``psnr`` / ``ssim``).

``vqfr`` - TencentARC/VQFR ``metric_paper/calculate_psnr_ssim.py`` (commit
239c77a78152473eca83270c40be083bb0ae0f4a), with its defaults (``--correct_mean_var`` is ``store_true`` with
``default=True``, so always on; RGB; crop 0):

1. Both images as float32 in [0, 1] (uint8 / 255 in float32).
2. GT per-channel mean and std (``np.mean`` / ``np.std`` of the float32 channel, population std).
3. For each channel of the restored image, twice: subtract its mean and add the GT mean; divide by its std and
   multiply by the GT std (all float32, no clipping or rounding).
4. PSNR and SSIM of ``gt * 255`` and ``restored * 255`` (float32 products) by ``vqfr/metrics/psnr_ssim.py``:
   cast to float64; PSNR = 20 log10(255 / sqrt(MSE)); SSIM = mean over channels of the MATLAB SSIM (11x11
   Gaussian, sigma 1.5, ``cv2.filter2D`` of the 2-D window, 'valid' region by cropping 5 pixels).
   Here the 2-D filter is ``scipy.ndimage.correlate`` (fixed summation order; OpenCV's may change with the
   CPU), equal to ``cv2.filter2D`` to ~1e-12.

``pyiqa`` (SSIM only) - pyiqa 0.1.16 ``create_metric("ssim")`` (``pyiqa/archs/ssim_arch.py``,
``default_model_configs.py``), what ReF-LDM's ``scripts/eval.py`` (ChiWeiHsiao/ref-ldm, commit
af6690c19fdc6421802fd7996510bcfef259bfd1) reports as SSIM: float32 RGB in [0, 1] -> Y of YIQ
(0.299 R + 0.587 G + 0.114 B, float32) * 255, rounded; float64 from there; 11x11 Gaussian (sigma 1.5, MATLAB
``fspecial``, weights rounded to float32), 'valid' region, C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2, the
contrast-structure map clipped at 0 (``relu``) before multiplying by the luminance map, mean of the map.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate

__all__ = ["vqfr_correct_mean_std", "psnr_vqfr", "ssim_vqfr", "ssim_pyiqa", "yiq_y_pyiqa"]

_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def vqfr_correct_mean_std(restored: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """VQFR's mean/std correction (twice per channel) of the restored image.

    Args:
        restored, gt: RGB uint8 (H, W, 3) of the same size.

    Returns:
        (restored_corrected, gt) float32 (H, W, 3) on the 0..1 scale (corrected values are not clipped).
    """
    g = np.asarray(gt).astype(np.float32) / np.float32(255.0)
    r = np.asarray(restored).astype(np.float32) / np.float32(255.0)
    means = [np.mean(g[:, :, c]) for c in range(3)]
    stds = [np.std(g[:, :, c]) for c in range(3)]
    for c in range(3):
        for _ in range(2):  # "correct twice"
            r[:, :, c] = r[:, :, c] - np.mean(r[:, :, c]) + means[c]
            r[:, :, c] = r[:, :, c] / np.std(r[:, :, c]) * stds[c]
    return r, g


def _gauss2d_vqfr() -> np.ndarray:
    import cv2

    k = cv2.getGaussianKernel(11, 1.5)
    return np.outer(k, k.T)


_W_VQFR = _gauss2d_vqfr()


def _ssim_plane(x: np.ndarray, z: np.ndarray, win: np.ndarray, *, relu_cs: bool = False) -> float:
    """Mean SSIM map of two float64 (H, W) planes on the 0..255 scale, 'valid' region of an 11x11 window."""
    def f(a: np.ndarray) -> np.ndarray:
        return correlate(a, win, mode="mirror")[5:-5, 5:-5]

    mu1, mu2 = f(x), f(z)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1, s2, s12 = f(x * x) - mu1_sq, f(z * z) - mu2_sq, f(x * z) - mu12
    if relu_cs:
        cs = np.maximum((2 * s12 + _C2) / (s1 + s2 + _C2), 0.0)
        return float(np.mean(((2 * mu12 + _C1) / (mu1_sq + mu2_sq + _C1)) * cs))
    return float(np.mean(((2 * mu12 + _C1) * (2 * s12 + _C2)) / ((mu1_sq + mu2_sq + _C1) * (s1 + s2 + _C2))))


def psnr_vqfr(restored: np.ndarray, gt: np.ndarray) -> float:
    """VQFR paper PSNR (dB) of RGB uint8 (H, W, 3) images after the mean/std correction (inf when equal)."""
    r, g = vqfr_correct_mean_std(restored, gt)
    a, b = (g * np.float32(255.0)).astype(np.float64), (r * np.float32(255.0)).astype(np.float64)
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return float("inf")
    return float(20.0 * np.log10(255.0 / np.sqrt(mse)))


def ssim_vqfr(restored: np.ndarray, gt: np.ndarray) -> float:
    """VQFR paper SSIM (mean over RGB channels) after the mean/std correction."""
    r, g = vqfr_correct_mean_std(restored, gt)
    a, b = (g * np.float32(255.0)).astype(np.float64), (r * np.float32(255.0)).astype(np.float64)
    return float(np.mean([_ssim_plane(np.ascontiguousarray(a[..., c]), np.ascontiguousarray(b[..., c]), _W_VQFR)
                          for c in range(3)]))


def _fspecial_float32(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)`` as pyiqa builds it, rounded to float32, returned as float64."""
    m = (size - 1.0) / 2.0
    y, x = np.ogrid[-m:m + 1, -m:m + 1]
    h = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    h = h / h.sum()
    return h.astype(np.float32).astype(np.float64)


_W_PYIQA = _fspecial_float32()


def yiq_y_pyiqa(img: np.ndarray) -> np.ndarray:
    """pyiqa's ``to_y_channel(x, 255, 'yiq')`` of an RGB uint8 (H, W, 3) image: float64 (H, W) integers 0..255."""
    x = np.asarray(img).astype(np.float32) / np.float32(255.0)
    y = x[..., 0] * np.float32(0.299) + x[..., 1] * np.float32(0.587) + x[..., 2] * np.float32(0.114)
    return np.round(y * np.float32(255.0)).astype(np.float64)


def ssim_pyiqa(restored: np.ndarray, gt: np.ndarray) -> float:
    """pyiqa 0.1.16 default ``ssim`` (Y of YIQ, relu on the contrast-structure map) of RGB uint8 images."""
    return _ssim_plane(yiq_y_pyiqa(restored), yiq_y_pyiqa(gt), _W_PYIQA, relu_cs=True)
