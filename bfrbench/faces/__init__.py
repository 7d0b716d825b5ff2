"""Faces stage: detection, FFHQ 5-point alignment, identity embedders and landmark models.

Public API::

    get_detector(name="dlib", **options) -> Detector      # .detect(rgb) -> list[Face] (bbox, score, 5 points)
    align_face(image, landmarks, size=512) -> (face, affine)
    paste_back(image, face, affine) -> image
    align.align_folder(src, out, detector="dlib", ...)   # `bfrbench align`
    get_embedder(name, device="cpu", ...) -> Embedder     # .embed(faces) -> float32 (N, D), L2-normalised
    get_landmarker(name, ...) -> Landmarker               # .landmarks(faces) -> float64 (N, K, 2)
    samples.sample_photos() -> {name: Path}

Registries: ``DETECTORS`` (dlib, dlib-cnn, mtcnn, retinaface), ``EMBEDDERS`` (arcface, dlib, facenet),
``LANDMARKERS`` (dlib68, awing98). Heavy libraries (dlib, cv2, torch, onnxruntime) load on first use.
"""

from __future__ import annotations

from typing import Any

from bfrbench.faces._base import DETECTORS, EMBEDDERS, LANDMARKERS, Detector, Embedder, Face, Landmarker
from bfrbench.faces.warp import FFHQ_TEMPLATE_512, align_face, ffhq_template, paste_back, transform_points

__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTORS",
    "EMBEDDERS",
    "FFHQ_TEMPLATE_512",
    "LANDMARKERS",
    "Detector",
    "Embedder",
    "Face",
    "Landmarker",
    "align_face",
    "ffhq_template",
    "get_detector",
    "get_embedder",
    "get_landmarker",
    "paste_back",
    "transform_points",
]

#: Offline default detector (chosen by measured 5-point accuracy; see docs/alignment.md).
DEFAULT_DETECTOR = "dlib"

_CACHE: dict[tuple[str, str, str], Any] = {}


def _key(kind: str, name: str, options: dict[str, Any]) -> tuple[str, str, str]:
    return (kind, name, repr(sorted(options.items())))


def get_detector(name: str = DEFAULT_DETECTOR, *, cache: bool = True, **options: Any) -> Detector:
    """A face detector by registry name (``dlib``, ``dlib-cnn``, ``mtcnn``, ``retinaface``).

    Instances are cached per (name, options) in this process unless ``cache=False``.
    """
    k = _key("detector", name, options)
    if cache and k in _CACHE:
        return _CACHE[k]
    det = DETECTORS.create(name, **options)
    if cache:
        _CACHE[k] = det
    return det


def get_embedder(name: str, *, device: str = "cpu", cache: bool = True, **options: Any) -> Embedder:
    """An identity embedder (``arcface``, ``dlib``, ``facenet``) on ``device``.

    ``.embed(images)`` takes FFHQ-aligned 512x512 RGB uint8 faces and returns float32 (N, dim) unit vectors.
    """
    opts = {"device": device, **options}
    k = _key("embedder", name, opts)
    if cache and k in _CACHE:
        return _CACHE[k]
    emb = EMBEDDERS.create(name, **opts)
    if cache:
        _CACHE[k] = emb
    return emb


def get_landmarker(name: str, *, cache: bool = True, **options: Any) -> Landmarker:
    """A landmark model (``dlib68``, ``awing98``) for aligned 512x512 faces."""
    k = _key("landmarker", name, options)
    if cache and k in _CACHE:
        return _CACHE[k]
    lm = LANDMARKERS.create(name, **options)
    if cache:
        _CACHE[k] = lm
    return lm
