"""Fixtures for the refgroups tests: planted identities on the unit sphere, tiny face-like images and a
deterministic stand-in embedder (the real embedders are tested in test_real_photos.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bfrbench.io import write_png
from bfrbench.refgroups.embed import EmbeddingTable


def planted(n_ids: int, per_id: tuple[int, int], dim: int, *, spread: float, seed: int,
            singletons: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around ``n_ids`` random centres (sizes uniform in ``per_id``) plus singletons.

    Returns (float32 (N, dim) unit rows, int64 (N,) planted identity labels; singletons get unique labels).
    """
    rng = np.random.default_rng(seed)
    sizes = rng.integers(per_id[0], per_id[1] + 1, size=n_ids)
    centres = rng.standard_normal((n_ids + singletons, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    lab = np.concatenate([np.repeat(np.arange(n_ids), sizes), n_ids + np.arange(singletons)])
    x = centres[lab] + rng.standard_normal((lab.size, dim)) * spread / np.sqrt(dim)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), lab.astype(np.int64)


def table(x: np.ndarray, names: list[str] | None = None) -> EmbeddingTable:
    names = names or [f"{k:05d}.png" for k in range(x.shape[0])]
    return EmbeddingTable(names=names, sha256=[f"{k:064x}" for k in range(len(names))], vectors=x,
                          embedder="synthetic", model_id="synthetic-v1", weights_sha256=None)


class GridEmbedder:
    """Stand-in embedder: mean colour of an 8x8 grid (192-d), centred and L2-normalised. Counts calls."""

    name = "grid"
    model_id = "grid-8x8-v1"
    dim = 192
    weights_sha256 = None
    default_threshold = 0.35

    def __init__(self) -> None:
        self.calls = 0
        self.images = 0

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        self.calls += 1
        self.images += len(images)
        out = []
        for im in images:
            assert im.shape == (512, 512, 3) and im.dtype == np.uint8
            v = im.reshape(8, 64, 8, 64, 3).mean(axis=(1, 3)).ravel().astype(np.float64) - 127.5
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, dtype=np.float32)


def write_faces(folder: Path, n_ids: int, per_id: int, *, seed: int, prefix: str = "") -> dict[str, int]:
    """Tiny 64x64 PNGs: each identity a random 8x8 colour pattern, each image it plus noise."""
    rng = np.random.default_rng(seed)
    out: dict[str, int] = {}
    for i in range(n_ids):
        base = rng.integers(30, 226, size=(8, 8, 3))
        for k in range(per_id):
            cells = base + rng.normal(0, 25, size=base.shape)  # per-image change: cosine distance ~0.17
            img = np.repeat(np.repeat(cells, 8, axis=0), 8, axis=1) + rng.normal(0, 8, size=(64, 64, 3))
            name = f"{prefix}id{i:02d}_{k}.png"
            write_png(folder / name, np.clip(img, 0, 255).astype(np.uint8))
            out[name] = i
    return out


@pytest.fixture(scope="session")
def face_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("faces")
    labels = write_faces(root, 8, 4, seed=3)
    return root, labels


class _Synth:
    planted = staticmethod(planted)
    table = staticmethod(table)
    write_faces = staticmethod(write_faces)
    GridEmbedder = GridEmbedder


@pytest.fixture(scope="session")
def synth() -> type[_Synth]:
    """Helpers: ``planted``, ``table``, ``write_faces``, ``GridEmbedder``."""
    return _Synth
