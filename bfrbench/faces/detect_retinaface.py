"""RetinaFace (Deng et al., "RetinaFace: Single-shot Multi-level Face Localisation in the Wild", CVPR 2020),
ResNet-50 variant, as facexlib 0.3.0 packages it (``facexlib.detection.retinaface.RetinaFace``): the detector
FaceRestoreHelper (GFPGAN, CodeFormer) uses, with its confidence threshold 0.97.

Weights (``detection_Resnet50_Final.pth``) are downloaded by users (``bfrbench weights fetch
facexlib-retinaface-resnet50``) and resolved from the bfrbench cache; when absent the constructor raises
:class:`~bfrbench.errors.MissingWeightsError` instead of letting facexlib download into its package folder.
The five points are RetinaFace's (eye centres, nose tip, mouth corners), the same kind as the FFHQ template.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.faces._base import Detector, Face, check_rgb

__all__ = ["RetinaFaceDetector"]


class RetinaFaceDetector(Detector):
    """facexlib RetinaFace-ResNet50.

    Args:
        device: torch device string ("cpu", "cuda", "cuda:1").
        threshold: confidence threshold (0.97 as FaceRestoreHelper).
        nms_threshold: IoU threshold of the non-maximum suppression (facexlib default 0.4).
        half: fp16 inference (GPU only).
        weights_path: explicit weight file (default: the bfrbench cache entry).
    """

    name: ClassVar[str] = "retinaface"
    weights: ClassVar[tuple[str, ...]] = ("facexlib-retinaface-resnet50",)
    paper = "Deng et al. CVPR 2020, RetinaFace (facexlib 0.3.0 packaging)"

    def __init__(self, *, device: str = "cpu", threshold: float = 0.97, nms_threshold: float = 0.4,
                 half: bool = False, weights_path: str | None = None) -> None:
        from bfrbench.weights import resolve

        path = weights_path or str(resolve("facexlib-retinaface-resnet50"))
        import torch
        from facexlib.detection.retinaface import RetinaFace

        if half and not str(device).startswith("cuda"):
            raise ConfigError(f"half=True needs a CUDA device, got device={device!r}")
        self.device = str(device)
        self.threshold = float(threshold)
        self.nms_threshold = float(nms_threshold)
        self.half = bool(half)
        dev = torch.device(self.device)
        model = RetinaFace(network_name="resnet50", half=self.half, device=dev)
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = {(k[7:] if k.startswith("module.") else k): v for k, v in state.items()}
        model.load_state_dict(state, strict=True)
        self._model = model.eval().to(dev)

    def config(self) -> dict[str, Any]:
        return {"device": self.device, "threshold": self.threshold, "nms_threshold": self.nms_threshold,
                "half": self.half}

    def detect(self, image: np.ndarray) -> list[Face]:
        import torch

        img = check_rgb(image)
        bgr = np.ascontiguousarray(img[..., ::-1])  # facexlib takes cv2-style BGR arrays
        with torch.no_grad():
            dets = self._model.detect_faces(bgr, conf_threshold=self.threshold, nms_threshold=self.nms_threshold)
        faces = []
        for row in np.asarray(dets, dtype=np.float64):
            lm = row[5:15].reshape(5, 2)  # (x, y) pairs: left eye, right eye, nose, mouth left, mouth right
            faces.append(Face(bbox=(row[0], row[1], row[2], row[3]), score=float(row[4]), landmarks=lm))
        faces.sort(key=lambda f: -f.area)
        return faces
