"""Access to the faces stage (embedders, landmarkers) for the identity and landmark metrics.

A face backend's metadata (the weight files it needs, whether it is CPU-only) lives on its class in
``bfrbench.faces`` (``weight_options``, ``cpu_only``); this module reads it from the ``EMBEDDERS`` /
``LANDMARKERS`` registries and creates backends once per process, backend name and device.
:class:`FaceBackendMetric` is the base of metrics whose variants are face backends: it derives the
metric's per-variant weights and CPU-only flag from the backend classes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar, Literal

from bfrbench.metrics._base import PairMetric

__all__ = ["embedder", "landmarker", "backend_class", "backend_weights", "backend_present", "backend_cpu_only",
           "FaceBackendMetric"]

BackendKind = Literal["embedder", "landmarker"]


def backend_class(backend: str, role: BackendKind | None = None) -> Any:
    """The registered face-backend class called ``backend`` (an embedder or a landmarker).

    ``role`` picks the registry; None tries the embedders, then the landmarkers.
    """
    from bfrbench.faces._base import EMBEDDERS, LANDMARKERS

    if role == "landmarker" or (role is None and backend not in EMBEDDERS and backend in LANDMARKERS):
        return LANDMARKERS.get(backend)
    return EMBEDDERS.get(backend)


def backend_weights(backend: str, role: BackendKind | None = None) -> tuple[tuple[str, ...], ...]:
    """Alternatives of weight-file sets for a backend (any one complete set suffices)."""
    return tuple(backend_class(backend, role).weight_options)


def backend_cpu_only(backend: str, role: BackendKind | None = None) -> bool:
    """True when the backend runs on the CPU whatever ``device`` says."""
    return bool(backend_class(backend, role).cpu_only)


def backend_present(backend: str, role: BackendKind | None = None) -> bool:
    """True when one complete set of the backend's weight files is in the cache (or it needs none)."""
    from bfrbench.errors import RegistryError
    from bfrbench.weights import is_present

    options = backend_weights(backend, role)
    try:
        return any(all(is_present(w) for w in opt) for opt in options) if options else True
    except RegistryError:  # weight entry not declared
        return False


class FaceBackendMetric(PairMetric):
    """A full-reference metric whose variants are face backends (``lmd``, ``ids``, ``deg``).

    Weights and the CPU-only flag of each backend variant come from the backend class (``backend_role``
    registry). A variant that is not a backend (``ids:vqfr``: a script's own network) declares its weights in
    ``variant_weights`` and keeps the class-level metadata.
    """

    backend_role: ClassVar[BackendKind] = "embedder"

    @classmethod
    def is_backend_variant(cls, variant: str) -> bool:
        """True when ``variant`` names a face backend (not one listed in ``variant_weights``)."""
        return variant not in cls.variant_weights

    @classmethod
    def weights_present(cls, variant: str) -> bool:
        if not cls.is_backend_variant(variant):
            return super().weights_present(variant)
        return backend_present(variant, cls.backend_role)

    @classmethod
    def weights_for(cls, variant: str) -> tuple[str, ...]:
        """The first complete alternative set of weight files, else the first set."""
        if not cls.is_backend_variant(variant):
            return super().weights_for(variant)
        from bfrbench.errors import RegistryError
        from bfrbench.weights import is_present

        opts = backend_weights(variant, cls.backend_role)
        for opt in opts:
            try:
                if all(is_present(w) for w in opt):
                    return opt
            except RegistryError:
                continue
        return opts[0] if opts else ()

    @classmethod
    def variant_cpu_only(cls, variant: str) -> bool:
        if not cls.is_backend_variant(variant):
            return super().variant_cpu_only(variant)
        return backend_cpu_only(variant, cls.backend_role)


@lru_cache(maxsize=8)
def embedder(backend: str, device: str = "cpu") -> Any:
    """The identity embedder ``backend`` (``arcface``, ``dlib``, ``facenet``) on ``device`` (CPU-only
    backends always on the CPU)."""
    from bfrbench.faces import get_embedder

    if backend_cpu_only(backend, "embedder"):
        device = "cpu"
    return get_embedder(backend, device=device)


@lru_cache(maxsize=4)
def landmarker(backend: str, device: str = "cpu") -> Any:
    """The dense landmarker ``backend`` (``dlib68``, ``awing98``) on ``device`` (dlib68: always CPU)."""
    from bfrbench.faces import get_landmarker

    opts: dict[str, Any] = {} if backend_cpu_only(backend, "landmarker") else {"device": device}
    return get_landmarker(backend, **opts)
