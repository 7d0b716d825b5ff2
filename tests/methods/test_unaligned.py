"""--unaligned on a real group photo (insightface's t1.jpg, 6 faces) with the offline dlib detector."""

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from bfrbench.io import read_image
from bfrbench.methods.runner import restore


@pytest.fixture(scope="module")
def group_photo_dir(tmp_path_factory) -> Path:
    spec = importlib.util.find_spec("insightface")  # locate the wheel's photo without importing insightface
    if spec is None or spec.origin is None or importlib.util.find_spec("dlib") is None:
        pytest.skip("insightface (for t1.jpg) or dlib-bin (offline detector) is not installed")
    src = Path(spec.origin).parent / "data" / "images" / "t1.jpg"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    d = tmp_path_factory.mktemp("photos")
    shutil.copy(src, d / "t1.jpg")
    (d / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    return d


def test_unaligned_restores_each_face_and_pastes_back(group_photo_dir, tmp_path):
    out = tmp_path / "run"
    s = restore("toy", group_photo_dir, out, unaligned=True, seed=1, options={"strength": 40.0})
    photo = read_image(group_photo_dir / "t1.jpg")
    full = read_image(out / "t1.png")
    assert full.shape == photo.shape
    crops = sorted((out / "faces").glob("t1_*.png"))
    assert len(crops) == 6  # every face of the group photo
    changed = np.any(full != photo, axis=2)
    # the union of the six aligned 512x512 squares, mapped back into the photo
    import cv2

    from bfrbench.faces import align_face, get_detector

    region = np.zeros(photo.shape[:2], np.uint8)
    for face in get_detector().detect(photo):
        _, affine = align_face(photo, face.landmarks, 512)
        square = cv2.warpAffine(np.ones((512, 512), np.uint8), cv2.invertAffineTransform(affine), photo.shape[1::-1])
        region |= square
    region = cv2.dilate(region, np.ones((5, 5), np.uint8)).astype(bool)
    assert not changed[~region].any()  # nothing outside the face squares is touched
    assert changed[region].mean() > 0.5 and 0.05 < region.mean() < 0.9
    assert s["counts"]["ok"] == 1 and [f["id"] for f in s["failures"]] == ["broken"]
    assert "broken.jpg" in s["failures"][0]["reason"]
    assert s["unaligned"] is True and s["testset"]["manifest_sha256"] is None


def test_unaligned_identity_method_leaves_the_photo_nearly_unchanged(group_photo_dir, tmp_path):
    restore("lq", group_photo_dir, tmp_path / "r", unaligned=True)
    photo = read_image(group_photo_dir / "t1.jpg").astype(int)
    full = read_image(tmp_path / "r" / "t1.png").astype(int)
    # warping there and back only resamples: the mean error stays well under 1 grey level
    assert np.abs(full - photo).mean() < 1.0
