"""Shared types of the faces stage: detected faces, the detector / embedder / landmarker base classes
and their registries.

Conventions (all backends):

* Images are RGB uint8 numpy arrays of shape (H, W, 3).
* Five landmarks are ordered as in facexlib's FFHQ template (``FaceRestoreHelper.face_template``):
  left eye centre, right eye centre, nose tip, left mouth corner, right mouth corner, where "left" is the
  subject's right side, i.e. the eye with the smaller x in an upright frontal photo. Coordinates are
  (x, y) in pixels of the input image, float64, with pixel centres at integer coordinates (the OpenCV
  convention used by ``cv2.warpAffine``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.registry import Registry

__all__ = [
    "Face",
    "Detector",
    "Embedder",
    "Landmarker",
    "DETECTORS",
    "EMBEDDERS",
    "LANDMARKERS",
    "as_image_batch",
    "l2_normalise",
]


@dataclass(frozen=True)
class Face:
    """One detected face.

    Attributes:
        bbox: (x0, y0, x1, y1) float64 box in image pixels.
        score: detector confidence (backend-specific scale; higher is more confident).
        landmarks: (5, 2) float64 array of (x, y) points in the order of the module docstring.
        extra: backend-specific details (e.g. dlib's raw 5 points).
    """

    bbox: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.bbox
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))

    def to_json(self) -> dict[str, Any]:
        return {
            "bbox": [round(float(v), 3) for v in self.bbox],
            "score": round(float(self.score), 5),
            "landmarks": [[round(float(x), 3), round(float(y), 3)] for x, y in self.landmarks],
        }


def check_rgb(image: Any, what: str = "image") -> np.ndarray:
    """Return ``image`` as a contiguous (H, W, 3) uint8 array or raise :class:`ConfigError`."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ConfigError(f"{what}: expected an RGB uint8 array of shape (H, W, 3), got {desc}")
    return np.ascontiguousarray(image)


def as_image_batch(images: Sequence[np.ndarray] | np.ndarray, *, size: int | None = None, what: str = "images") -> list[np.ndarray]:
    """Validate a list / (N, H, W, 3) array of RGB uint8 images; optionally require H == W == size."""
    if isinstance(images, np.ndarray) and images.ndim == 3:
        raise ConfigError(f"{what}: got a single image of shape {images.shape}; pass a list or an (N, H, W, 3) array")
    out = [check_rgb(im, f"{what}[{i}]") for i, im in enumerate(images)]
    if size is not None:
        for i, im in enumerate(out):
            if im.shape[:2] != (size, size):
                raise ConfigError(f"{what}[{i}]: expected an aligned {size}x{size} face, got {im.shape[1]}x{im.shape[0]}; "
                                  "align it first (bfrbench align)")
    return out


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation to float32 (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(n > 0, n, 1.0)).astype(np.float32)


class Detector(ABC):
    """A face detector giving boxes, scores and the 5 FFHQ-template landmarks."""

    name: ClassVar[str] = ""
    #: weight files (names in bfrbench.weights) this backend needs
    weights: ClassVar[tuple[str, ...]] = ()
    paper: ClassVar[str] = ""

    @abstractmethod
    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 (H, W, 3) image, sorted by decreasing box area."""

    def config(self) -> dict[str, Any]:
        """Constructor arguments (for provenance)."""
        return {}


class Embedder(ABC):
    """Identity embedder on aligned 512x512 faces.

    Attributes:
        name: registry name (``arcface``, ``dlib``, ``facenet``).
        model_id: model + weights, e.g. ``"dlib_face_recognition_resnet_model_v1"``.
        dim: embedding size D.
        weights_sha256: SHA-256 of the weight file used (None for unknown).
        default_threshold: cosine distance below which two faces are taken as the same person.
        weight_options: alternative sets of weight files (names in bfrbench.weights); any one complete set
            is enough (the metrics ``ids``/``deg`` read their weights from here).
        cpu_only: the backend runs on the CPU whatever ``device`` says (dlib-bin, cv2.dnn builds).
    """

    name: ClassVar[str] = ""
    weight_options: ClassVar[tuple[tuple[str, ...], ...]] = ()
    cpu_only: ClassVar[bool] = False
    dim: ClassVar[int] = 0
    default_threshold: ClassVar[float] = 0.4
    paper: ClassVar[str] = ""
    model_id: str = ""
    weights_sha256: str | None = None

    @abstractmethod
    def _embed_batch(self, faces: list[np.ndarray]) -> np.ndarray:
        """Raw (unnormalised) embeddings, (n, dim), for a list of 512x512 RGB uint8 faces."""

    batch_size: int = 16

    def embed(self, images: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Embed aligned faces.

        Args:
            images: list of, or (N, 512, 512, 3) array of, FFHQ-aligned RGB uint8 faces.

        Returns:
            float32 (N, dim), each row L2-normalised (a row of zeros when a backend could not embed a face,
            e.g. the dlib detector mode found no face).
        """
        faces = as_image_batch(images, size=512)
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._embed_batch(faces[i:i + self.batch_size]) for i in range(0, len(faces), self.batch_size)]
        return l2_normalise(np.concatenate(parts, axis=0))

    def info(self) -> dict[str, Any]:
        """Provenance record: name, model id, dim, weights hash, threshold."""
        return {"name": self.name, "model_id": self.model_id, "dim": self.dim,
                "weights_sha256": self.weights_sha256, "default_threshold": self.default_threshold}


class Landmarker(ABC):
    """Dense landmarks on aligned 512x512 faces (for the ``lmd`` metric).

    ``weight_options`` and ``cpu_only`` mean what they mean on :class:`Embedder`.
    """

    name: ClassVar[str] = ""
    weight_options: ClassVar[tuple[tuple[str, ...], ...]] = ()
    cpu_only: ClassVar[bool] = False
    num_points: ClassVar[int] = 0
    model_id: str = ""
    weights_sha256: str | None = None

    @abstractmethod
    def _landmarks_one(self, face: np.ndarray) -> np.ndarray | None:
        """(K, 2) float64 points for one face, or None when no face is found."""

    def landmarks(self, images: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Landmarks for aligned faces.

        Args:
            images: list of, or (N, 512, 512, 3) array of, RGB uint8 aligned faces.

        Returns:
            (N, K, 2) float64 (x, y) pixel coordinates; all-NaN rows where no face was found.
        """
        faces = as_image_batch(images, size=512)
        out = np.full((len(faces), self.num_points, 2), np.nan, dtype=np.float64)
        for i, f in enumerate(faces):
            pts = self._landmarks_one(f)
            if pts is not None:
                out[i] = pts
        return out


DETECTORS: Registry[type[Detector]] = Registry("face detector", Detector)
EMBEDDERS: Registry[type[Embedder]] = Registry("identity embedder", Embedder, entry_point_group="bfrbench.embedders")
LANDMARKERS: Registry[type[Landmarker]] = Registry("landmarker", Landmarker)

DETECTORS.register("dlib", "bfrbench.faces.detect_dlib:DlibDetector")
DETECTORS.register("dlib-cnn", "bfrbench.faces.detect_dlib:DlibCnnDetector")
DETECTORS.register("mtcnn", "bfrbench.faces.detect_mtcnn:MtcnnDetector")
DETECTORS.register("retinaface", "bfrbench.faces.detect_retinaface:RetinaFaceDetector")
EMBEDDERS.register("dlib", "bfrbench.faces.embed_dlib:DlibEmbedder")
EMBEDDERS.register("facenet", "bfrbench.faces.embed_facenet:FaceNetEmbedder")
EMBEDDERS.register("arcface", "bfrbench.faces.embed_arcface:ArcFaceEmbedder")
LANDMARKERS.register("dlib68", "bfrbench.faces.landmarks_dlib:Dlib68Landmarker")
LANDMARKERS.register("awing98", "bfrbench.faces.landmarks_awing:AWing98Landmarker")
