"""evaluate() end to end: offline suite, outputs, cache, bad inputs, worker-count invariance, CLI exits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from manifest_factory import write_manifest
from metrics_helpers import make_testset

from bfrbench.cli import main
from bfrbench.errors import ArtifactError, ConfigError, MissingWeightsError, RegistryError
from bfrbench.io import read_image, write_png
from bfrbench.metrics.engine import bootstrap_ci, default_metric_specs, evaluate
from bfrbench.metrics.niqe import niqe
from bfrbench.metrics.psnr_ssim import psnr, ssim

OFFLINE = ["psnr", "ssim", "niqe", "fid", "kid", "ids:dlib", "deg:dlib", "lmd:dlib68"]


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, dict]:
    root = tmp_path_factory.mktemp("e2e")
    ts, rs, _ = make_testset(root, 3, 512)
    with pytest.MonkeyPatch.context() as mp:  # module-scoped cache, reused by the re-scoring test
        mp.setenv("BFRBENCH_HOME", str(root / "home"))
        summary = evaluate(ts, rs, root / "eval", metrics=OFFLINE, batch_size=2, log=None)
    return ts, rs, root, summary


def test_offline_suite_end_to_end(offline_run: tuple[Path, Path, Path, dict]) -> None:
    ts, rs, root, summary = offline_run
    df = pd.read_parquet(root / "eval" / "per_image.parquet")
    assert list(df.columns) == ["id", "psnr:rgb", "ssim:rgb", "niqe:basicsr", "ids:dlib", "deg:dlib", "lmd:dlib68",
                                "error"]
    assert df["error"].isna().all(), df["error"].tolist()
    for _, row in df.iterrows():
        r, h = read_image(rs / f"{row['id']}.png"), read_image(ts / "hq" / f"{row['id']}.png")
        assert row["psnr:rgb"] == pytest.approx(psnr(r, h), rel=1e-12)
        assert row["ssim:rgb"] == pytest.approx(ssim(r, h), rel=1e-12)
        assert row["niqe:basicsr"] == pytest.approx(niqe(r), rel=1e-12)
        assert row["ids:dlib"] == pytest.approx(np.cos(np.radians(row["deg:dlib"])), abs=1e-6)
        assert 0.9 < row["ids:dlib"] <= 1.0 and 0 <= row["lmd:dlib68"] < 5  # same person, mild blur
    m = summary["metrics"]["psnr:rgb"]
    assert m["mean"] == pytest.approx(df["psnr:rgb"].mean()) and m["n"] == 3
    assert m["ci95"][0] <= m["mean"] <= m["ci95"][1] and m["higher_is_better"] is True
    assert summary["metrics"]["niqe:basicsr"]["higher_is_better"] is False
    fid = summary["set_metrics"]["fid:legacy-hq"]
    assert fid["value"] > 0 and fid["n"] == 3 and fid["n_reference"] == 3
    kid = summary["set_metrics"]["kid:legacy-hq"]  # shares the Inception features with fid
    assert np.isfinite(kid["value"]) and kid["subsets"] == 100
    inception = [k for k in summary["cache"]["computed"] if k.startswith("inception/")]
    assert len(inception) == 1 and summary["cache"]["computed"][inception[0]] == 6  # 3 restored + 3 HQ, once
    prov = summary["provenance"]
    assert len(prov["testset_manifest_sha256"]) == 64 and len(prov["restored_sha256"]) == 64
    assert prov["weights"]["fid-inception-default_1"].startswith("7ff4a85c")
    assert any("dlib" in n and "ArcFace" in n for n in summary["notes"])
    on_disk = json.loads((root / "eval" / "summary.json").read_text())
    assert on_disk["kind"] == "evaluation" and on_disk["counts"]["with_errors"] == 0


def test_rescore_uses_cache_and_recomputes_only_changed(offline_run: tuple[Path, Path, Path, dict],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ts, rs, root, first = offline_run
    monkeypatch.setenv("BFRBENCH_HOME", str(root / "home"))
    again = evaluate(ts, rs, root / "eval2", metrics=OFFLINE, batch_size=2, log=None)
    assert again["cache"]["computed"] == {}
    for col in first["metrics"]:
        assert again["metrics"][col]["mean"] == first["metrics"][col]["mean"]
    assert again["set_metrics"]["fid:legacy-hq"]["value"] == pytest.approx(first["set_metrics"]["fid:legacy-hq"]["value"],
                                                                           rel=1e-12)


def test_changed_images_are_the_only_ones_recomputed(tmp_path: Path) -> None:
    ts, rs, ids = make_testset(tmp_path, 5, 192)
    evaluate(ts, rs, tmp_path / "e1", metrics=["psnr", "niqe"], log=None)
    for i in ids[:2]:
        img = read_image(rs / f"{i}.png").copy()
        img[0, 0] = 255 - img[0, 0]
        write_png(rs / f"{i}.png", img)
    s = evaluate(ts, rs, tmp_path / "e2", metrics=["psnr", "niqe"], log=None)
    assert s["cache"]["computed"] == {"metric/psnr:rgb/v1": 2, "metric/niqe:basicsr/v2": 2}


def test_bad_inputs_are_reported_per_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ts, rs, ids = make_testset(tmp_path, 6, 192)
    (rs / f"{ids[0]}.png").unlink()  # missing
    img = read_image(rs / f"{ids[1]}.png")  # size mismatch
    write_png(rs / f"{ids[1]}.png", np.ascontiguousarray(np.pad(img, ((0, 8), (0, 8), (0, 0)), mode="reflect")))
    gray = read_image(rs / f"{ids[2]}.png").mean(axis=2).round().astype(np.uint8)  # grayscale output
    write_png(rs / f"{ids[2]}.png", np.repeat(gray[..., None], 3, axis=2))
    shutil.copy(ts / "hq" / f"{ids[3]}.png", rs / f"{ids[3]}.png")  # identical to HQ -> PSNR inf
    (rs / f"{ids[4]}.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # corrupt
    write_png(rs / "stranger.png", img)  # extra
    out = tmp_path / "eval"
    code = main(["evaluate", "--testset", str(ts), "--restored", str(rs), "--out", str(out), "--metrics", "psnr,niqe"])
    assert code == 3
    assert "with errors" in capsys.readouterr().err
    df = pd.read_parquet(out / "per_image.parquet").set_index("id")
    err = df["error"].to_dict()
    assert "missing" in err[ids[0]] and np.isnan(df.loc[ids[0], "psnr:rgb"])
    assert "size mismatch: restored 200x200, HQ 192x192" in err[ids[1]]
    assert np.isnan(df.loc[ids[1], "psnr:rgb"]) and np.isfinite(df.loc[ids[1], "niqe:basicsr"])  # NR still scored
    assert "grayscale" in err[ids[2]] and np.isfinite(df.loc[ids[2], "psnr:rgb"])
    assert "non-finite value inf" in err[ids[3]] and np.isnan(df.loc[ids[3], "psnr:rgb"])
    assert "unreadable" in err[ids[4]] and ids[4] in err[ids[4]]
    assert pd.isna(err[ids[5]]) and np.isfinite(df.loc[ids[5], "psnr:rgb"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["problems"]["missing"] == [ids[0]] and summary["problems"]["extra"] == ["stranger"]
    assert summary["counts"] == {"expected": 6, "found": 6, "scored": 5, "missing": 1, "extra": 1,
                                 "with_errors": 5, "failed": 5}
    assert summary["metrics"]["psnr:rgb"]["n"] == 2  # ids[2] and ids[5]
    assert any("wrong count" in n for n in summary["notes"]) is False  # 6 files for 6 ids, but not the same ones


def test_wrong_count_and_fatal_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ts, rs, ids = make_testset(tmp_path, 3, 192)
    (rs / f"{ids[2]}.png").unlink()
    s = evaluate(ts, rs, tmp_path / "e", metrics=["psnr"], log=None)
    assert any("wrong count: the test set has 3 images" in n for n in s["notes"])
    with pytest.raises(ArtifactError, match="manifest.parquet"):
        evaluate(rs, rs, tmp_path / "e", metrics=["psnr"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ArtifactError, match="none of its 0 images"):
        evaluate(ts, empty, tmp_path / "e", metrics=["psnr"])
    with pytest.raises(MissingWeightsError, match="lpips:vgg.*vgg16-397923af.pth"):
        evaluate(ts, rs, tmp_path / "e", metrics=["lpips"])
    with pytest.raises(RegistryError, match="did you mean 'psnr'"):
        evaluate(ts, rs, tmp_path / "e", metrics=["psnrr"])
    with pytest.raises(ConfigError, match="fid_stats=FILE.npz"):
        evaluate(ts, rs, tmp_path / "e", metrics=["fid:legacy-stats"])
    assert main(["evaluate", "--testset", str(ts), "--restored", str(rs), "--out", str(tmp_path / "e"),
                 "--metrics", "lpips:alex"]) == 1
    assert "alexnet-owt-7be5be79.pth" in capsys.readouterr().err


def test_default_metric_set_is_everything_present() -> None:
    specs = default_metric_specs()
    for s in ("psnr:rgb", "ssim:rgb", "niqe:basicsr", "fid:legacy-hq", "ids:dlib", "deg:dlib", "lmd:dlib68",
              "ids:facenet"):
        assert s in specs
    assert not any(s.startswith(("lpips", "musiq", "maniqa", "clipiqa", "ids:arcface")) for s in specs)
    nr_only = default_metric_specs(has_hq=False)
    assert nr_only == ["niqe:basicsr"]


def test_results_do_not_depend_on_worker_count(tmp_path: Path) -> None:
    ts, rs, _ = make_testset(tmp_path, 4, 192)
    one = evaluate(ts, rs, tmp_path / "w1", metrics=["psnr:y", "niqe"], batch_size=1, cache=False, log=None)
    two = evaluate(ts, rs, tmp_path / "w2", metrics=["psnr:y", "niqe"], batch_size=1, workers=2, cache=False, log=None)
    a = pd.read_parquet(tmp_path / "w1" / "per_image.parquet")
    b = pd.read_parquet(tmp_path / "w2" / "per_image.parquet")
    pd.testing.assert_frame_equal(a, b)
    assert one["metrics"] == two["metrics"]


def test_bootstrap_ci_is_seeded() -> None:
    x = np.arange(20, dtype=float)
    assert bootstrap_ci(x, seed=0) == bootstrap_ci(x, seed=0)
    lo, hi = bootstrap_ci(x, seed=0)
    assert lo < x.mean() < hi and hi - lo < 8
    assert bootstrap_ci(np.array([np.nan])) == [None, None]


def test_metrics_list_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics", "list", "--json"]) == 0
    rows = {r["spec"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["psnr:rgb"]["weights_present"] and rows["psnr:rgb"]["default"]
    assert not rows["lpips:vgg"]["weights_present"] and rows["lpips:vgg"]["weights"] == ["torchvision-vgg16"]
    assert rows["niqe:basicsr"]["higher_is_better"] is False and rows["fid:legacy-hq"]["kind"] == "set"
    assert main(["metrics", "list"]) == 0
    assert "ids:dlib" in capsys.readouterr().out


def test_fid_against_a_statistics_file(tmp_path: Path) -> None:
    from bfrbench.metrics.fid import frechet_distance_features, save_stats

    ts, rs, _ = make_testset(tmp_path, 3, 96)
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=2048) * 0.1, np.eye(2048) * 0.05
    good, wrong = tmp_path / "legacy.npz", tmp_path / "clean.npz"
    save_stats(good, mu, sigma, n=100, resize="legacy", source_sha256="0" * 64)
    save_stats(wrong, mu, sigma, n=100, resize="clean", source_sha256="0" * 64)
    s = evaluate(ts, rs, tmp_path / "e", metrics=["fid:legacy-stats"], fid_stats=str(good), log=None)
    res = s["set_metrics"]["fid:legacy-stats"]
    from bfrbench.io import read_image
    from bfrbench.metrics.fid import InceptionFeatures

    feats = InceptionFeatures("legacy")([read_image(p) for p in sorted(rs.glob("*.png"))])
    assert res["value"] == pytest.approx(frechet_distance_features(feats, (mu, sigma)), rel=1e-6)
    assert res["n_reference"] == 100 and s["provenance"]["fid_stats"]["resize"] == "legacy"
    with pytest.raises(ConfigError, match="resize mode 'clean'.*fid:clean-stats"):
        evaluate(ts, rs, tmp_path / "e2", metrics=["fid:legacy-stats"], fid_stats=str(wrong), log=None)
    with pytest.raises(ArtifactError, match="not found"):
        evaluate(ts, rs, tmp_path / "e2", metrics=["fid:legacy-stats"], fid_stats=str(tmp_path / "nope.npz"))


def test_lq_only_test_set_gets_no_reference_metrics(tmp_path: Path) -> None:
    ts, rs, _ = make_testset(tmp_path, 2, 192)
    df = pd.read_parquet(ts / "manifest.parquet")
    write_manifest(ts, [{**r, "hq_path": None} for r in df.to_dict("records")])
    with pytest.raises(ConfigError, match="needs HQ images"):
        evaluate(ts, rs, tmp_path / "e", metrics=["psnr"])
    s = evaluate(ts, rs, tmp_path / "e", metrics=None, log=None)
    assert list(s["metrics"]) == ["niqe:basicsr"] and s["set_metrics"] == {}
    assert s["metrics"]["niqe:basicsr"]["n"] == 2
