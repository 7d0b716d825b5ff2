"""Baselines that need no weights, so every leaderboard has honest reference rows offline.

* ``lq``: the input itself (identity).
* ``bicubic``: down-up resampling at the test set's scale: ``cv2.resize`` with ``INTER_CUBIC`` (Keys'
  cubic convolution, a = -0.75 in OpenCV) from 512 to ``round(512 / scale)``, then back to 512. It shows what
  the degradation's resolution loss alone costs.
* ``classical``: non-local-means denoising (Buades, Coll & Morel, "A non-local algorithm for image
  denoising", CVPR 2005; OpenCV's ``fastNlMeansDenoisingColored``, which filters luminance with ``h`` and
  the colour components with ``h_color`` in CIELAB) followed by unsharp masking
  (``out = x + amount * (x - GaussianBlur(x, sigma))``). Defaults follow the OpenCV tutorial settings
  (h = h_color = 10, template window 7, search window 21); sharpening uses sigma 1.5, amount 0.5.
  Parameters are documented in ``docs/methods/baselines.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bfrbench.errors import ConfigError, MethodError
from bfrbench.methods._base import FACE_SIZE, Restorer

__all__ = ["LQ", "Bicubic", "Classical", "bicubic_down_up", "nlm_unsharp"]


def _check_batch(lq: np.ndarray) -> None:
    if not isinstance(lq, np.ndarray) or lq.dtype != np.uint8 or lq.ndim != 4 or lq.shape[1:] != (FACE_SIZE, FACE_SIZE, 3):
        desc = f"{lq.dtype} {lq.shape}" if isinstance(lq, np.ndarray) else type(lq).__name__
        raise MethodError(f"expected a (B, {FACE_SIZE}, {FACE_SIZE}, 3) uint8 batch, got {desc}")


class LQ(Restorer):
    """The LQ input itself: the floor every method should beat."""

    name = "lq"
    paper = "identity baseline"
    license = "Apache-2.0"
    default_batch_size = 16

    def restore(self, lq: np.ndarray, *, refs: Any = None, seeds: Any = None, context: Any = None) -> np.ndarray:
        _check_batch(lq)
        return lq.copy()


def bicubic_down_up(img: np.ndarray, scale: float) -> np.ndarray:
    """Bicubic down-sampling by ``scale`` then bicubic up-sampling back to the input size.

    Args:
        img: (H, W, 3) uint8.
        scale: down-sampling factor > 0 (e.g. 4 -> 512 to 128 and back).

    Returns:
        (H, W, 3) uint8.
    """
    import cv2

    if not scale > 0:
        raise ConfigError(f"scale must be > 0, got {scale!r}")
    h, w = img.shape[:2]
    small = (max(1, int(round(w / scale))), max(1, int(round(h / scale))))
    down = cv2.resize(img, small, interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(cv2.resize(down, (w, h), interpolation=cv2.INTER_CUBIC))


class Bicubic(Restorer):
    """Bicubic down-up at the test set's ``scale`` (from the manifest row; the ``scale`` option overrides).

    Args:
        scale: down-sampling factor used for every image; None (default) reads ``scale`` per image from the
            test-set manifest and fails the image with a clear reason when the manifest has none.
    """

    name = "bicubic"
    paper = "bicubic interpolation baseline (Keys, IEEE TASSP 1981)"
    license = "Apache-2.0"
    default_batch_size = 16

    def __init__(self, *, scale: float | None = None, device: str = "cpu", dtype: str = "fp32",
                 batch_size: int = 1) -> None:
        super().__init__(device=device, dtype=dtype, batch_size=batch_size)
        if scale is not None and not (isinstance(scale, (int, float)) and scale > 0):
            raise ConfigError(f"bicubic: scale must be a number > 0, got {scale!r}")
        self.scale = None if scale is None else float(scale)

    def _config(self) -> dict[str, Any]:
        return {"scale": self.scale}

    def _scale_for(self, ctx: dict[str, Any] | None) -> float:
        if self.scale is not None:
            return self.scale
        value = (ctx or {}).get("scale")
        if value is None or (isinstance(value, float) and np.isnan(value)):
            item = (ctx or {}).get("id", "?")
            raise MethodError(f"bicubic needs the down-sampling factor but the manifest row for {item!r} has no "
                              "'scale' (the preset did not draw one); pass `options` scale=4 to fix it")
        return float(value)

    def restore(self, lq: np.ndarray, *, refs: Any = None, seeds: Any = None,
                context: Sequence[dict[str, Any]] | None = None) -> np.ndarray:
        _check_batch(lq)
        ctxs = list(context) if context is not None else [{}] * len(lq)
        return np.stack([bicubic_down_up(img, self._scale_for(c)) for img, c in zip(lq, ctxs)])


def nlm_unsharp(img: np.ndarray, *, h: float = 10.0, h_color: float = 10.0, template_window: int = 7,
                search_window: int = 21, sharpen_sigma: float = 1.5, sharpen_amount: float = 0.5) -> np.ndarray:
    """Non-local-means denoising followed by unsharp masking.

    Args:
        img: (H, W, 3) uint8 RGB.
        h, h_color: NLM filter strengths for luminance and colour (OpenCV units, 0-255 scale).
        template_window, search_window: odd patch and search window sizes in pixels.
        sharpen_sigma: Gaussian sigma (pixels) of the unsharp mask; sharpen_amount: its gain (0 disables).

    Returns:
        (H, W, 3) uint8 RGB.
    """
    import cv2

    bgr = np.ascontiguousarray(img[..., ::-1])
    den = cv2.fastNlMeansDenoisingColored(bgr, None, float(h), float(h_color), int(template_window), int(search_window))
    if sharpen_amount > 0:
        x = den.astype(np.float32)
        blur = cv2.GaussianBlur(x, (0, 0), sigmaX=float(sharpen_sigma), sigmaY=float(sharpen_sigma))
        den = np.clip(np.rint(x + sharpen_amount * (x - blur)), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(den[..., ::-1])


class Classical(Restorer):
    """Non-local-means denoising + unsharp masking (see the module docstring for sources and defaults)."""

    name = "classical"
    paper = "Buades, Coll & Morel, A non-local algorithm for image denoising, CVPR 2005 (+ unsharp masking)"
    code_url = "https://docs.opencv.org/4.x/d1/d79/group__photo__denoise.html"
    license = "Apache-2.0"
    default_batch_size = 4

    def __init__(self, *, h: float = 10.0, h_color: float = 10.0, template_window: int = 7, search_window: int = 21,
                 sharpen_sigma: float = 1.5, sharpen_amount: float = 0.5, device: str = "cpu", dtype: str = "fp32",
                 batch_size: int = 1) -> None:
        super().__init__(device=device, dtype=dtype, batch_size=batch_size)
        for key, val in (("template_window", template_window), ("search_window", search_window)):
            if not isinstance(val, int) or val < 1 or val % 2 == 0:
                raise ConfigError(f"classical: {key} must be an odd integer >= 1, got {val!r}")
        for key, fval in (("h", h), ("h_color", h_color), ("sharpen_sigma", sharpen_sigma)):
            if not fval > 0:
                raise ConfigError(f"classical: {key} must be > 0, got {fval!r}")
        if sharpen_amount < 0:
            raise ConfigError(f"classical: sharpen_amount must be >= 0, got {sharpen_amount!r}")
        self.params: dict[str, Any] = {"h": float(h), "h_color": float(h_color), "template_window": template_window,
                       "search_window": search_window, "sharpen_sigma": float(sharpen_sigma),
                       "sharpen_amount": float(sharpen_amount)}

    def _config(self) -> dict[str, Any]:
        return dict(self.params)

    def restore(self, lq: np.ndarray, *, refs: Any = None, seeds: Any = None, context: Any = None) -> np.ndarray:
        _check_batch(lq)
        return np.stack([nlm_unsharp(img, **self.params) for img in lq])
