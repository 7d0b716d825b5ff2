"""Issue 10, bullet 2: restore and evaluate check what they read against the recorded SHA-256.

Attacks: a tampered (blurred) HQ file, a tampered LQ file, a restored PNG replaced after the run, a PNG
from another run dropped into the run folder, an edited manifest. Each is a per-image failure naming the file
(exit 3), or with --no-verify a warning recorded in the artifact JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from trust_helpers import face, rewrite_manifest, snapshot

from bfrbench.cli import main
from bfrbench.io import read_image, write_png


def _blur(p: Path) -> None:
    import cv2

    write_png(p, cv2.GaussianBlur(read_image(p), (9, 9), 3))


def test_tampered_lq_fails_restore_unless_no_verify(trust_ts: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    _blur(trust_ts / "lq" / "face1.png")
    out = tmp_path / "run"
    before = snapshot(tmp_path, exclude=(out,))
    assert main(["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(out)]) == 3
    run = json.loads((out / "run.json").read_text())
    (f,) = run["failures"]
    assert f["id"] == "face1" and f"{trust_ts / 'lq' / 'face1.png'}: LQ file changed: SHA-256" in f["reason"]
    assert "lq_sha256" in f["reason"] and "`verify=False`" in f["reason"] and not (out / "face1.png").exists()
    assert run["verification"]["manifest"] == "matches testset.json" and run["verification"]["lq_checked"] == 3
    err = capsys.readouterr().err  # the CLI shows the parameter as its flag
    assert "failed face1:" in err and "pass --no-verify to use it anyway" in err
    out2 = tmp_path / "run2"
    assert main(["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(out2), "--no-verify"]) == 0
    run2 = json.loads((out2 / "run.json").read_text())
    assert run2["verification"]["enabled"] is False and "face1.png: LQ file changed" in run2["verification"]["warnings"][0]
    assert "warning (--no-verify)" in capsys.readouterr().err
    assert snapshot(tmp_path, exclude=(out, out2)) == before


def test_edited_manifest_stops_restore_and_evaluate(trust_ts: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(run)]) == 0
    meta = json.loads((trust_ts / "testset.json").read_text())
    rewrite_manifest(trust_ts, lambda rows: rows.pop())  # drop an image ...
    (trust_ts / "testset.json").write_text(json.dumps(meta))  # ... without re-recording the hash
    assert main(["restore", "--method", "bicubic", "--testset", str(trust_ts), "--out", str(tmp_path / "r2")]) == 1
    err = capsys.readouterr().err
    assert "manifest.parquet: SHA-256" in err and "differs from manifest_sha256" in err and "--no-verify" in err
    assert main(["evaluate", "--testset", str(trust_ts), "--restored", str(run), "--out", str(tmp_path / "e"),
                 "--metrics", "psnr"]) == 1
    assert "the manifest was edited" in capsys.readouterr().err


def test_evaluate_checks_hq_and_restored_files(trust_ts: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(run)]) == 0
    clean = tmp_path / "clean"
    assert main(["evaluate", "--testset", str(trust_ts), "--restored", str(run), "--out", str(clean),
                 "--metrics", "psnr"]) == 0
    s = json.loads((clean / "summary.json").read_text())
    assert s["verification"]["restored_against_run_json"] is True and s["verification"]["hq_checked"] == 3
    assert s["verification"]["restored_checked"] == 3 and s["verification"]["warnings"] == []
    _blur(trust_ts / "hq" / "face0.png")  # a blurred ground truth
    write_png(run / "face1.png", face(5))  # a restored file replaced after the run
    out = tmp_path / "eval"
    before = snapshot(tmp_path, exclude=(out,))
    assert main(["evaluate", "--testset", str(trust_ts), "--restored", str(run), "--out", str(out),
                 "--metrics", "psnr"]) == 3
    df = pd.read_parquet(out / "per_image.parquet").set_index("id")
    assert f"{trust_ts / 'hq' / 'face0.png'}: HQ file changed" in df.loc["face0", "error"]
    assert f"{run / 'face1.png'}: restored file changed" in df.loc["face1", "error"]
    assert "run.json images['face1'].sha256" in df.loc["face1", "error"]
    assert pd.isna(df.loc["face2", "error"]) and np.isfinite(df.loc["face2", "psnr:rgb"])
    assert np.isnan(df.loc["face0", "psnr:rgb"]) and np.isnan(df.loc["face1", "psnr:rgb"])
    s = json.loads((out / "summary.json").read_text())
    assert s["counts"]["scored"] == 1 and s["counts"]["with_errors"] == 2
    assert snapshot(tmp_path, exclude=(out,)) == before
    capsys.readouterr()
    out2 = tmp_path / "eval2"
    assert main(["evaluate", "--testset", str(trust_ts), "--restored", str(run), "--out", str(out2),
                 "--metrics", "psnr", "--no-verify"]) == 0
    s2 = json.loads((out2 / "summary.json").read_text())
    assert len(s2["verification"]["warnings"]) == 2 and s2["counts"]["scored"] == 3
    assert s2["metrics"]["psnr:rgb"]["n"] == 3 and "warning (--no-verify)" in capsys.readouterr().err


def test_evaluate_flags_pngs_not_made_by_the_recorded_run(trust_ts: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(run), "--limit", "2"]) == 0
    write_png(run / "face2.png", face(6))  # another job's output mixed into the folder
    assert main(["evaluate", "--testset", str(trust_ts), "--restored", str(run), "--out", str(tmp_path / "e"),
                 "--metrics", "psnr"]) == 3
    df = pd.read_parquet(tmp_path / "e" / "per_image.parquet").set_index("id")
    assert "restored file not listed in" in df.loc["face2", "error"] and "not produced by that run" in df.loc["face2", "error"]
    (run / "run.json").unlink()  # a plain folder of images: nothing to check them against, and summary.json says so
    assert main(["evaluate", "--testset", str(trust_ts), "--restored", str(run), "--out", str(tmp_path / "e2"),
                 "--metrics", "psnr"]) == 0
    s = json.loads((tmp_path / "e2" / "summary.json").read_text())
    assert s["verification"]["restored_against_run_json"] is False and "not found" in s["notes"][0]


def test_hash_cache_is_reused_and_notices_changes(tmp_path: Path) -> None:
    from bfrbench.io.verify import HashCache

    f = tmp_path / "d" / "a.bin"
    f.parent.mkdir()
    f.write_bytes(b"one")
    c = HashCache(tmp_path / "d")
    h1 = c.sha256(f)
    c.save()
    c2 = HashCache(tmp_path / "d")
    assert c2.sha256(f) == h1 and c2.hashed == 0  # re-run: stat unchanged, not re-hashed
    f.write_bytes(b"two")  # same size, new content and mtime
    assert c2.sha256(f) != h1 and c2.hashed == 1
    st = f.stat()
    tmp = tmp_path / "d" / "b.bin"
    tmp.write_bytes(b"one")
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, f)  # same size and mtime, different inode
    assert c2.sha256(f) == h1 and c2.hashed == 2
