"""PSNR and SSIM as defined by BasicSR 1.4.2 (``basicsr/metrics/psnr_ssim.py``), in float64.

* PSNR (dB) = 10 log10(255^2 / MSE), MSE over all pixels (and channels) of the cropped images; identical
  images give +inf, which the engine reports as a non-finite value.
* SSIM (Wang et al., IEEE TIP 2004) with the MATLAB settings BasicSR uses: Gaussian window 11x11,
  sigma 1.5 (``cv2.getGaussianKernel``), C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2, statistics over the
  'valid' region (5 pixels dropped per side), mean of the SSIM map; RGB = mean over the three channels.
* ``y`` variants use BT.601 luma as MATLAB ``rgb2ycbcr``: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255
  on 0..255 values (BasicSR ``to_y_channel``).
* ``crop_border``: variants ``rgb-crop4`` / ``y-crop4`` drop 4 pixels on each side first (BasicSR's
  ``crop_border`` argument); the plain variants crop nothing.

Script variants (``psnr:vqfr``, ``ssim:vqfr``, ``ssim:pyiqa``) live in :mod:`bfrbench.metrics.fidelity_variants`.

Parity (tests/metrics/test_psnr_ssim.py): scikit-image ``peak_signal_noise_ratio`` /
``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`` and pyiqa ``psnr``,
``psnry``, ``ssim``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar, cast

import cv2
import numpy as np
from scipy.ndimage import correlate1d

from bfrbench.errors import ConfigError
from bfrbench.metrics._base import ImageItem, PairMetric, Shared

__all__ = ["PSNR", "SSIM", "psnr", "ssim", "rgb_to_y"]

_VARIANT_RE = re.compile(r"^(rgb|y)(?:-crop(\d+))?$")


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 (MATLAB ``rgb2ycbcr``) luma of RGB 0..255 images.

    Args:
        img: (..., 3) RGB, uint8 or float, range [0, 255].

    Returns:
        float64 (...,) Y in [16, 235].
    """
    x = np.asarray(img, dtype=np.float64)
    return 16.0 + (x[..., 0] * 65.481 + x[..., 1] * 128.553 + x[..., 2] * 24.966) / 255.0


def _prepare(img: np.ndarray, y: bool, crop: int) -> np.ndarray:
    x = rgb_to_y(img)[..., None] if y else np.asarray(img, dtype=np.float64)
    if crop:
        x = x[crop:-crop, crop:-crop]
    return x


def psnr(a: np.ndarray, b: np.ndarray, *, y: bool = False, crop_border: int = 0) -> float:
    """PSNR in dB between two RGB uint8 (H, W, 3) images of the same size (inf when identical)."""
    x, z = _prepare(a, y, crop_border), _prepare(b, y, crop_border)
    mse = float(np.mean((x - z) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(255.0 ** 2 / mse))


_G = cv2.getGaussianKernel(11, 1.5)  # (11, 1) float64, sums to 1
_G1 = np.ascontiguousarray(_G[:, 0])
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def _ssim_channel(x: np.ndarray, z: np.ndarray) -> float:
    """SSIM of two float64 (H, W) planes on the 0..255 scale (valid region, MATLAB constants)."""

    def f(a: np.ndarray) -> np.ndarray:
        # separable Gaussian, 'valid' region; scipy.ndimage sums each output in a fixed order in plain C (no
        # SIMD-dispatched FMA as in OpenCV's filters), so the bits do not depend on the CPU or threads
        rows = correlate1d(a, _G1, axis=1, mode="mirror")
        return correlate1d(rows, _G1, axis=0, mode="mirror")[5:-5, 5:-5]

    mu1, mu2 = f(x), f(z)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1 = f(x * x) - mu1_sq
    s2 = f(z * z) - mu2_sq
    s12 = f(x * z) - mu12
    num = (2 * mu12 + _C1) * (2 * s12 + _C2)
    den = (mu1_sq + mu2_sq + _C1) * (s1 + s2 + _C2)
    return float(np.mean(num / den))


def ssim(a: np.ndarray, b: np.ndarray, *, y: bool = False, crop_border: int = 0) -> float:
    """SSIM between two RGB uint8 (H, W, 3) images (mean over channels, or on Y). Range [-1, 1]."""
    x, z = _prepare(a, y, crop_border), _prepare(b, y, crop_border)
    if x.shape[0] < 11 or x.shape[1] < 11:
        raise ConfigError(f"SSIM needs images of at least 11x11 pixels after cropping, got {x.shape[1]}x{x.shape[0]}")
    return float(np.mean([_ssim_channel(np.ascontiguousarray(x[..., c]), np.ascontiguousarray(z[..., c]))
                          for c in range(x.shape[2])]))


class _Fidelity(PairMetric):
    variants: ClassVar[dict[str, str]] = {
        "rgb": "on the RGB channels (default); add -cropN (e.g. rgb-crop4) to drop N border pixels",
        "y": "on BT.601 Y (MATLAB rgb2ycbcr) as BasicSR test_y_channel=True; y-cropN drops N border pixels",
    }
    default_variant: ClassVar[str] = "rgb"
    _fn = staticmethod(psnr)
    #: named variants computed as a paper's script does: variant -> "module:function(restored, hq) -> float"
    _script_variants: ClassVar[dict[str, str]] = {}

    @classmethod
    def check_variant(cls, variant: str) -> None:
        if variant not in cls._script_variants and not _VARIANT_RE.match(variant):
            extra = "".join(f", {v}" for v in cls._script_variants)
            raise ConfigError(f"metric {cls.name!r} has no variant {variant!r}; accepted: rgb, y, rgb-cropN, y-cropN{extra}")

    def __init__(self, variant: str | None = None, *, device: str = "cpu", batch_size: int = 8) -> None:
        super().__init__(variant, device=device, batch_size=batch_size)
        m = _VARIANT_RE.match(self.variant)
        self.y = bool(m and m.group(1) == "y")
        self.crop_border = int(m.group(2) or 0) if m else 0

    def _script_fn(self) -> Callable[[np.ndarray, np.ndarray], float] | None:
        target = self._script_variants.get(self.variant)
        if target is None:
            return None
        import importlib

        mod, _, attr = target.partition(":")
        fn: Callable[[np.ndarray, np.ndarray], float] = getattr(importlib.import_module(mod), attr)
        return fn

    def score_pairs(self, restored: list[ImageItem], hq: list[ImageItem], shared: Shared) -> tuple[np.ndarray, list[str | None]]:
        fn = type(self)._fn
        script = self._script_fn()

        def compute(pairs_r: list[np.ndarray], pairs_h: list[np.ndarray]) -> np.ndarray:
            if script is not None:
                return np.array([script(a, b) for a, b in zip(pairs_r, pairs_h)])
            return np.array([fn(a, b, y=self.y, crop_border=self.crop_border) for a, b in zip(pairs_r, pairs_h)])

        vals = _cached_pairs(shared, self.cache_id(), restored, hq, compute)
        return vals, [None] * len(vals)


def _cached_pairs(shared: Shared, cache_id: str, restored: list[ImageItem], hq: list[ImageItem],
                  fn: Callable[[list[np.ndarray], list[np.ndarray]], np.ndarray]) -> np.ndarray:
    """Per-pair values, cached under the pair key ``sha256(restored)-sha256(hq)``."""
    keys = [f"{r.sha256}-{h.sha256}" for r, h in zip(restored, hq)]
    vals = shared.get_keyed(cache_id, keys, lambda idx: fn(cast(list[np.ndarray], [restored[i].image for i in idx]),
                                                          cast(list[np.ndarray], [hq[i].image for i in idx])))
    return np.array([float(v) for v in vals], dtype=np.float64)


class PSNR(_Fidelity):
    """Peak signal-to-noise ratio (dB), BasicSR definition, float64."""

    name: ClassVar[str] = "psnr"
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float | None, float | None]] = (0.0, None)
    reference: ClassVar[str] = ("BasicSR 1.4.2 calculate_psnr (test_y_channel for y); = skimage peak_signal_noise_ratio; "
                                "vqfr: TencentARC/VQFR metric_paper/calculate_psnr_ssim.py @239c77a")
    paper: ClassVar[str] = "PSNR; BasicSR (Wang et al., github.com/XPixelGroup/BasicSR)"
    variants: ClassVar[dict[str, str]] = {
        **_Fidelity.variants,
        "vqfr": "VQFR metric_paper/calculate_psnr_ssim.py: RGB after VQFR's per-channel mean/std correction (twice)",
    }
    _script_variants: ClassVar[dict[str, str]] = {"vqfr": "bfrbench.metrics.fidelity_variants:psnr_vqfr"}
    _fn = staticmethod(psnr)


class SSIM(_Fidelity):
    """Structural similarity, MATLAB Gaussian 11/1.5 as BasicSR calculate_ssim."""

    name: ClassVar[str] = "ssim"
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float | None, float | None]] = (-1.0, 1.0)
    reference: ClassVar[str] = ("BasicSR 1.4.2 calculate_ssim (MATLAB ssim_index, Gaussian 11, sigma 1.5); vqfr: TencentARC/VQFR "
                                "metric_paper/calculate_psnr_ssim.py @239c77a; pyiqa: pyiqa 0.1.16 create_metric('ssim')")
    paper: ClassVar[str] = "Wang, Bovik, Sheikh, Simoncelli, IEEE TIP 2004"
    version: ClassVar[str] = "2"  # v2: scipy.ndimage filters (bit-stable) instead of OpenCV's
    variants: ClassVar[dict[str, str]] = {
        **_Fidelity.variants,
        "vqfr": "VQFR metric_paper/calculate_psnr_ssim.py: RGB after VQFR's per-channel mean/std correction (twice)",
        "pyiqa": "pyiqa 0.1.16 create_metric('ssim'): Y of YIQ, relu'd contrast-structure map (ReF-LDM's SSIM)",
    }
    _script_variants: ClassVar[dict[str, str]] = {"vqfr": "bfrbench.metrics.fidelity_variants:ssim_vqfr",
                                                  "pyiqa": "bfrbench.metrics.fidelity_variants:ssim_pyiqa"}
    _fn = staticmethod(ssim)
