"""Grayscale inputs: the official post-processing of faces detected as gray.

Source: InterLCM (github.com/sen-mao/InterLCM commit 2940f43402d7e49cd8ef522c37dfbbb5f4522b15):
``inference_InterLCM.py`` (``--has_aligned``: ``is_gray(img, threshold=10)``, switched off for
``*colorization*`` visual encoders) and ``facelib/utils/misc.py`` / ``face_restoration_helper.py``
(``add_restored_face``: ``bgr2gray`` then ``adain_npy`` towards the input face). Written here from that
description.

* gray test: mean over the three channel pairs of ``var(c_i - c_j)`` (int16 differences, population variance)
  ``<= 10``;
* the restored face becomes ``0.2989 R + 0.5870 G + 0.1140 B`` in every channel (float64), then per channel
  ``(v - mean_v) / std_v * std_in + mean_in`` with ``std = sqrt(population var + 1e-5)``;
* the official script writes that float64 image with ``cv2.imwrite``, which converts to uint8 by rounding to the
  nearest integer and saturating; done here explicitly (``np.rint`` and clip to [0, 255]).
"""

from __future__ import annotations

import numpy as np

__all__ = ["GRAY_THRESHOLD", "gray_color_transfer", "is_gray"]

GRAY_THRESHOLD = 10.0


def is_gray(img: np.ndarray, threshold: float = GRAY_THRESHOLD) -> bool:
    """True when the (H, W, 3) uint8 image is (nearly) gray: mean pairwise channel-difference variance <= threshold."""
    c = img.astype(np.int16)
    pairs = ((0, 1), (1, 2), (2, 0))
    return float(sum((c[..., i] - c[..., j]).var() for i, j in pairs) / 3.0) <= threshold


def gray_color_transfer(restored: np.ndarray, lq: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Gray version of ``restored`` with the per-channel mean/std of ``lq``; both (H, W, 3) uint8 RGB -> uint8."""
    r, g, b = (restored[..., k].astype(np.float64) for k in range(3))
    gray = np.repeat((0.2989 * r + 0.5870 * g + 0.1140 * b)[..., None], 3, axis=2)

    def stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = x.reshape(-1, 3).astype(np.float64)
        return flat.mean(axis=0), np.sqrt(flat.var(axis=0) + eps)

    gm, gs = stats(gray)
    im, is_ = stats(lq)
    out = (gray - gm) / gs * is_ + im
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
