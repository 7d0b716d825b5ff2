"""dlib identity embedder on real photos: same person closer than different persons."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bfrbench.errors import ConfigError
from bfrbench.faces import get_embedder


def test_dlib_obama_pairs_closer_than_obama_biden(aligned: dict[str, np.ndarray]) -> None:
    emb = get_embedder("dlib")
    names = ["obama", "obama2", "obama3", "biden"]
    e = emb.embed([aligned[n] for n in names])
    assert e.shape == (4, 128) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    dist = 1.0 - e @ e.T
    same = [dist[i, j] for i, j in itertools.combinations(range(3), 2)]
    diff = [dist[i, 3] for i in range(3)]
    print("dlib cosine distances obama pairs", np.round(same, 4), "obama-biden", np.round(diff, 4))
    assert max(same) < min(diff)
    # the documented threshold separates them
    assert max(same) < emb.default_threshold < min(diff)


def test_dlib_matches_face_recognition_euclidean_rule(aligned: dict[str, np.ndarray]) -> None:
    emb = get_embedder("dlib")
    raw = emb.raw_descriptors([aligned["obama"], aligned["obama2"], aligned["biden"]])
    d_same = np.linalg.norm(raw[0] - raw[1])
    d_diff = np.linalg.norm(raw[0] - raw[2])
    assert d_same < 0.6 < d_diff  # dlib's own rule on the unnormalised descriptors


def test_dlib_batching_invariant(aligned: dict[str, np.ndarray]) -> None:
    faces = [aligned["obama"], aligned["biden"], aligned["astronaut"]]
    a = get_embedder("dlib", batch_size=1, cache=False).embed(faces)
    b = get_embedder("dlib", batch_size=3, cache=False).embed(np.stack(faces))
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert get_embedder("dlib").embed([]).shape == (0, 128)


def test_dlib_rejects_bad_inputs(aligned: dict[str, np.ndarray]) -> None:
    emb = get_embedder("dlib")
    with pytest.raises(ConfigError, match="512x512"):
        emb.embed([aligned["obama"][:256, :256]])
    with pytest.raises(ConfigError, match="RGB uint8"):
        emb.embed([aligned["obama"].astype(np.float32)])
    with pytest.raises(ConfigError, match="CPU only"):
        get_embedder("dlib", device="cuda", cache=False)
    info = emb.info()
    assert info["dim"] == 128 and len(info["weights_sha256"]) == 64 and info["default_threshold"] == 0.085
