"""The README's main job, end to end: the committed demo leaderboard is reproduced from scratch."""

import json

import numpy as np
import pytest

from bfrbench.io import read_image


@pytest.mark.slow
def test_demo_reproduces_the_committed_leaderboard(tmp_path):
    from bfrbench.demo import CONTACT_SHEET_PRESETS, run_demo

    lines: list[str] = []
    summary = run_demo(tmp_path / "demo", echo=lines.append)
    text = "\n".join(lines)
    assert summary["failures"] == [], text
    # Same numbers as leaderboards/demo/results.json (committed), recomputed here from nothing but PyPI packages.
    assert summary["matches_committed"] is True, text
    assert {r["method"] for r in summary["rows"]} == {"lq", "bicubic", "classical"}
    psnr = {(r["testset"], r["method"]): r["psnr:rgb"] for r in summary["rows"]}
    assert all(15.0 < v < 40.0 for v in psnr.values())
    # the severe preset really is harder than the GFPGAN-style one
    assert psnr[("refldm-severe", "lq")] < psnr[("gfpgan", "lq")]
    sheet = read_image(summary["contact_sheet"])
    assert sheet.shape[1] == 160 * (1 + len(CONTACT_SHEET_PRESETS)) and sheet.std() > 20
    results = json.loads((tmp_path / "demo" / "leaderboard" / "results.json").read_text())
    assert (tmp_path / "demo" / "leaderboard" / "index.html").is_file()
    assert np.isfinite([r["values"]["psnr:rgb"]["mean"] for r in results["rows"]]).all()
    # bit for bit: the same content hash as the committed results (another folder, commit and machine)
    from bfrbench.leaderboard.results import content_hash
    from bfrbench.leaderboard.suite import load_suite

    committed = json.loads((load_suite("demo").path / "results.json").read_text())
    assert results["content_sha256"] == content_hash(results) == committed["content_sha256"]
