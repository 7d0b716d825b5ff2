"""Content-addressed feature cache (STYLE.md habit 10, after torch-fidelity's atomic cache writes).

An entry is keyed by the SHA-256 of the image file's bytes and an *extractor id* naming the model, its
weights, the preprocessing and a version (e.g. ``"inception/fid-helper-default_1/legacy/v1"`` or
``"metric/niqe:basicsr/v1"``). Values are numpy arrays stored as ``.npy`` under
``$BFRBENCH_HOME/cache/features/<sha256(extractor id)[:16]>/<content[:2]>/<content>.npy``, written
atomically, so concurrent workers and interrupted runs never leave a partial entry. Re-scoring a folder in
which 10 images changed recomputes exactly those 10.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from bfrbench.io.atomic import atomic_write_bytes, atomic_write_text

__all__ = ["FeatureCache", "default_cache_dir"]


def default_cache_dir() -> Path:
    from bfrbench.weights import bfrbench_home

    return bfrbench_home() / "cache" / "features"


class FeatureCache:
    """On-disk cache of per-image arrays.

    Args:
        root: cache folder (default ``$BFRBENCH_HOME/cache/features``).

    Attributes:
        hits / misses / writes: counters for this process (tests and logs use them).
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.hits = 0
        self.misses = 0
        self.writes = 0
        self._labelled: set[str] = set()

    def _dir(self, extractor_id: str) -> Path:
        return self.root / hashlib.sha256(extractor_id.encode("utf-8")).hexdigest()[:16]

    def path(self, extractor_id: str, content_sha256: str) -> Path:
        return self._dir(extractor_id) / content_sha256[:2] / f"{content_sha256}.npy"

    def get(self, extractor_id: str, content_sha256: str) -> np.ndarray | None:
        """The stored array, or None (a corrupt entry counts as a miss and is overwritten later)."""
        p = self.path(extractor_id, content_sha256)
        try:
            arr = np.load(p, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            self.misses += 1
            return None
        self.hits += 1
        return arr

    def put(self, extractor_id: str, content_sha256: str, value: np.ndarray) -> None:
        """Store ``value`` (any numeric array) atomically."""
        d = self._dir(extractor_id)
        if extractor_id not in self._labelled:
            label = d / "EXTRACTOR.txt"
            if not label.exists():
                atomic_write_text(label, extractor_id + "\n")
            self._labelled.add(extractor_id)
        buf = io.BytesIO()
        np.save(buf, np.asarray(value), allow_pickle=False)
        atomic_write_bytes(self.path(extractor_id, content_sha256), buf.getvalue())
        self.writes += 1
