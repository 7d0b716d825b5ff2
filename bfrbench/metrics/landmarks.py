"""``lmd``: landmark distance between restored and HQ faces on 512x512 aligned images.

LMD = mean over the K landmarks of the Euclidean distance (pixels, at 512 px) between the points found on
the restored image and on its HQ ground truth (as in the LMD column of PULSE/GPEN/VQFR-style tables).
Backends come from ``bfrbench.faces``: ``dlib68`` (dlib 68-point shape predictor, offline) and
``awing98`` (AWing on WFLW, 98 points, facexlib weights downloaded by users). No face on either side gives
NaN with an error text in the per-image row.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from bfrbench.metrics import _faces
from bfrbench.metrics._base import ImageItem, Shared
from bfrbench.metrics._stable import NETWORK_DIGITS

__all__ = ["LMD", "landmark_distance"]


def landmark_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean point distance of (N, K, 2) landmark arrays -> (N,) float64 (NaN where a row is NaN)."""
    return np.mean(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=2), axis=1)


class LMD(_faces.FaceBackendMetric):
    """Mean landmark distance (pixels at 512x512; lower is better)."""
    stored_digits: ClassVar[int | dict[str, int] | None] = NETWORK_DIGITS  # network forward: not bit-stable

    name: ClassVar[str] = "lmd"
    backend_role: ClassVar[_faces.BackendKind] = "landmarker"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float | None, float | None]] = (0.0, None)
    variants: ClassVar[dict[str, str]] = {
        "dlib68": "dlib 68-point shape predictor (offline; iBUG 300-W license is non-commercial)",
        "awing98": "AWing 98-point WFLW model via facexlib (downloaded)",
    }
    default_variant: ClassVar[str] = "dlib68"
    reference: ClassVar[str] = "mean L2 over landmarks of bfrbench.faces landmarkers (dlib 20 / facexlib 0.3.0)"
    paper: ClassVar[str] = "LMD as used by VQFR (ECCV 2022) / PULSE-style evaluations"

    def score_pairs(self, restored: list[ImageItem], hq: list[ImageItem], shared: Shared) -> tuple[np.ndarray, list[str | None]]:
        lm = _faces.landmarker(self.variant, self.device)
        ident = f"landmarks/{self.variant}/{getattr(lm, 'model_id', '')}/{getattr(lm, 'weights_sha256', None)}/v1"
        pr = np.stack(shared.get(ident, restored, lm.landmarks))
        ph = np.stack(shared.get(ident, hq, lm.landmarks))
        d = landmark_distance(pr, ph)
        errs: list[str | None] = []
        for a, b in zip(pr, ph):
            ra, rb = bool(np.isnan(a).any()), bool(np.isnan(b).any())
            if ra or rb:
                side = "restored and HQ images" if ra and rb else ("restored image" if ra else "HQ image")
                errs.append(f"{self.spec}: no face found by the {self.variant} landmarker in the {side}")
            else:
                errs.append(None)
        return d, errs
