"""AWing 98-point landmarks (Wang, Bo & Fuxin, "Adaptive Wing Loss for Robust Face Alignment via Heatmap
Regression", ICCV 2019; WFLW annotation) as packaged by facexlib 0.3.0 (``facexlib.alignment.FAN``,
4 hourglass modules), for the ``lmd:awing98`` metric.

Input handling is facexlib's ``FAN.get_landmarks``: the whole (aligned) face resized to 256x256, RGB in
[0, 1], heatmap argmax refinement, scaled back to input pixels. Weights (``alignment_WFLW_4HG.pth``) are
downloaded by users; absent -> :class:`~bfrbench.errors.MissingWeightsError`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from bfrbench.faces._base import Landmarker

__all__ = ["AWing98Landmarker"]


class AWing98Landmarker(Landmarker):
    """98 WFLW points per aligned face (never NaN: the network always answers).

    Args:
        device: torch device string.
        weights_path: explicit ``alignment_WFLW_4HG.pth`` (default: the bfrbench cache entry).
    """

    name: ClassVar[str] = "awing98"
    weight_options: ClassVar[tuple[tuple[str, ...], ...]] = (("facexlib-awing-wflw",),)
    num_points: ClassVar[int] = 98

    def __init__(self, *, device: str = "cpu", weights_path: str | None = None) -> None:
        from bfrbench.io.hashing import sha256_file
        from bfrbench.weights import resolve

        path = weights_path or str(resolve("facexlib-awing-wflw"))
        import torch
        from facexlib.alignment import FAN

        dev = torch.device(device)
        model = FAN(num_modules=4, num_landmarks=98, device=dev)
        state = torch.load(path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["state_dict"] if "state_dict" in state else state, strict=True)
        self._model = model.eval().to(dev)
        self.device = str(device)
        self.model_id = "facexlib-awing-fan-wflw-4hg"
        self.weights_sha256 = sha256_file(path)

    def _landmarks_one(self, face: np.ndarray) -> np.ndarray | None:
        import torch

        with torch.no_grad():
            pts = self._model.get_landmarks(np.ascontiguousarray(face[..., ::-1]))  # facexlib takes BGR
        return np.asarray(pts, dtype=np.float64).reshape(98, 2)
