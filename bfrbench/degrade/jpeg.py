"""JPEG compression round trip with OpenCV (libjpeg), BasicSR ``add_jpg_compression`` semantics.

Definition: ``x = clip(img, 0, 1) * 255`` (float32); ``u8 = saturate(round_half_even(x))`` (what OpenCV's
``imencode`` does implicitly to a float image: it falls back to CV_8U with ``convertTo``; done explicitly
here); encode with ``cv2.imencode('.jpg', u8_bgr, [IMWRITE_JPEG_QUALITY, q])`` (baseline, 4:2:0 chroma
subsampling, OpenCV defaults); decode with ``cv2.imdecode(.., IMREAD_COLOR)``; return ``float32(decoded) / 255``.
The encoder gets BGR, as in BasicSR (its images are BGR), so the YCbCr conversion is the same.

``quality`` must be an integer 0-100 (OpenCV 5 rejects floats). BasicSR draws a float quality; the
OpenCV versions it ran with truncated it to ``int(q)``, which is what the samplers record.
"""

from __future__ import annotations

import cv2
import numpy as np

from bfrbench.degrade._base import check_float_image

__all__ = ["jpeg_compress", "jpeg_roundtrip_uint8"]


def _check_quality(quality: int) -> int:
    if isinstance(quality, bool) or int(quality) != quality or not 0 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must be an integer in [0, 100], got {quality!r}")
    return int(quality)


def jpeg_roundtrip_uint8(bgr: np.ndarray, quality: int) -> np.ndarray:
    """Encode a uint8 BGR (H, W, 3) image as JPEG at ``quality`` and decode it (uint8 BGR)."""
    ok, enc = cv2.imencode(".jpg", bgr, [int(cv2.IMWRITE_JPEG_QUALITY), _check_quality(quality)])
    if not ok:  # pragma: no cover
        raise RuntimeError("cv2.imencode('.jpg') failed")
    dec = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    if dec is None:  # pragma: no cover
        raise RuntimeError("cv2.imdecode of a JPEG that cv2 itself encoded failed")
    return dec


def jpeg_compress(img: np.ndarray, quality: int) -> np.ndarray:
    """JPEG round trip of a float32 RGB (H, W, 3) image in [0, 1]; returns float32 (H, W, 3) in [0, 1]."""
    check_float_image(img, "jpeg_compress")
    x = np.clip(img, 0, 1) * 255.0
    u8 = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    dec = jpeg_roundtrip_uint8(np.ascontiguousarray(u8[:, :, ::-1]), quality)
    return dec[:, :, ::-1].astype(np.float32) / 255.0
