"""Resizing: the downsampling and the resize back of the GFPGAN / BasicSR pipeline.

* ``downsample(img, scale)``: ``cv2.resize(img, (int(w // scale), int(h // scale)), INTER_LINEAR)``
  exactly as GFPGAN's ``FFHQDegradationDataset`` (``//`` on floats is floor division, so a 512 image with
  scale 3.7 becomes 138x138). ``scale`` < 1 enlarges (GFPGAN's range starts at 0.8).
* ``resize_to(img, size)``: ``cv2.resize(img, (size, size), INTER_LINEAR)``, the "resize to original size".
OpenCV's INTER_LINEAR uses half-pixel centres (``src = (dst + 0.5) * scale - 0.5``) and no antialiasing.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from bfrbench.errors import ConfigError

Interpolation = Literal["linear", "area", "cubic", "nearest", "lanczos"]
_INTERP = {"linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA, "cubic": cv2.INTER_CUBIC,
           "nearest": cv2.INTER_NEAREST, "lanczos": cv2.INTER_LANCZOS4}

__all__ = ["downsample", "downsampled_size", "interpolation_flag", "resize_to"]


def interpolation_flag(name: str) -> int:
    """OpenCV flag for an interpolation name (linear, area, cubic, nearest, lanczos)."""
    try:
        return _INTERP[name]
    except KeyError:
        raise ConfigError(f"unknown interpolation {name!r}; accepted: {', '.join(_INTERP)}") from None


def downsampled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """``(int(w // scale), int(h // scale))``; raises ConfigError if that is smaller than 1x1."""
    if scale <= 0:
        raise ConfigError(f"downsampling scale must be > 0, got {scale}")
    w2, h2 = int(width // scale), int(height // scale)
    if w2 < 1 or h2 < 1:
        raise ConfigError(f"scale {scale} shrinks a {width}x{height} image to {w2}x{h2} (below 1 pixel)")
    return w2, h2


def downsample(img: np.ndarray, scale: float, interpolation: Interpolation = "linear") -> np.ndarray:
    """Resize (H, W, C) by ``1/scale`` to ``(int(W // scale), int(H // scale))``; dtype preserved."""
    h, w = img.shape[:2]
    return cv2.resize(img, downsampled_size(w, h, scale), interpolation=interpolation_flag(interpolation))


def resize_to(img: np.ndarray, size: int | tuple[int, int], interpolation: Interpolation = "linear") -> np.ndarray:
    """Resize (H, W, C) to ``size`` x ``size`` (or ``(width, height)``); dtype preserved."""
    wh = (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))
    return cv2.resize(img, wh, interpolation=interpolation_flag(interpolation))
