"""DT-BFR RAW presets through `build_testset`: real faces, manifest columns, replay, determinism, offline errors.

The presets need two downloaded files (the CCM/AWB dictionary, CC BY-NC-SA, and the DemosaicNet weights);
here they are replaced, through the same code paths, by a small dictionary in the official pickle layout
and randomly initialised DemosaicNet weights in the official state-dict layout.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from dtbfr_raw_helpers import write_dictionary

from bfrbench.degrade.raw_noise_model import noise_params
from bfrbench.degrade.recipe import list_presets, load_recipe, presets_dir
from bfrbench.io import read_image
from bfrbench.rng import item_generator
from bfrbench.testset.build import build_testset

COMMIT = "ec3d4043e4d0c610fe7e345448cc1298e132b5dd"
PRESETS = ["dtbfr-raw-iso1500", "dtbfr-raw-iso3000", "dtbfr-raw-iso1500-classical", "dtbfr-raw-iso3000-classical"]


def _real_faces(d: Path) -> Path:
    """Two real faces at 64 px: the astronaut (scikit-image, public domain) and Tom Hanks (insightface wheel)."""
    import skimage.data

    d.mkdir(parents=True, exist_ok=True)
    astro = cv2.resize(skimage.data.astronaut()[0:240, 100:340], (64, 64), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(d / "astronaut.png"), astro[..., ::-1])
    try:
        import insightface

        hanks = cv2.imread(os.path.join(os.path.dirname(insightface.__file__), "data/images/Tom_Hanks_54745.png"))
    except ImportError:  # pragma: no cover - insightface is in the pinned stack
        hanks = None
    if hanks is None:  # pragma: no cover
        hanks = skimage.data.astronaut()[20:260, 120:360, ::-1]
    cv2.imwrite(str(d / "hanks.png"), cv2.resize(hanks, (64, 64), interpolation=cv2.INTER_AREA))
    return d


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dtbfr_raw")
    src = _real_faces(root / "src")
    dictionary = write_dictionary(root / "ccm_awb.p", n=10, seed=1)
    from bfrbench.degrade.demosaicnet import BayerDemosaicNet

    torch.manual_seed(0)
    weights = root / "bayer_random.pth"
    torch.save(BayerDemosaicNet().state_dict(), weights)
    recipes = {}
    for preset in ("dtbfr-raw-iso1500", "dtbfr-raw-iso3000-classical"):
        f = root / f"{preset}-tiny.yaml"
        f.write_text(f"include: {preset}\nname: {preset}-tiny\nsize: 64\nmin_size: 32\noverride:\n"
                     f"  raw_inverse_isp: {{dictionary: {dictionary}}}\n"
                     + (f"  demosaic: {{weights: {weights}}}\n" if "classical" not in preset else ""))
        recipes[preset] = f
    out = root / "set1500"
    res = build_testset(recipes["dtbfr-raw-iso1500"], src, out, seed=3, show_progress=False)
    assert (res.ok, res.failed) == (2, 0), res.failures
    return {"root": root, "src": src, "out": out, "r1500": recipes["dtbfr-raw-iso1500"],
            "r3000c": recipes["dtbfr-raw-iso3000-classical"]}


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_presets_resolve_and_cite_the_official_commit() -> None:
    assert set(PRESETS) <= set(list_presets())
    for name in PRESETS:
        rec = load_recipe(name)
        assert [s.name for s in rec.steps] == [
            "degamma", "raw_inverse_isp", "downsample", "clip", "bayer_mosaic", "raw_noise", "black_level",
            "demosaic", "raw_render", "resize", "clip", "truncate_uint8"]
        raw_noise = rec.to_dict()["steps"][5]
        assert raw_noise["iso"] == (1500 if "1500" in name else 3000)
        demosaic = rec.to_dict()["steps"][7]
        assert demosaic["method"] == ("opencv_ea" if name.endswith("classical") else "demosaicnet")
        assert COMMIT in (presets_dir() / f"{name}.yaml").read_text()


def test_manifest_columns_and_recorded_parameters(setup: dict[str, Path]) -> None:
    table = pq.read_table(setup["out"] / "manifest.parquet")
    cols = table.column_names
    expected = (["illum_r", "illum_g", "illum_b"] + [f"ccm_{i}" for i in range(9)] + [f"knn_{i}" for i in range(3)]
                + [f"knn_mse_{i}" for i in range(3)] + ["illum_rejected", "scale", "iso"]
                + [f"noise_shot_{c}" for c in range(4)] + [f"noise_read_{c}" for c in range(4)])
    assert cols[cols.index("illum_r"):] == expected
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == ["astronaut", "hanks"]
    shot, read = noise_params(1500)
    for r in rows:
        assert r["iso"] == 1500 and r["scale"] == 4.0
        assert [r[f"noise_shot_{c}"] for c in range(4)] == shot.tolist()
        assert [r[f"noise_read_{c}"] for c in range(4)] == read.tolist()
        assert r["illum_g"] == pytest.approx(1.0, abs=1e-12) and 0 <= min(r["knn_0"], r["knn_1"], r["knn_2"]) < 10
    assert rows[0]["ccm_0"] != rows[1]["ccm_0"]  # each image draws its own colour pipeline
    lq = read_image(setup["out"] / "lq" / "astronaut.png")
    assert lq.shape == (64, 64, 3)


def test_lq_replays_from_seed_and_manifest(setup: dict[str, Path]) -> None:
    rec = load_recipe(setup["r1500"])
    row = next(r for r in pq.read_table(setup["out"] / "manifest.parquet").to_pylist() if r["id"] == "hanks")
    hq = read_image(setup["out"] / "hq" / "hanks.png")
    rng = item_generator(3, "hanks")
    params = rec.sample(rng)
    for k, v in params.items():
        assert row[k] == v, k
    lq = rec.apply(hq, params, rng)
    assert np.array_equal(lq, read_image(setup["out"] / "lq" / "hanks.png"))


def test_deterministic_across_runs_workers_and_subsets(setup: dict[str, Path]) -> None:
    out2 = setup["root"] / "set1500_w2"
    res = build_testset(setup["r1500"], setup["src"], out2, seed=3, workers=2, show_progress=False)
    assert res.ok == 2
    for sub in ("lq/astronaut.png", "lq/hanks.png", "manifest.parquet"):
        assert _sha(out2 / sub) == _sha(setup["out"] / sub), sub
    # an image's LQ depends on (seed, id) only: building a subset (e.g. DT-BFR's last-500 test split) gives
    # the same bytes as the full build
    only = setup["root"] / "only_hanks"
    only.mkdir()
    (only / "hanks.png").write_bytes((setup["src"] / "hanks.png").read_bytes())
    build_testset(setup["r1500"], only, setup["root"] / "subset", seed=3, show_progress=False)
    assert _sha(setup["root"] / "subset" / "lq" / "hanks.png") == _sha(setup["out"] / "lq" / "hanks.png")
    other = build_testset(setup["r1500"], setup["src"], setup["root"] / "seed4", seed=4, show_progress=False)
    assert other.ok == 2
    assert _sha(setup["root"] / "seed4" / "lq" / "hanks.png") != _sha(setup["out"] / "lq" / "hanks.png")


def test_classical_variant_builds_without_demosaicnet(setup: dict[str, Path]) -> None:
    out = setup["root"] / "set3000c"
    res = build_testset(setup["r3000c"], setup["src"], out, seed=3, show_progress=False)
    assert (res.ok, res.failed) == (2, 0)
    rows = pq.read_table(out / "manifest.parquet").to_pylist()
    assert {r["iso"] for r in rows} == {3000}
    # same seed and id: same colour draws as the ISO-1500 set, different noise and demosaic
    first = pq.read_table(setup["out"] / "manifest.parquet").to_pylist()
    assert [r["ccm_4"] for r in rows] == [r["ccm_4"] for r in first]
    assert _sha(out / "lq" / "astronaut.png") != _sha(setup["out"] / "lq" / "astronaut.png")


def test_missing_dictionary_is_a_per_image_failure_naming_the_fetch_command(setup: dict[str, Path]) -> None:
    f = setup["root"] / "nodict.yaml"  # the real preset at 64 px, dictionary not downloaded
    f.write_text("include: dtbfr-raw-iso1500-classical\nname: nodict\nsize: 64\nmin_size: 32\n")
    res = build_testset(f, setup["src"], setup["root"] / "nodict", seed=0, show_progress=False)
    assert res.ok == 0 and res.failed == 2
    assert all("bfrbench weights fetch dtbfr-ccm-awb-dictionary" in f["reason"] for f in res.failures)


def test_dtbfr_suite_uses_existing_presets_metrics_and_methods() -> None:
    from bfrbench.leaderboard.suite import load_suite
    from bfrbench.methods import METHODS
    from bfrbench.metrics._base import parse_spec

    suite = load_suite("dtbfr")
    assert [(t.name, t.preset) for t in suite.testsets] == [("dtbfr-iso1500", "dtbfr-raw-iso1500"),
                                                            ("dtbfr-iso3000", "dtbfr-raw-iso3000")]
    assert suite.protocol == "dtbfr" and suite.fid_stats == "fid-stats-celeba-test500-dtbfr"
    assert {parse_spec(m.spec).column for m in suite.metrics} == {
        "psnr:vqfr", "ssim:vqfr", "lpips:vgg", "fid:legacy-stats", "musiq:pyiqa", "maniqa:pyiqa"}
    assert all(m.name in METHODS for m in suite.methods)
    from bfrbench.metrics import metric_info

    assert all(isinstance(metric_info(m.spec).higher_is_better, bool) for m in suite.metrics)
    assert suite.source == {"kind": "folder", "path": "test_hq", "align": False, "size": 512}
