"""Session fixtures for the faces tests: real sample photos (cached across runs) and their aligned faces."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def photos() -> dict[str, Path]:
    """Real face photos (astronaut, t1 group, obama x3, biden), cached in the system temp folder."""
    from bfrbench.faces.samples import sample_photos

    return sample_photos(Path(tempfile.gettempdir()) / "bfrbench-test-samples")


@pytest.fixture(scope="session")
def images(photos: dict[str, Path]) -> dict[str, np.ndarray]:
    from bfrbench.io import read_image

    return {k: read_image(p) for k, p in photos.items()}


@pytest.fixture(scope="session")
def aligned(images: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """FFHQ-aligned 512 faces of the single-person photos (largest face, dlib detector)."""
    from bfrbench.faces import align_face, get_detector

    det = get_detector("dlib")
    out = {}
    for k in ("astronaut", "obama", "obama2", "obama3", "biden"):
        face, _ = align_face(images[k], det.detect(images[k])[0].landmarks)
        out[k] = face
    return out
