"""Issue 10, bullet 1: names read from artifacts never become paths outside their folder.

Each test builds the attack first (a crafted manifest, references table, reference groups or results.json,
consistent with its recorded hashes as an attacker controlling the folder would make it), then checks the
named per-item error, the exit status, and that no byte outside the output folder changed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from trust_helpers import rewrite_manifest, snapshot

from bfrbench.cli import main
from bfrbench.io.paths import UnsafePathError, check_id, id_problem, resolve_inside


@pytest.mark.parametrize("item", ["face", "face-2", "img (1)", "00001", "a__b", "visage_é", "x.y", "a b"])
def test_ids_made_by_build_and_unaligned_stay_valid(item: str) -> None:
    assert check_id(item, where="m") == item


@pytest.mark.parametrize("item,why", [("../../escaped", "'.'"), ("/abs/path/keep", "separator"), ("", "empty"),
                                      (".hidden", "'.'"), ("a\\b", "separator"), ("x\ny", "control"),
                                      ("é" * 126, "longer"), (7, "not a string")])
def test_unsafe_ids_are_refused(item: object, why: str) -> None:
    assert why in str(id_problem(item))
    with pytest.raises(UnsafePathError, match="refused"):
        check_id(item, where="manifest.parquet")


def test_resolve_inside(tmp_path: Path) -> None:
    (tmp_path / "a" / "hq").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.png").write_bytes(b"x")
    assert resolve_inside(tmp_path / "a", "hq/1.png", where="m", field="hq_path") == (tmp_path / "a/hq/1.png").resolve()
    for bad, msg in (("/etc/passwd", "absolute"), ("../other/x.png", r"'\.\.'"), ("hq/../../other/x.png", r"'\.\.'"),
                     ("C:/x.png", "absolute"), ("", "non-empty")):
        with pytest.raises(UnsafePathError, match=msg):
            resolve_inside(tmp_path / "a", bad, where="m", field="hq_path")
    os.symlink(tmp_path / "other" / "x.png", tmp_path / "a" / "hq" / "link.png")
    with pytest.raises(UnsafePathError, match="through a symlink"):
        resolve_inside(tmp_path / "a", "hq/link.png", where="m", field="hq_path")
    assert resolve_inside(tmp_path / "a", "hq/link.png", where="m", field="f", extra_roots=[tmp_path / "other"]).name == "x.png"


def test_restore_refuses_crafted_ids_and_paths(trust_ts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.png").write_bytes(b"precious")
    (tmp_path / "outside.png").write_bytes((trust_ts / "lq" / "face0.png").read_bytes())

    def attack(rows: list[dict]) -> None:  # type: ignore[type-arg]
        extra = [dict(rows[0], id="../../escaped"), dict(rows[0], id=str(victim / "keep")),
                 dict(rows[0], id="face9", lq_path="/etc/passwd"), dict(rows[0], id="face8", lq_path="../../outside.png")]
        rows.extend(extra)

    rewrite_manifest(trust_ts, attack)
    out = tmp_path / "run"
    before = snapshot(tmp_path, exclude=(out,))
    code = main(["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 3
    run = json.loads((out / "run.json").read_text())
    reasons = {f["id"]: f["reason"] for f in run["failures"]}
    assert set(reasons) == {"../../escaped", str(victim / "keep"), "face9", "face8"}
    assert "id '../../escaped' refused: starts with '.'" in reasons["../../escaped"]
    assert "refused: contains a path separator" in reasons[str(victim / "keep")]
    assert "lq_path '/etc/passwd' refused: absolute paths are not allowed" in reasons["face9"]
    assert "lq_path '../../outside.png' refused: '..' is not allowed" in reasons["face8"]
    assert "failed face9: " in err and run["counts"]["ok"] == 3
    assert sorted(p.name for p in out.glob("*.png")) == ["face0.png", "face1.png", "face2.png"]
    assert snapshot(tmp_path, exclude=(out,)) == before  # keep.png intact, no escaped.png anywhere
    assert not list(tmp_path.rglob("escaped.png"))


def test_evaluate_refuses_hq_paths_outside_the_testset(trust_ts: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(run)]) == 0
    # score face0 against an image outside the test set (its own restored output: a perfect score if followed)
    rewrite_manifest(trust_ts, lambda rows: rows[0].update(hq_path=str(run / "face0.png")))
    os.symlink(run / "face1.png", trust_ts / "hq" / "evil.png")
    rewrite_manifest(trust_ts, lambda rows: rows[1].update(hq_path="hq/evil.png"))
    out = tmp_path / "eval"
    before = snapshot(tmp_path, exclude=(out,))
    code = main(["evaluate", "--testset", str(trust_ts), "--restored", str(run), "--out", str(out), "--metrics", "psnr"])
    assert code == 3
    import pandas as pd

    df = pd.read_parquet(out / "per_image.parquet").set_index("id")
    assert "hq_path" in df.loc["face0", "error"] and "absolute paths are not allowed" in df.loc["face0", "error"]
    assert "outside" in df.loc["face1", "error"] and "symlink" in df.loc["face1", "error"]
    assert df["psnr:rgb"].isna().tolist() == [True, True, False]  # face2 scored: the rules are per image
    err = capsys.readouterr().err
    assert "2 image(s) with errors" in err and "not scored face0: " in err and "hq_path " in err
    assert snapshot(tmp_path, exclude=(out,)) == before
    # a restored file that is a symlink to the ground truth (outside the run folder) is refused too
    os.remove(run / "face2.png")
    os.symlink(trust_ts / "hq" / "face2.png", run / "face2.png")
    assert main(["evaluate", "--testset", str(trust_ts), "--restored", str(run), "--out", str(tmp_path / "e3"),
                 "--metrics", "psnr", "--no-verify"]) == 3
    df = pd.read_parquet(tmp_path / "e3" / "per_image.parquet").set_index("id")
    assert "restored file 'face2.png' refused: resolves (through a symlink)" in df.loc["face2", "error"]


def test_validate_load_and_references_refuse_escapes(trust_ts: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    from bfrbench.methods.references import load_reference_table
    from bfrbench.testset import load

    rewrite_manifest(trust_ts, lambda rows: rows[2].update(lq_path="/etc/hostname"))
    assert main(["validate", str(trust_ts)]) == 1
    assert "lq_path '/etc/hostname' refused: absolute paths" in capsys.readouterr().out
    with pytest.raises(UnsafePathError, match="absolute"):
        load(trust_ts)
    pd.DataFrame({"id": ["face0", "face1"], "ref_paths": [["lq/face1.png"], ["../../x.png"]]}).to_parquet(
        trust_ts / "references.parquet")
    table = load_reference_table(trust_ts)
    assert table is not None and list(table) == ["face0"] and "'..' is not allowed" in table.problems["face1"]


def test_attach_refuses_reference_names_outside_the_source(trust_built: Path, trust_ts: Path, tmp_path: Path) -> None:
    import pandas as pd

    from bfrbench.refgroups import attach_references

    src = trust_built.parent / "src"
    rg = tmp_path / "rg"
    rg.mkdir()
    (rg / "refgroups.json").write_text(json.dumps({"kind": "refgroups", "src": str(src)}))
    pd.DataFrame({"split": ["test", "test"], "gt_image": ["face0.png", "face1.png"],
                  "ref_images": [["../../../../etc/hostname"], ["face2.png"]], "ref_source": ["src", "src"]}
                 ).to_parquet(rg / "references.parquet")
    before = snapshot(tmp_path, exclude=(trust_ts,))
    counts = attach_references(trust_ts, rg)
    assert counts["refused"] == 1 and counts["with_refs"] == 1
    meta = json.loads((trust_ts / "testset.json").read_text())
    assert "face0: " in meta["references"]["refused"][0] and "'..' is not allowed" in meta["references"]["refused"][0]
    assert sorted(p.name for p in (trust_ts / "refs").iterdir()) == ["face2.png"]
    assert snapshot(tmp_path, exclude=(trust_ts,)) == before


def test_verify_refuses_results_paths_outside_the_suite(tmp_path: Path) -> None:
    from bfrbench.leaderboard.results import content_hash
    from bfrbench.leaderboard.verify import verify_results

    (tmp_path / "suite").mkdir()
    row = {"kind": "reproduced", "testset": "t", "method": "m", "values": {},
           "artifacts": {"testset": "/etc", "run": "../../run", "evaluation": "e"},
           "provenance": {"testset_manifest_sha256": "x", "per_image_sha256": "y", "restored_sha256": "z"}}
    res = {"kind": "leaderboard-results", "format_version": 1, "suite": {"name": "s"}, "metrics": {}, "rows": [row]}
    res["content_sha256"] = content_hash(res)
    (tmp_path / "suite" / "results.json").write_text(json.dumps(res))
    rep = verify_results(tmp_path / "suite")
    assert not rep.ok and [d.what for d in rep.drifts] == ["artifact path"]
    assert "artifacts.testset '/etc' refused: absolute" in rep.drifts[0].actual
    # a work folder outside the suite is accepted only when the user names it, and only inside it
    row["artifacts"] = {"testset": "../w/t", "run": "../w/r", "evaluation": "../w/e"}
    res["content_sha256"] = content_hash(res)
    (tmp_path / "suite" / "results.json").write_text(json.dumps(res))
    assert "artifact path" in [d.what for d in verify_results(tmp_path / "suite").drifts]
    assert "artifact path" not in [d.what for d in verify_results(tmp_path / "suite", roots=(tmp_path / "w",)).drifts]
    row["artifacts"]["run"] = "../w/../../etc"
    res["content_sha256"] = content_hash(res)
    (tmp_path / "suite" / "results.json").write_text(json.dumps(res))
    assert "artifact path" in [d.what for d in verify_results(tmp_path / "suite", roots=(tmp_path / "w",)).drifts]
