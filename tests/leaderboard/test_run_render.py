"""run_suite caching, render outputs, reproducibility of the numbers, verify on intact and tampered artifacts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bfrbench.cli import main
from bfrbench.errors import ArtifactError
from bfrbench.io import write_png
from bfrbench.leaderboard.render import render_suite
from bfrbench.leaderboard.results import content_hash, numbers_view
from bfrbench.leaderboard.run import run_suite
from bfrbench.leaderboard.verify import verify_results


def test_run_caches_every_stage(toy_suite: Path, fake) -> None:
    pipe = fake.pipeline()
    r1 = run_suite(toy_suite, pipeline=pipe)
    assert r1.count("built") == 8 and not r1.failures  # source, test set, 3 restores, 3 evaluations
    calls = dict(fake.calls)
    r2 = run_suite(toy_suite, pipeline=pipe)
    assert r2.count("cached") == 8 and r2.count("built") == 0
    assert dict(fake.calls) == calls  # nothing was called again
    # changing one method's options re-runs that method's restore and evaluation only
    y = toy_suite / "suite.yaml"
    y.write_text(y.read_text().replace("options: {alpha: 0.1}", "options: {alpha: 0.2}"))
    r3 = run_suite(toy_suite, pipeline=pipe)
    assert [(s.stage, s.name) for s in r3.stages if s.status == "built"] == [("restore", "mild/poor"), ("evaluate", "mild/poor")]
    idx = json.loads((toy_suite / "_work" / "index.json").read_text())
    assert [e["method"] for e in idx["entries"]] == ["good", "lq", "poor"]


def test_failed_stage_is_reported_and_others_go_on(toy_suite: Path, fake) -> None:
    from dataclasses import replace

    def restore(method, testset, out, **kw):
        if kw["options"].get("alpha") == 0.8:
            raise RuntimeError("planted failure")
        return fake.restore(method, testset, out, **kw)

    rep = run_suite(toy_suite, pipeline=replace(fake.pipeline(), restore=restore))
    assert [(f.stage, f.name) for f in rep.failures] == [("restore", "mild/good")]
    assert "planted failure" in rep.failures[0].detail
    assert rep.count("built") == 6  # source, test set, 2 restores, 2 evaluations


def test_pinned_manifest_mismatch_fails_the_testset(toy_suite: Path, fake) -> None:
    y = toy_suite / "suite.yaml"
    y.write_text(y.read_text().replace("limit: 12}", "limit: 12, manifest_sha256: " + "ab" * 32 + "}"))
    rep = run_suite(toy_suite, pipeline=fake.pipeline())
    assert [f.stage for f in rep.failures] == ["testset"] and "pinned" in rep.failures[0].detail
    assert fake.calls["restore"] == 0


def test_rendered_files_and_rows(rendered_toy: Path) -> None:
    res = json.loads((rendered_toy / "results.json").read_text())
    assert res["content_sha256"] == content_hash(res)
    kinds = {r["method"]: r["kind"] for r in res["rows"]}
    assert kinds == {"good": "reproduced", "poor": "reproduced", "lq": "reproduced", "PaperNet": "reported"}
    rows = {r["method"]: r for r in res["rows"]}
    # alpha 0.8 blends 80% HQ in: strictly better than the input on every image, significantly so
    assert rows["good"]["values"]["psnr:rgb"]["mean"] > rows["poor"]["values"]["psnr:rgb"]["mean"] > rows["lq"]["values"]["psnr:rgb"]["mean"]
    assert rows["good"]["vs_baseline"]["metrics"]["psnr:rgb"]["significant"] is True
    assert rows["good"]["vs_baseline"]["metrics"]["mae:rgb"]["better"] is True
    assert [rows[m]["rank"] for m in ("good", "PaperNet", "poor", "lq")] == [1, 2, 3, 4]
    lo, hi = rows["lq"]["values"]["psnr:rgb"]["ci95"]
    assert lo < rows["lq"]["values"]["psnr:rgb"]["mean"] < hi
    per = pd.read_parquet(rendered_toy / rows["lq"]["artifacts"]["evaluation"] / "per_image.parquet")
    assert rows["lq"]["values"]["psnr:rgb"]["mean"] == pytest.approx(per["psnr:rgb"].mean(), rel=1e-12)
    assert rows["PaperNet"]["citation"]["page"] == "5" and "provenance" not in rows["PaperNet"]
    prov = rows["good"]["provenance"]
    assert prov["options"] == {"alpha": 0.8} and len(prov["restored_sha256"]) == 64
    assert "date" not in prov["environment"]
    assert res["breakdowns"]["mild"]["sigma_x"]["edges"][0] < res["breakdowns"]["mild"]["sigma_x"]["edges"][-1]
    assert len(res["per_image"]["mild"]["ids"]) == 12
    readme = (rendered_toy / "README.md").read_text()
    assert "| 2 | reported † | PaperNet [1] |" in readme and "Table 1, p. 5" in readme
    csv = (rendered_toy / "results.csv").read_text().splitlines()
    assert len(csv) == 5 and csv[0].startswith("testset,kind,method,rank,psnr:rgb")
    assert (rendered_toy / "plots" / "pd-mild.png").is_file() and (rendered_toy / "plots" / "severity-mild.png").is_file()


def test_rerun_from_scratch_gives_identical_numbers(rendered_toy: Path, tmp_path: Path, fake) -> None:
    """A fresh clone: copy only suite.yaml and the source faces, run and render again elsewhere."""
    clone = tmp_path / "clone" / "toy"
    clone.mkdir(parents=True)
    shutil.copy(rendered_toy / "suite.yaml", clone / "suite.yaml")
    shutil.copytree(rendered_toy / "faces", clone / "faces")
    run_suite(clone, pipeline=fake.pipeline(), work_dir=tmp_path / "elsewhere")
    again = render_suite(clone, work_dir=tmp_path / "elsewhere")
    first = json.loads((rendered_toy / "results.json").read_text())
    assert numbers_view(again) == numbers_view(first)
    # re-rendering an unchanged suite leaves every file byte-identical (generated block kept)
    before = {p.name: p.read_bytes() for p in clone.iterdir() if p.is_file()}
    render_suite(clone, work_dir=tmp_path / "elsewhere")
    assert {p.name: p.read_bytes() for p in clone.iterdir() if p.is_file()} == before


def test_verify_clean_then_drift(rendered_toy: Path, tmp_path: Path, capsys) -> None:
    suite = tmp_path / "toy"
    shutil.copytree(rendered_toy, suite)
    rep = verify_results(suite / "results.json")
    assert rep.ok and rep.checked >= 3 * 5
    assert main(["verify", str(suite / "results.json")]) == 0
    res = json.loads((suite / "results.json").read_text())
    good = next(r for r in res["rows"] if r["method"] == "good")
    run_dir = suite / good["artifacts"]["run"]
    first = sorted(run_dir.glob("*.png"))[0]
    write_png(first, np.zeros((32, 32, 3), np.uint8))  # a restored output changed after the fact
    rep = verify_results(suite)
    assert {d.what for d in rep.drifts} == {"restored image", "restored outputs"}
    (suite / good["artifacts"]["evaluation"] / "per_image.parquet").unlink()
    res["rows"][0]["values"]["psnr:rgb"]["mean"] += 1.0  # a number edited by hand
    (suite / "results.json").write_text(json.dumps(res))
    rep = verify_results(suite)
    whats = {d.what for d in rep.drifts}
    assert {"results content", "per-image scores"} <= whats
    capsys.readouterr()
    assert main(["verify", str(suite)]) == 1
    assert "DRIFT per-image scores" in capsys.readouterr().err
    with pytest.raises(ArtifactError):
        verify_results(tmp_path / "nope.json")


def test_cli_render_list_and_errors(rendered_toy: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["leaderboard", "render", str(rendered_toy), "--out", str(out)]) == 0
    assert (out / "index.html").is_file() and "content_sha256" in capsys.readouterr().out
    empty = tmp_path / "empty"
    shutil.copytree(rendered_toy, empty, ignore=shutil.ignore_patterns("_work"))
    y = empty / "suite.yaml"
    y.write_text(y.read_text().split("reported:")[0])
    assert main(["leaderboard", "render", str(empty)]) == 1
    assert "leaderboard run" in capsys.readouterr().err
    assert main(["leaderboard", "list"]) == 0
    assert "demo" in capsys.readouterr().out
