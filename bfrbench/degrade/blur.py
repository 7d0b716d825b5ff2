"""Blur: 2-D correlation of every channel with a kernel, OpenCV ``cv2.filter2D`` semantics.

Matches BasicSR/GFPGAN (``cv2.filter2D(img, -1, kernel)``): output depth = input depth, anchor at the
kernel centre, border ``BORDER_REFLECT_101`` (``gfedcb|abcdefgh|gfedcba``). Note filter2D computes a
correlation (kernel not flipped); all kernels in :mod:`bfrbench.degrade.kernels` are point-symmetric, so
this equals convolution. OpenCV switches to a DFT algorithm for large kernels (41x41 included); the
result is the same call as the reference, so outputs are bit-identical to it.
"""

from __future__ import annotations

import cv2
import numpy as np

from bfrbench.degrade._base import check_float_image

__all__ = ["blur"]


def blur(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Blur a float32 (H, W, 3) image in [0, 1] with a float64 (K, K) kernel; returns float32 (H, W, 3)."""
    check_float_image(img, "blur")
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 == 0:
        raise ValueError(f"blur: kernel must be square with odd size, got shape {kernel.shape}")
    return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
