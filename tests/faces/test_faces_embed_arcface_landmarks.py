"""ArcFace code path with a tiny random ONNX model; FaceNet on real photos; landmarkers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bfrbench.errors import ConfigError, MissingWeightsError
from bfrbench.faces import get_embedder, get_landmarker


@pytest.fixture(scope="session")
def tiny_arcface(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random conv net with insightface's recognition I/O: input.1 (N,3,112,112) -> (N,512)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 4, stride=4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(4),
                              torch.nn.Flatten(), torch.nn.Linear(128, 512))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    path = tmp_path_factory.mktemp("onnx") / "tiny_arcface.onnx"
    torch.onnx.export(net.eval(), (torch.zeros(1, 3, 112, 112),), str(path), input_names=["input.1"],
                      output_names=["fc1"], dynamic_axes={"input.1": {0: "n"}, "fc1": {0: "n"}}, dynamo=False)
    return path


def test_arcface_random_onnx_path(tiny_arcface: Path, aligned: dict[str, np.ndarray]) -> None:
    faces = [aligned["obama"], aligned["obama2"], aligned["biden"]]
    for crop in ("refldm", "norm_crop"):
        emb = get_embedder("arcface", model_path=tiny_arcface, crop=crop, batch_size=2, cache=False)
        e = emb.embed(faces)
        assert e.shape == (3, 512) and e.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
        one = np.concatenate([emb.embed([f]) for f in faces])
        np.testing.assert_allclose(e, one, atol=1e-5)  # batch-size invariant
        assert emb.model_id.endswith(crop) and len(emb.weights_sha256 or "") == 64


def test_refldm_input_matches_torch_area_resize(aligned: dict[str, np.ndarray]) -> None:
    import torch

    from bfrbench.faces.embed_arcface import refldm_input

    x = refldm_input([aligned["obama"]])
    t = torch.from_numpy(aligned["obama"].astype(np.float32)).permute(2, 0, 1)[None] / 255.0 * 2 - 1
    ref = torch.nn.functional.interpolate(t[:, :, 32:480, 32:480], (112, 112), mode="area").numpy()
    np.testing.assert_allclose(x, ref, atol=1e-5)


def test_arcface_default_weights_missing_is_clear() -> None:
    with pytest.raises(MissingWeightsError, match="insightface_webface_r50.onnx"):
        get_embedder("arcface", cache=False)
    with pytest.raises(ConfigError, match="unknown ArcFace model"):
        get_embedder("arcface", model="r1000", cache=False)


def test_facenet_same_person_closer(aligned: dict[str, np.ndarray]) -> None:
    emb = get_embedder("facenet")
    e = emb.embed([aligned["obama"], aligned["obama2"], aligned["biden"]])
    d = 1.0 - e @ e.T
    print("facenet cosine distance obama-obama2", round(float(d[0, 1]), 4), "obama-biden", round(float(d[0, 2]), 4))
    assert e.shape == (3, 512) and d[0, 1] < d[0, 2]


def test_dlib68_landmarks_and_nan_rows(aligned: dict[str, np.ndarray]) -> None:
    from bfrbench.faces.warp import FFHQ_TEMPLATE_512

    lm = get_landmarker("dlib68").landmarks([aligned["obama"], np.full((512, 512, 3), 128, np.uint8)])
    assert lm.shape == (2, 68, 2) and lm.dtype == np.float64
    assert np.isnan(lm[1]).all() and np.isfinite(lm[0]).all()
    eye = lm[0, 36:42].mean(axis=0)
    assert np.linalg.norm(eye - FFHQ_TEMPLATE_512[0]) < 15.0
    fixed = get_landmarker("dlib68", fallback="fixed", cache=False).landmarks([np.full((512, 512, 3), 128, np.uint8)])
    assert np.isfinite(fixed).all()


def test_awing98_missing_weights_is_clear() -> None:
    with pytest.raises(MissingWeightsError, match="alignment_WFLW_4HG.pth"):
        get_landmarker("awing98", cache=False)


def test_sample_photos_complete(photos: dict[str, Path]) -> None:
    from bfrbench.faces.samples import SAMPLE_NAMES, SamplesError, sample_photos
    from bfrbench.io import read_image

    assert tuple(photos) == SAMPLE_NAMES
    assert read_image(photos["tom_hanks"]).shape == (112, 112, 3)
    assert read_image(photos["astronaut"]).shape == (512, 512, 3)
    with pytest.raises(SamplesError, match="unknown sample"):
        sample_photos(names=("nobody",))
