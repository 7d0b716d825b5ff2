"""Regression gate: planted regression fails, noise within tolerance passes, JUnit XML is valid."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from bfrbench.cli import main
from bfrbench.errors import ConfigError
from bfrbench.leaderboard.regress import compare_results, junit_xml, load_comparable, parse_tolerances


def _shifted(results: dict, method: str, spec: str, shift: float, noise: float = 0.0, seed: int = 0) -> dict:
    """Candidate results: per-image values of one method moved by ``shift`` plus zero-mean noise; mean updated."""
    out = copy.deepcopy(results)
    rng = np.random.default_rng(seed)
    vals = np.array(out["per_image"]["mild"]["methods"][method][spec], dtype=np.float64)
    new = vals + shift + (rng.normal(0, noise, vals.size) if noise else 0.0)
    if noise:
        new -= (new - vals - shift).mean()  # exactly zero-mean noise: the mean moves by `shift` only
    out["per_image"]["mild"]["methods"][method][spec] = new.tolist()
    row = next(r for r in out["rows"] if r["method"] == method)
    row["values"][spec]["mean"] = float(new.mean())
    return out


@pytest.fixture
def base(rendered_toy: Path) -> dict:
    return json.loads((rendered_toy / "results.json").read_text())


def test_identical_results_pass(base: dict) -> None:
    diffs = compare_results(base, base)
    assert diffs and not any(d.failed for d in diffs)
    assert {d.method for d in diffs} == {"good", "poor", "lq", "PaperNet"}


def test_planted_regression_fails(base: dict) -> None:
    cand = _shifted(base, "good", "psnr:rgb", -0.5, noise=0.05)
    diffs = compare_results(base, cand, tolerances={"psnr:rgb": 0.1})
    failed = [(d.method, d.metric) for d in diffs if d.failed]
    assert failed == [("good", "psnr:rgb")]
    d = next(d for d in diffs if d.failed)
    assert d.worse_by == pytest.approx(0.5) and d.p_value is not None and d.p_value < 0.01


def test_noise_within_tolerance_passes(base: dict) -> None:
    cand = _shifted(base, "good", "psnr:rgb", -0.02, noise=0.3, seed=1)
    diffs = compare_results(base, cand, tolerances={"psnr": 0.05})  # base-name tolerance
    assert not any(d.failed for d in diffs)
    # without a tolerance the same 0.02 dB worsening fails (default tolerance 0)
    assert [d.metric for d in compare_results(base, cand) if d.failed] == ["psnr:rgb"]


def test_significant_small_shift_fails_unless_tolerance_is_explicit(base: dict) -> None:
    cand = _shifted(base, "good", "psnr:rgb", -0.01)  # tiny but on every image
    diffs = compare_results(base, cand, default_tolerance=0.05)
    bad = [d for d in diffs if d.failed]
    assert len(bad) == 1 and "significantly worse" in bad[0].reason
    assert not any(d.failed for d in compare_results(base, cand, default_tolerance=0.05, significance=False))
    assert not any(d.failed for d in compare_results(base, cand, tolerances={"psnr:rgb": 0.05}))
    better = _shifted(base, "good", "psnr:rgb", +0.5)
    assert not any(d.failed for d in compare_results(base, better))
    lower_better = _shifted(base, "good", "mae:rgb", +0.01)  # MAE up = worse
    assert [d.metric for d in compare_results(base, lower_better) if d.failed] == ["mae:rgb"]


def test_missing_metric_or_row_fails(base: dict) -> None:
    cand = copy.deepcopy(base)
    cand["rows"] = [r for r in cand["rows"] if r["method"] != "poor"]
    del next(r for r in cand["rows"] if r["method"] == "good")["values"]["fid:toy"]
    failed = {(d.method, d.metric) for d in compare_results(base, cand) if d.failed}
    assert ("good", "fid:toy") in failed and ("poor", "psnr:rgb") in failed


def test_junit_xml_is_valid(base: dict) -> None:
    diffs = compare_results(base, _shifted(base, "good", "psnr:rgb", -1.0))
    root = ET.fromstring(junit_xml(diffs))
    suite = root.find("testsuite")
    assert root.tag == "testsuites" and suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == len(diffs) == int(suite.get("tests"))
    fails = [c for c in cases if c.find("failure") is not None]
    assert len(fails) == int(suite.get("failures")) == 1
    assert fails[0].get("name") == "psnr:rgb" and fails[0].get("classname").endswith("mild.good")


def test_cli_exit_codes_and_junit(base: dict, tmp_path: Path, capsys) -> None:
    b, c = tmp_path / "b.json", tmp_path / "c.json"
    b.write_text(json.dumps(base))
    c.write_text(json.dumps(_shifted(base, "good", "psnr:rgb", -0.5)))
    junit = tmp_path / "junit.xml"
    assert main(["regress", "--baseline", str(b), "--candidate", str(c), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    assert "FAIL (worse by 0.5" in out and "1 regression(s)" in out
    assert ET.parse(junit).getroot().find("testsuite").get("failures") == "1"
    assert main(["regress", "--baseline", str(b), "--candidate", str(c), "--tolerance", "psnr:rgb=0.6"]) == 0
    assert main(["regress", "--baseline", str(b), "--candidate", str(c), "--tolerance", "psnr"]) == 1
    assert "METRIC=VALUE" in capsys.readouterr().err
    with pytest.raises(ConfigError):
        parse_tolerances(["lpips=-1"])


def test_evaluation_summaries_compare_with_per_image_values(rendered_toy: Path) -> None:
    res = json.loads((rendered_toy / "results.json").read_text())
    ev = {r["method"]: rendered_toy / r["artifacts"]["evaluation"] / "summary.json" for r in res["rows"]
          if r["kind"] == "reproduced"}
    lq, good = load_comparable(ev["lq"]), load_comparable(ev["good"])
    assert len(lq["per_image"]["run"]["ids"]) == 12
    assert not any(d.failed for d in compare_results(lq, good))  # improvement passes
    worse = [d for d in compare_results(good, lq) if d.failed]
    assert {d.metric for d in worse} == {"psnr:rgb", "mae:rgb", "fid:toy"}
    assert all(d.p_value is not None for d in worse if d.metric != "fid:toy")
