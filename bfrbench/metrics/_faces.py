"""Access to the faces stage (embedders, landmarkers) for the identity and landmark metrics.

Uses ``bfrbench.faces.get_embedder`` / ``get_landmarker`` when the faces package exports them, otherwise
its ``EMBEDDERS`` / ``LANDMARKERS`` registries. Backends are created once per process and backend name.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["embedder", "landmarker", "backend_weights", "CPU_ONLY"]

#: backends that run on the CPU whatever ``--device`` says (dlib-bin and cv2.dnn builds)
CPU_ONLY = frozenset({"dlib", "facenet", "dlib68"})

# Weight files each backend needs when its class does not declare them (names in bfrbench.weights).
_FALLBACK_WEIGHTS: dict[str, tuple[tuple[str, ...], ...]] = {
    # the model `get_embedder("arcface")` loads (faces.embed_arcface MODELS["webface_r50"]) and only that one:
    # importing another ArcFace model (buffalo_l, antelopev2) must not switch the default identity backend to
    # one that then fails on the missing webface file
    "arcface": (("arcface-webface-r50",),),
    "dlib": (("dlib-face-recognition-resnet-v1", "dlib-shape-predictor-5"),),
    "facenet": (("facenet-graph-final",),),
    "dlib68": (("dlib-shape-predictor-68",),),
    "awing98": (("facexlib-awing-wflw",),),
}


def backend_weights(backend: str) -> tuple[tuple[str, ...], ...]:
    """Alternatives of weight-file sets for a backend (any one complete set suffices)."""
    return _FALLBACK_WEIGHTS.get(backend, ())


def backend_present(backend: str) -> bool:
    from bfrbench.errors import RegistryError
    from bfrbench.weights import is_present

    options = backend_weights(backend)
    try:
        return any(all(is_present(w) for w in opt) for opt in options) if options else True
    except RegistryError:  # weight entry not declared (faces catalogue not installed yet)
        return False


@lru_cache(maxsize=8)
def embedder(backend: str, device: str = "cpu") -> Any:
    """The identity embedder ``backend`` (``arcface``, ``dlib``, ``facenet``) on ``device``."""
    import bfrbench.faces as faces

    if backend in CPU_ONLY:
        device = "cpu"
    get = getattr(faces, "get_embedder", None)
    if get is not None:
        return get(backend, device=device)
    from bfrbench.faces._base import EMBEDDERS

    return EMBEDDERS.create(backend)


@lru_cache(maxsize=4)
def landmarker(backend: str, device: str = "cpu") -> Any:
    """The dense landmarker ``backend`` (``dlib68``, ``awing98``) on ``device`` (dlib68: always CPU)."""
    import bfrbench.faces as faces

    opts = {} if backend in CPU_ONLY else {"device": device}
    get = getattr(faces, "get_landmarker", None)
    if get is not None:
        return get(backend, **opts)
    from bfrbench.faces._base import LANDMARKERS

    return LANDMARKERS.create(backend, **opts)
