"""`leaderboard run` on the real pipeline (align real photos, build, restore, evaluate), tiny; run twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bfrbench.cli import main
from bfrbench.leaderboard.results import numbers_view

pytestmark = pytest.mark.slow

SUITE = """
name: e2e
version: 1
main_score: psnr:rgb
baseline: lq
source: {kind: samples, names: [astronaut, t1, tom_hanks], align: true, size: 512}
testsets:
  - {name: severe, preset: refldm-severe, seed: 0, limit: 3}
metrics: [psnr:rgb, niqe:basicsr]
methods: [lq, bicubic]
statistics: {bootstrap_resamples: 200}
plots: {samples: 2}
"""


def test_real_pipeline_twice_gives_identical_numbers(tmp_path: Path, capsys) -> None:
    pytest.importorskip("dlib")
    folder = tmp_path / "e2e"
    folder.mkdir()
    (folder / "suite.yaml").write_text(SUITE)
    assert main(["leaderboard", "run", str(folder), "--work", str(tmp_path / "w1")]) == 0, capsys.readouterr().err
    first = json.loads((folder / "results.json").read_text())
    rows = {r["method"]: r for r in first["rows"]}
    assert set(rows) == {"lq", "bicubic"} and rows["lq"]["values"]["psnr:rgb"]["n"] >= 2
    assert 5 < rows["lq"]["values"]["psnr:rgb"]["mean"] < 40
    assert main(["verify", str(folder / "results.json"), "--work", str(tmp_path / "w1")]) == 0  # work dir outside the suite
    # cached: a second run in the same work dir builds nothing
    capsys.readouterr()
    assert main(["leaderboard", "run", str(folder), "--work", str(tmp_path / "w1"), "--no-render"]) == 0
    assert "0 built" in capsys.readouterr().err
    # from scratch in another work dir: the same numbers
    assert main(["leaderboard", "run", str(folder), "--work", str(tmp_path / "w2")]) == 0
    second = json.loads((folder / "results.json").read_text())
    assert numbers_view(second) == numbers_view(first)
