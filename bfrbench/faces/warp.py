"""FFHQ 5-point alignment and paste-back, matching facexlib's ``FaceRestoreHelper`` (facexlib 0.3.0,
``facexlib/utils/face_restoration_helper.py``), which GFPGAN, CodeFormer and most BFR methods use.

* Template: the five FFHQ landmarks at 512x512 (left eye, right eye, nose tip, left and right mouth
  corner), scaled by ``size / 512`` for other sizes.
* Transform: ``cv2.estimateAffinePartial2D(landmarks, template, method=cv2.LMEDS)`` (a 4-DoF similarity).
* Warp: ``cv2.warpAffine`` with the default bilinear interpolation, ``BORDER_CONSTANT`` and facexlib's
  gray border value (135, 133, 132) given in BGR, i.e. (132, 133, 135) for our RGB arrays.
* Paste-back: inverse affine (``cv2.invertAffineTransform``), the face warped back into the image and
  blended with a soft mask made the way facexlib does without a parsing network (eroded square mask,
  Gaussian-blurred edge whose width is 1/20 of the face's side).
"""

from __future__ import annotations

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.faces._base import check_rgb

__all__ = ["FFHQ_TEMPLATE_512", "BORDER_VALUE_RGB", "ffhq_template", "estimate_affine", "align_face",
           "transform_points", "paste_back"]

#: facexlib's FFHQ template for 512x512 faces, (x, y) pixels.
FFHQ_TEMPLATE_512 = np.array(
    [[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935], [201.26117, 371.41043],
     [313.08905, 371.15118]], dtype=np.float64)
#: facexlib's border colour (135, 133, 132) BGR, as RGB.
BORDER_VALUE_RGB = (132, 133, 135)


def ffhq_template(size: int = 512) -> np.ndarray:
    """(5, 2) float64 template points for a ``size`` x ``size`` crop."""
    if size < 16:
        raise ConfigError(f"size must be >= 16 pixels, got {size}")
    return FFHQ_TEMPLATE_512 * (size / 512.0)


def _check_landmarks(landmarks: np.ndarray) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (5, 2) or not np.all(np.isfinite(lm)):
        raise ConfigError(f"landmarks must be a finite (5, 2) array of (x, y) points, got shape {lm.shape}")
    return lm


def estimate_affine(landmarks: np.ndarray, size: int = 512) -> np.ndarray:
    """2x3 float64 similarity mapping image points to the template (facexlib: LMEDS partial affine).

    Raises:
        ConfigError: degenerate landmarks (e.g. all points equal) for which no transform exists.
    """
    import cv2

    lm = _check_landmarks(landmarks)
    affine, _ = cv2.estimateAffinePartial2D(lm, ffhq_template(size), method=cv2.LMEDS)
    if affine is None or not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:, :2])) < 1e-12:
        raise ConfigError(f"cannot estimate an alignment transform from landmarks {lm.tolist()}")
    return np.asarray(affine, dtype=np.float64)


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Warp a face to the FFHQ template.

    Args:
        image: RGB uint8 (H, W, 3).
        landmarks: (5, 2) (x, y) points in the order of ``FFHQ_TEMPLATE_512``.
        size: output side in pixels (512 for BFR test sets).

    Returns:
        ``(face, affine)``: RGB uint8 (size, size, 3) and the 2x3 float64 matrix mapping image coordinates
        to face coordinates (``paste_back`` inverts it).
    """
    import cv2

    img = check_rgb(image)
    affine = estimate_affine(landmarks, size)
    face = cv2.warpAffine(img, affine, (size, size), borderMode=cv2.BORDER_CONSTANT, borderValue=BORDER_VALUE_RGB)
    return face, affine


def transform_points(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to (N, 2) points; returns float64 (N, 2)."""
    p = np.asarray(points, dtype=np.float64)
    a = np.asarray(affine, dtype=np.float64)
    return p @ a[:, :2].T + a[:, 2]


def paste_back(image: np.ndarray, face: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Paste an (e.g. restored) aligned face back into the original image.

    Args:
        image: the original RGB uint8 (H, W, 3) image the face was aligned from.
        face: RGB uint8 (S, S, 3) aligned face; if S differs from the size the affine was made for, pass an
            affine for S (``affine * S / size`` scales a size-``size`` affine).
        affine: 2x3 matrix returned by :func:`align_face` (image -> face coordinates).

    Returns:
        RGB uint8 (H, W, 3): the image with the face region replaced, blended over a soft edge.
    """
    import cv2

    img = check_rgb(image, "image")
    fc = check_rgb(face, "face")
    a = np.asarray(affine, dtype=np.float64)
    if a.shape != (2, 3) or not np.all(np.isfinite(a)):
        raise ConfigError(f"affine must be a finite 2x3 matrix, got shape {a.shape}")
    h, w = img.shape[:2]
    inv = cv2.invertAffineTransform(a)
    back = cv2.warpAffine(fc, inv, (w, h)).astype(np.float64)
    mask = cv2.warpAffine(np.ones(fc.shape[:2], dtype=np.float32), inv, (w, h))
    mask = cv2.erode(mask, np.ones((2, 2), np.uint8))  # drop the interpolated 1-px rim
    edge = int(np.sqrt(float(mask.sum()))) // 20
    if edge > 0:
        inner = cv2.erode(mask, np.ones((2 * edge, 2 * edge), np.uint8))
        soft = cv2.GaussianBlur(inner, (2 * edge + 1, 2 * edge + 1), 0)
    else:
        soft = mask
    soft = soft[..., None].astype(np.float64)
    out = soft * back + (1.0 - soft) * img.astype(np.float64)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
