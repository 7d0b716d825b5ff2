"""Colour ops of GFPGAN's ``FFHQDegradationDataset``: RGB shift ("color jitter") and grayscale.

* ``color_shift(img, shift_rgb)``: ``clip(img + float32(shift), 0, 1)``; GFPGAN draws
  ``uniform(-s, s, 3)`` with ``s = color_jitter_shift / 255`` (20/255 by default) in **BGR** order; the sampler
  here draws in the same order and records ``color_shift_r/g/b`` in [0, 1] units.
* ``grayscale(img)``: ``cv2.cvtColor(bgr, COLOR_BGR2GRAY)`` on the BGR copy (Y = 0.299 R + 0.587 G + 0.114 B,
  bit-identical to GFPGAN's call on its BGR image) repeated to 3 channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from bfrbench.degrade._base import check_float_image

__all__ = ["color_shift", "grayscale"]


def color_shift(img: np.ndarray, shift_rgb: Sequence[float]) -> np.ndarray:
    """Add a per-channel constant (R, G, B order, [0, 1] units) to float32 (H, W, 3); clip to [0, 1]."""
    check_float_image(img, "color_shift")
    if len(shift_rgb) != 3:
        raise ValueError(f"color_shift needs 3 values (R, G, B), got {list(shift_rgb)}")
    return np.clip(img + np.asarray(shift_rgb, dtype=np.float64).astype(np.float32), 0, 1)


def grayscale(img: np.ndarray) -> np.ndarray:
    """Luma of a float32 or uint8 RGB (H, W, 3) image repeated on 3 channels (same dtype)."""
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"grayscale: expected (H, W, 3), got {img.shape}")
    # on the BGR copy with BGR2GRAY, like BasicSR: RGB2GRAY sums in another order (last-bit differences)
    g = cv2.cvtColor(np.ascontiguousarray(img[:, :, ::-1]), cv2.COLOR_BGR2GRAY)
    return np.tile(g[:, :, None], [1, 1, 3])
