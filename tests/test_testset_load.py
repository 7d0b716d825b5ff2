"""bfrbench.testset.load / export_parquet: Hugging Face datasets with Image features, self-contained parquet."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bfrbench.errors import ArtifactError
from bfrbench.io import read_image
from bfrbench.testset import build_testset, export_parquet, load

TINY = """
name: tiny-load
version: 2
size: 24
min_size: 8
steps:
  - {op: blur, kernel_size: 5, kernel_type: iso, sigma: [0.5, 1.5]}
  - {op: downsample, scale: [1.5, 3.0]}
  - {op: jpeg, quality: [40, 60]}
  - {op: resize}
"""


@pytest.fixture(scope="module")
def testset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import cv2
    import skimage.data

    root = tmp_path_factory.mktemp("load")
    src = root / "src"
    src.mkdir()
    astro = skimage.data.astronaut()
    for i, (y, x) in enumerate([(0, 100), (50, 150), (100, 200)]):
        crop = np.ascontiguousarray(astro[y:y + 240, x:x + 240])
        cv2.imwrite(str(src / f"a{i}.png"), cv2.resize(crop, (24, 24), interpolation=cv2.INTER_AREA)[..., ::-1])
    (root / "tiny.yaml").write_text(TINY)
    res = build_testset(root / "tiny.yaml", src, root / "set", seed=1)
    assert res.ok == 3
    return root / "set"


def test_load_dataset_with_image_features(testset: Path) -> None:
    import datasets

    ds = load(testset)
    assert isinstance(ds, datasets.Dataset) and len(ds) == 3
    assert isinstance(ds.features["hq"], datasets.Image) and isinstance(ds.features["lq"], datasets.Image)
    assert ds["id"] == ["a0", "a1", "a2"]
    row = ds[1]
    np.testing.assert_array_equal(np.asarray(row["lq"].convert("RGB")), read_image(testset / "lq/a1.png"))
    assert row["kernel_type"] == "iso" and 1.5 <= row["scale"] <= 3.0 and 40 <= row["jpeg_quality"] <= 60
    assert row["sigma_y"] is None and row["preset"] == "tiny-load"


def test_export_parquet_embeds_bytes_and_rereads_without_folder(testset: Path, tmp_path: Path) -> None:
    import datasets

    copy = tmp_path / "copy"
    shutil.copytree(testset, copy)
    out = export_parquet(copy, tmp_path / "set.parquet")
    expected = {i: read_image(copy / f"lq/{i}.png") for i in ("a0", "a1", "a2")}
    shutil.rmtree(copy)  # the parquet file must be self-contained
    ds = datasets.Dataset.from_parquet(str(out))
    assert len(ds) == 3 and ds["id"] == ["a0", "a1", "a2"]
    for row in ds:
        np.testing.assert_array_equal(np.asarray(row["lq"].convert("RGB")), expected[row["id"]])
        assert row["hq"].size == (24, 24)


def test_load_errors_name_the_folder(tmp_path: Path, testset: Path) -> None:
    with pytest.raises(ArtifactError, match="testset.json: not found"):
        load(tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(testset, broken)
    (broken / "lq" / "a2.png").unlink()
    with pytest.raises(ArtifactError, match="a2.png: listed in the manifest but missing"):
        load(broken)
