"""Issue 10, bullet 5: seeds, --limit 0, --device cuda without CUDA, file modes, resized and skipped sources."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from trust_helpers import face, snapshot

from bfrbench.checks import SEED_MAX
from bfrbench.cli import main
from bfrbench.io import write_png

BAD_SEED = "--seed must be in 0..9223372036854775807 (0..2^63-1), got"


def test_seed_out_of_range_is_refused_before_any_write(trust_ts: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    src = trust_ts.parent.parent / "src"
    write_png(src / "a.png", face(0))
    before = snapshot(tmp_path)
    for argv in (["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(tmp_path / "r")],
                 ["build", "testset", "--preset", "gfpgan", "--src", str(src), "--out", str(tmp_path / "t")],
                 ["build", "refgroups", "--src", str(src), "--out", str(tmp_path / "g"), "--embedder", "dlib"]):
        for seed in (str(SEED_MAX + 1), "-1"):
            assert main([*argv, "--seed", seed]) == 1
            assert f"{BAD_SEED} {seed}" in capsys.readouterr().err
    after = snapshot(tmp_path)
    assert after == before  # no image, manifest or run.json anywhere
    assert not any((tmp_path / d).exists() for d in ("r", "t", "g"))  # not even an empty --out folder
    s = __import__("bfrbench.methods.runner", fromlist=["restore"]).restore(
        "lq", trust_ts, tmp_path / "max", seed=SEED_MAX)
    assert s["seed"] == SEED_MAX and s["counts"]["ok"] == 3


def test_limit_zero_is_refused_everywhere(trust_ts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = trust_ts.parent.parent / "src"
    write_png(src / "a.png", face(0))
    before = snapshot(tmp_path)
    for argv in (["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(tmp_path / "r")],
                 ["build", "testset", "--preset", "gfpgan", "--src", str(src), "--out", str(tmp_path / "t")]):
        assert main([*argv, "--limit", "0"]) == 1
        assert "--limit must be >= 1 (omit it to use every image), got 0" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_cuda_without_cuda_is_a_config_error(trust_ts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():  # pragma: no cover - GPU machines
        pytest.skip("CUDA is available here")
    run = tmp_path / "run"
    assert main(["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(run), "--device", "cuda"]) == 1
    assert "device 'cuda' requested but CUDA is not available here; use --device cpu" in capsys.readouterr().err
    assert not (run / "run.json").exists()
    assert main(["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(run)]) == 0
    assert main(["evaluate", "--testset", str(trust_ts), "--restored", str(run), "--out", str(tmp_path / "e"),
                 "--metrics", "psnr", "--device", "cuda:1"]) == 1
    assert "device 'cuda:1' requested but CUDA is not available" in capsys.readouterr().err
    assert not (tmp_path / "e" / "summary.json").exists()


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o027, 0o640)])
def test_outputs_follow_the_umask(trust_ts: Path, tmp_path: Path, mask: int, mode: int) -> None:
    from bfrbench.methods.runner import restore

    old = os.umask(mask)
    try:
        restore("lq", trust_ts, tmp_path / "run", limit=1)
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"face0.png", "run.json", "face0.json"}
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(mode)}


def test_build_records_resized_and_skipped_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    write_png(src / "big.png", face(0, 512))
    write_png(src / "small.png", face(1, 256))
    write_png(src / ".hidden.png", face(2))
    write_png(src / ".cache" / "x.png", face(3))
    os.symlink(tmp_path / "gone.png", src / "dangling.png")
    out = tmp_path / "ts"
    assert main(["build", "testset", "--preset", "gfpgan", "--src", str(src), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "bfrbench: skipped dangling.png: dangling symlink (target" in err
    assert "bfrbench: note: small.png resized 256x256 -> 512x512 (id small;" in err
    assert "bfrbench: skipped .hidden.png: hidden file" in err and "skipped .cache/x.png: hidden file" in err
    meta = json.loads((out / "testset.json").read_text())
    assert [s["input"] for s in meta["skipped"]] == [".cache/x.png", ".hidden.png", "dangling.png"]
    assert meta["resized"] == [{"id": "small", "input": "small.png", "from": "256x256", "to": "512x512",
                                "note": "resized to the recipe size (docs/testsets.md)"}]
    m = pq.read_table(out / "manifest.parquet").to_pydict()
    assert m["id"] == ["big", "small"] and m["src_size"] == [None, 256]
    # a set where nothing was resized keeps the manifest columns (and bytes) of earlier versions
    from bfrbench.testset.build import FIXED_COLUMNS

    os.remove(src / "small.png")
    assert main(["build", "testset", "--preset", "gfpgan", "--src", str(src), "--out", str(tmp_path / "t2")]) == 0
    cols = pq.read_table(tmp_path / "t2" / "manifest.parquet").column_names
    assert "src_size" not in cols and cols[:len(FIXED_COLUMNS)] == list(FIXED_COLUMNS)
    # and every reader still takes the new column: restore + evaluate on the resized set
    assert main(["restore", "--method", "bicubic", "--testset", str(out), "--out", str(tmp_path / "r")]) == 0
    assert main(["evaluate", "--testset", str(out), "--restored", str(tmp_path / "r"), "--out", str(tmp_path / "e"),
                 "--metrics", "psnr"]) == 0
