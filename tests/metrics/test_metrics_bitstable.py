"""Per-image values do not depend on the number of BLAS/OpenMP threads (docs/reproducibility.md).

The same evaluation runs in two subprocesses, with 1 and with 2 threads for OpenMP, MKL and OpenBLAS (torch and
numpy's BLAS follow these variables): per_image.parquet must be byte-identical and the summaries equal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from metrics_helpers import make_testset

ROOT = Path(__file__).resolve().parents[2]
METRICS = "psnr:rgb,ssim:rgb,niqe:basicsr,niqe:matlab,ssim:vqfr,ssim:pyiqa,ids:dlib"


def _run(ts: Path, rs: Path, out: Path, threads: int) -> None:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[k] = str(threads)
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-m", "bfrbench", "evaluate", "--testset", str(ts), "--restored", str(rs), "--out",
           str(out), "--metrics", METRICS, "--no-cache", "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]


def test_per_image_values_identical_with_1_and_2_threads(tmp_path: Path) -> None:
    ts, rs, _ = make_testset(tmp_path, 2, size=512)  # identity embedders need aligned 512 faces
    _run(ts, rs, tmp_path / "t1", 1)
    _run(ts, rs, tmp_path / "t2", 2)
    a, b = (tmp_path / "t1" / "per_image.parquet").read_bytes(), (tmp_path / "t2" / "per_image.parquet").read_bytes()
    assert a == b
    s1 = json.loads((tmp_path / "t1" / "summary.json").read_text())
    s2 = json.loads((tmp_path / "t2" / "summary.json").read_text())
    assert s1["metrics"] == s2["metrics"] and set(s1["metrics"]) == set(METRICS.split(","))
    assert s1["metrics"]["ids:dlib"]["stored_digits"] == 6 and "stored_digits" not in s1["metrics"]["niqe:basicsr"]
