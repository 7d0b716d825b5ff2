"""build_testset: artifact layout, determinism across worker counts, resume, bad inputs, LQ-only sets, CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from bfrbench.cli import main
from bfrbench.degrade import load_recipe
from bfrbench.io import list_images, read_image, sha256_file
from bfrbench.rng import item_generator
from bfrbench.testset import assign_ids, build_testset, verify_testset

TINY = """
name: tiny
version: 1
size: 32
min_size: 16
steps:
  - {op: blur, kernel_size: 7, sigma: [0.2, 2.0]}
  - {op: downsample, scale: [1.0, 4.0]}
  - {op: gaussian_noise, sigma: [0, 20]}
  - {op: jpeg, quality: [30, 90]}
  - {op: resize}
"""


def synthetic_face(seed: int, size: int) -> np.ndarray:
    """A face-like RGB uint8 image: skin ellipse, eyes, mouth, textured background."""
    rng = np.random.default_rng(seed)
    img = (rng.integers(40, 90, (size, size, 3))).astype(np.uint8)
    c = size // 2
    skin = tuple(int(v) for v in rng.integers(120, 230, 3))
    cv2.ellipse(img, (c, c), (size * 3 // 10, size * 4 // 10), 0, 0, 360, skin, -1)
    for dx in (-1, 1):
        cv2.circle(img, (c + dx * size // 7, c - size // 10), max(1, size // 20), (20, 20, 20), -1)
    cv2.ellipse(img, (c, c + size // 5), (size // 8, max(1, size // 25)), 0, 0, 360, (150, 40, 50), -1)
    return img


def save(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.ascontiguousarray(img[..., ::-1]))


@pytest.fixture(scope="session")
def tiny_recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    f = tmp_path_factory.mktemp("recipe") / "tiny.yaml"
    f.write_text(TINY, encoding="utf-8")
    return f


@pytest.fixture(scope="session")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 good faces (sizes 32, 48 and 24 -> resized to 32), one duplicate stem in a subfolder."""
    d = tmp_path_factory.mktemp("faces")
    for i, size in enumerate([32, 32, 48, 24, 32]):
        save(d / f"face{i}.png", synthetic_face(i, size))
    save(d / "sub" / "face0.jpg", synthetic_face(99, 32))
    return d


@pytest.fixture(scope="session")
def bad_faces(tmp_path_factory: pytest.TempPathFactory, faces: Path) -> Path:
    d = tmp_path_factory.mktemp("bad")
    shutil.copy(faces / "face1.png", d / "good.png")
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (d / "empty.jpg").write_bytes(b"")
    save(d / "tiny.png", synthetic_face(3, 8))
    save(d / "wide.png", np.zeros((32, 48, 3), np.uint8))
    return d


@pytest.fixture(scope="session")
def built_1(tmp_path_factory: pytest.TempPathFactory, faces: Path, tiny_recipe: Path) -> Path:
    out = tmp_path_factory.mktemp("ts1") / "set"
    res = build_testset(tiny_recipe, faces, out, seed=5)
    assert res.ok == 6 and res.failed == 0 and res.resumed == 0
    return out


def test_layout_manifest_and_record(built_1: Path, faces: Path, tiny_recipe: Path) -> None:
    table = pq.read_table(built_1 / "manifest.parquet")
    cols = table.column_names
    assert cols[:8] == ["id", "hq_path", "lq_path", "hq_sha256", "lq_sha256", "src_path", "preset", "seed"]
    assert {"kernel_type", "sigma_x", "sigma_y", "angle", "scale", "noise_sigma", "jpeg_quality"} <= set(cols)
    assert str(table.schema.field("seed").type) == "int64" and str(table.schema.field("jpeg_quality").type) == "int64"
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == sorted(["face0", "face1", "face2", "face3", "face4", "face0-2"])
    recipe = load_recipe(tiny_recipe)
    for r in rows:
        hq, lq = read_image(built_1 / r["hq_path"]), read_image(built_1 / r["lq_path"])
        assert hq.shape == lq.shape == (32, 32, 3)
        assert sha256_file(built_1 / r["lq_path"]) == r["lq_sha256"] and r["preset"] == "tiny" and r["seed"] == 5
        # the LQ is exactly the recipe applied with the item generator; parameters as recorded
        rng = item_generator(5, r["id"])
        params = recipe.sample(rng)
        assert all(params[k] == r[k] for k in params)
        np.testing.assert_array_equal(recipe.apply(hq, params, rng), lq)
        assert not np.array_equal(hq, lq)
    meta = json.loads((built_1 / "testset.json").read_text())
    assert meta["kind"] == "testset" and meta["format_version"] == 2 and meta["preset"] == "tiny"
    assert meta["recipe"]["steps"][0]["op"] == "blur" and meta["recipe_sha256"] == recipe.sha256
    assert meta["counts"] == {"ok": 6, "failed": 0} and meta["failures"] == []
    assert meta["manifest_sha256"] == sha256_file(built_1 / "manifest.parquet")
    assert meta["environment"]["bfrbench"] and meta["seed"] == 5
    # HQ resized from 48 (INTER_AREA) and from 24 (INTER_CUBIC) to 32
    src48 = read_image(faces / "face2.png")
    np.testing.assert_array_equal(read_image(built_1 / "hq/face2.png"),
                                  cv2.resize(src48, (32, 32), interpolation=cv2.INTER_AREA))
    assert verify_testset(built_1) == {"ok": True, "checked": 12, "problems": []}


def test_one_worker_vs_two_dask_workers_identical(built_1: Path, faces: Path, tiny_recipe: Path,
                                                  tmp_path: Path) -> None:
    out2 = tmp_path / "set2"
    res = build_testset(tiny_recipe, faces, out2, seed=5, workers=2)
    assert res.ok == 6 and res.failed == 0
    # same inputs and seed: manifest bytes identical whatever the worker count and completion order
    assert (out2 / "manifest.parquet").read_bytes() == (built_1 / "manifest.parquet").read_bytes()
    assert res.manifest_sha256 == json.loads((built_1 / "testset.json").read_text())["manifest_sha256"]
    for f in sorted((built_1 / "lq").iterdir()):
        assert (out2 / "lq" / f.name).read_bytes() == f.read_bytes()


def test_other_seed_differs(built_1: Path, faces: Path, tiny_recipe: Path, tmp_path: Path) -> None:
    build_testset(tiny_recipe, faces, tmp_path / "s6", seed=6, limit=2)
    rows = pq.read_table(tmp_path / "s6" / "manifest.parquet").to_pylist()
    assert len(rows) == 2
    ref = {r["id"]: r for r in pq.read_table(built_1 / "manifest.parquet").to_pylist()}
    assert all(r["lq_sha256"] != ref[r["id"]]["lq_sha256"] for r in rows)
    assert all(r["hq_sha256"] == ref[r["id"]]["hq_sha256"] for r in rows)


def test_resume_redoes_only_missing_or_corrupt(built_1: Path, faces: Path, tiny_recipe: Path, tmp_path: Path) -> None:
    out = tmp_path / "resume"
    shutil.copytree(built_1, out)
    ref = {f.name: f.read_bytes() for f in (built_1 / "lq").iterdir()}
    (out / "lq" / "face1.png").unlink()
    (out / "hq" / "face3.png").write_bytes(b"corrupted")
    (out / ".state" / "face4.json").unlink()
    before = {f.name: os.stat(f).st_mtime_ns for f in (out / "lq").iterdir()}
    res = build_testset(tiny_recipe, faces, out, seed=5)
    assert (res.ok, res.resumed, res.failed) == (6, 3, 0)
    for name, data in ref.items():
        assert (out / "lq" / name).read_bytes() == data
    after = {f.name: os.stat(f).st_mtime_ns for f in (out / "lq").iterdir()}
    untouched = {n for n in before if before[n] == after[n]}
    assert untouched == {"face0.png", "face0-2.png", "face2.png"}
    assert verify_testset(out)["ok"]
    # a different seed invalidates every sidecar
    res2 = build_testset(tiny_recipe, faces, out, seed=9)
    assert res2.resumed == 0 and res2.ok == 6


def test_bad_inputs_skipped_and_reported(bad_faces: Path, tiny_recipe: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bad"
    code = main(["build", "testset", "--recipe", str(tiny_recipe), "--src", str(bad_faces), "--out", str(out)])
    assert code == 3
    err = capsys.readouterr().err
    meta = json.loads((out / "testset.json").read_text())
    assert meta["counts"] == {"ok": 1, "failed": 4}
    reasons = {Path(f["input"]).name: f["reason"] for f in meta["failures"]}
    assert set(reasons) == {"corrupt.png", "empty.jpg", "tiny.png", "wide.png"}
    assert "empty" in reasons["empty.jpg"] and "not square" in reasons["wide.png"]
    assert "smaller than the minimum 16x16" in reasons["tiny.png"]
    assert all(name in err for name in reasons)
    assert pq.read_table(out / "manifest.parquet").column("id").to_pylist() == ["good"]


def test_cli_exit_codes_and_json(faces: Path, tmp_path: Path, tiny_recipe: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert main(["build", "testset", "--recipe", str(tiny_recipe), "--src", str(faces), "--out", str(out),
                 "--limit", "2", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["ok"] == 2 and res["failed"] == 0 and res["preset"] == "tiny"
    assert main(["build", "testset", "--preset", "nope", "--src", str(faces), "--out", str(out)]) == 1
    assert "not found" in capsys.readouterr().err
    assert main(["build", "testset", "--preset", "gfpgan", "--src", str(tmp_path / "missing"),
                 "--out", str(out)]) == 1
    assert main(["build", "testset", "--preset", "gfpgan", "--src", str(faces), "--out", str(faces / "x")]) == 1
    assert "is inside --src" in capsys.readouterr().err
    assert main(["validate", str(out)]) == 0
    (out / "lq" / sorted(os.listdir(out / "lq"))[0]).write_bytes(b"x")
    assert main(["validate", str(out)]) == 1
    assert "SHA-256 differs" in capsys.readouterr().out
    assert main(["validate", str(tiny_recipe), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "tiny"


def test_lq_only_real_world_set(faces: Path, tmp_path: Path, tiny_recipe: Path) -> None:
    out = tmp_path / "wider"
    res = build_testset(tiny_recipe, faces, out, lq_only=True, name="WIDER-mini")  # recipe gives size only
    assert res.ok == 6 and res.preset == "lq-only"
    assert not (out / "hq").exists()
    rows = pq.read_table(out / "manifest.parquet").to_pylist()
    assert all(r["hq_path"] is None and r["hq_sha256"] is None for r in rows)
    assert set(pq.read_table(out / "manifest.parquet").column_names) == {
        "id", "hq_path", "lq_path", "hq_sha256", "lq_sha256", "src_path", "preset", "seed", "src_size"}
    assert [r["src_size"] for r in rows if r["id"] == "face2"] == [48]  # resized 48 -> 32, recorded
    np.testing.assert_array_equal(read_image(out / "lq/face0.png"), read_image(faces / "face0.png"))
    assert read_image(out / "lq/face2.png").shape == (32, 32, 3)  # 48 -> recipe size
    meta = json.loads((out / "testset.json").read_text())
    assert meta["lq_only"] is True and meta["recipe"] is None and meta["name"] == "WIDER-mini"
    assert verify_testset(out)["ok"]
    # without a recipe: size 512, min_size 64, so these tiny faces are all rejected with a reason
    res2 = build_testset(None, faces, tmp_path / "lq512", lq_only=True)
    assert res2.ok == 0 and res2.failed == 6
    assert all("smaller than the minimum 64x64" in f["reason"] for f in res2.failures)


def test_assign_ids_unique_in_order() -> None:
    ps = [Path("a/x.png"), Path("b/x.jpg"), Path("x-2.png"), Path("c/x.png")]
    assert assign_ids(ps) == ["x", "x-2", "x-2-2", "x-3"]


def test_new_input_does_not_invalidate_others(built_1: Path, faces: Path, tiny_recipe: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(faces, src)
    out = tmp_path / "grow"
    shutil.copytree(built_1, out)
    save(src / "aaa.png", synthetic_face(50, 32))  # sorts first: every index shifts by one
    res = build_testset(tiny_recipe, src, out, seed=5)
    assert (res.ok, res.resumed) == (7, 6)
    for f in (built_1 / "lq").iterdir():
        assert (out / "lq" / f.name).read_bytes() == f.read_bytes()
    rel = pq.read_table(out / "manifest.parquet").column("src_path").to_pylist()
    # relative to --src (POSIX), also for the images kept from the build made in another folder
    assert sorted(rel) == sorted(p.relative_to(src).as_posix() for p in list_images(src)) and "sub/face0.jpg" in rel
    assert json.loads((out / "testset.json").read_text())["src"] == str(src.resolve())


def test_manifest_bytes_do_not_depend_on_where_the_faces_live(faces: Path, tiny_recipe: Path, tmp_path: Path) -> None:
    for where in ("lab_a/deep/faces", "lab_b"):
        shutil.copytree(faces, tmp_path / where)
        build_testset(tiny_recipe, tmp_path / where, tmp_path / f"out_{where.split('/')[0]}", seed=5)
    a, b = (tmp_path / "out_lab_a" / "manifest.parquet").read_bytes(), (tmp_path / "out_lab_b" / "manifest.parquet").read_bytes()
    assert a == b
