"""ids / deg / lmd formulas with small fake backends (the real dlib backends run in test_engine.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bfrbench.metrics import _faces
from bfrbench.metrics._base import ImageItem, Shared, parse_spec
from bfrbench.metrics.identity import DEG, IDS
from bfrbench.metrics.landmarks import LMD


class FakeEmbedder:
    """Embeds an image as the L2-normalised mean colour; all-black images have 'no face' (zero row)."""

    model_id = "fake-mean-colour"
    weights_sha256 = None

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        self.calls += len(images)
        e = np.array([im.reshape(-1, 3).mean(0) for im in images], dtype=np.float64)
        n = np.linalg.norm(e, axis=1, keepdims=True)
        return (e / np.where(n > 0, n, 1)).astype(np.float32)


class FakeLandmarker:
    model_id = "fake-bright-points"
    weights_sha256 = None

    def landmarks(self, images: list[np.ndarray]) -> np.ndarray:
        out = np.full((len(images), 3, 2), np.nan)
        for i, im in enumerate(images):
            if im.any():
                ys, xs = np.nonzero(im[..., 0] > 200)
                out[i] = [[xs.min(), ys.min()], [xs.max(), ys.max()], [xs.mean(), ys.mean()]]
        return out


def _img(rgb: tuple[int, int, int]) -> np.ndarray:
    return np.tile(np.array(rgb, np.uint8), (16, 16, 1))


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeEmbedder:
    emb = FakeEmbedder()
    monkeypatch.setattr(_faces, "embedder", lambda backend, device="cpu": emb)
    monkeypatch.setattr(_faces, "landmarker", lambda backend, device="cpu": FakeLandmarker())
    return emb


def test_ids_and_deg_from_embeddings(fake: FakeEmbedder) -> None:
    r = [ImageItem("a", _img((200, 10, 10)), "r1"), ImageItem("b", _img((0, 0, 0)), "r2")]
    h = [ImageItem("a", _img((10, 200, 10)), "h1"), ImageItem("b", _img((5, 5, 5)), "h2")]
    shared = Shared()
    ids, errs = IDS("dlib").score_pairs(r, h, shared)
    u, v = np.array([200, 10, 10.0]), np.array([10, 200, 10.0])
    cos = u @ v / np.linalg.norm(u) / np.linalg.norm(v)
    assert ids[0] == pytest.approx(cos, abs=1e-6) and errs[0] is None
    assert np.isnan(ids[1]) and "no face found" in errs[1] and "restored image" in errs[1]
    deg, _ = DEG("dlib").score_pairs(r, h, shared)
    assert deg[0] == pytest.approx(np.degrees(np.arccos(cos)), abs=1e-4)
    assert fake.calls == 4  # ids and deg shared the embeddings of the shard


def test_identity_default_variant_falls_back_to_dlib_without_arcface() -> None:
    # no ArcFace file is present in the test BFRBENCH_HOME
    assert not _faces.backend_present("arcface")
    assert parse_spec("ids").column == "ids:dlib"
    assert parse_spec("deg").column == "deg:dlib"
    assert parse_spec("ids:arcface").column == "ids:arcface"


def test_lmd_mean_point_distance(fake: Any) -> None:
    a = np.zeros((20, 20, 3), np.uint8)
    a[2, 3] = a[10, 12] = 255
    b = np.zeros((20, 20, 3), np.uint8)
    b[5, 7] = b[10, 12] = 255
    vals, errs = LMD("dlib68").score_pairs([ImageItem("x", a, "a"), ImageItem("y", a, "a")],
                                           [ImageItem("x", b, "b"), ImageItem("y", np.zeros_like(b), "z")], Shared())
    pa = np.array([[3, 2], [12, 10], [7.5, 6]])
    pb = np.array([[7, 5], [12, 10], [9.5, 7.5]])
    assert vals[0] == pytest.approx(np.linalg.norm(pa - pb, axis=1).mean())
    assert np.isnan(vals[1]) and "HQ image" in errs[1]


def test_cpu_only_backends_ignore_a_gpu_device() -> None:
    """dlib runs on the CPU: asking for --device cuda must not break ids:dlib (the embedder is built on cpu)."""
    emb = _faces.embedder("dlib", "cuda")
    assert emb is _faces.embedder("dlib", "cpu") or emb.device == "cpu"
