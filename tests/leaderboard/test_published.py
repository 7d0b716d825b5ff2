"""The committed suites: results.json is self-consistent and README/CSV/page are exactly what it renders to."""

from __future__ import annotations

import json

import pytest

from bfrbench.leaderboard.render import render_csv, render_html, render_markdown
from bfrbench.leaderboard.results import content_hash
from bfrbench.leaderboard.suite import load_suite


def test_demo_results_consistent_with_rendered_files() -> None:
    s = load_suite("demo")
    path = s.path / "results.json"
    if not path.is_file():
        pytest.skip("demo suite not rendered yet (bfrbench leaderboard run demo)")
    res = json.loads(path.read_text())
    assert res["content_sha256"] == content_hash(res)
    assert res["suite"]["name"] == "demo" and res["suite"]["main_score"] == s.main_score
    methods = {r["method"] for r in res["rows"] if r["kind"] == "reproduced"}
    assert methods == {m.display for m in s.methods}
    for r in res["rows"]:
        assert len(r["provenance"]["restored_sha256"]) == 64 and r["provenance"]["testset_manifest_sha256"]
        lo, hi = r["values"]["psnr:rgb"]["ci95"]
        assert lo <= r["values"]["psnr:rgb"]["mean"] <= hi
    assert (s.path / "README.md").read_text() == render_markdown(res)
    assert (s.path / "results.csv").read_text() == render_csv(res)
    assert (s.path / "index.html").read_text() == render_html(res)
    for ts in res["plots"].values():
        for rel in [ts.get("perception_distortion"), ts.get("severity"), *(ts.get("samples") or {}).values()]:
            if rel:
                assert (s.path / rel).is_file(), rel


def test_ffhq_ref_reported_rows_cited_and_rendered_from_the_suite() -> None:
    s = load_suite("ffhq-ref")
    assert s.reported, "the ReF-LDM Table 7 rows are transcribed in suite.yaml"
    for r in s.reported:
        assert r.citation["paper"] and r.citation["table"] == "Table 7" and r.citation["page"]
    res = json.loads((s.path / "results.json").read_text())
    assert res["content_sha256"] == content_hash(res)
    assert all(r["kind"] == "reported" for r in res["rows"])
    # every number on the page is the one in suite.yaml, nothing added or dropped
    got = {(r["method"], r["testset"], k): v["mean"] for r in res["rows"] for k, v in r["values"].items()}
    want = {(r.method, r.testset, k): v for r in s.reported for k, v in r.values.items()}
    assert got == want
    assert {t for _, t, _ in want} == {"ffhq-ref-severe", "ffhq-ref-moderate", "celeba-test-ref"}
    assert (s.path / "README.md").read_text() == render_markdown(res)
    assert (s.path / "results.csv").read_text() == render_csv(res)
    assert (s.path / "index.html").read_text() == render_html(res)
    # ranked by the main score (IDS, higher is better) within each test set
    for ts in ("ffhq-ref-severe", "ffhq-ref-moderate", "celeba-test-ref"):
        rows = sorted((r for r in res["rows"] if r["testset"] == ts), key=lambda r: r["rank"])
        ids = [r["values"]["ids:arcface"]["mean"] for r in rows]
        assert ids == sorted(ids, reverse=True) and rows[0]["method"] == "ReF-LDM"
