import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bfrbench.errors import ArtifactError, ConfigError
from bfrbench.io import read_image, sha256_file
from bfrbench.methods.runner import restore
from bfrbench.rng import item_seed


def _pngs(out: Path) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in sorted(out.glob("*.png"))}


def test_lq_run_writes_artifact(tiny_testset, tmp_path):
    out = tmp_path / "run"
    s = restore("lq", tiny_testset, out)
    ids = [f"face{i:03d}" for i in range(5)]
    assert sorted(_pngs(out)) == ids
    for i in ids:
        assert np.array_equal(read_image(out / f"{i}.png"), read_image(tiny_testset / "lq" / f"{i}.png"))
    run = json.loads((out / "run.json").read_text())
    assert run == json.loads(json.dumps(s))
    assert run["kind"] == "run" and run["method"] == "lq" and run["counts"]["ok"] == 5 and run["failures"] == []
    assert run["testset"]["manifest_sha256"] == sha256_file(tiny_testset / "manifest.parquet")
    assert run["testset"]["name"] == "tiny"
    assert run["images"]["face000"]["sha256"] == sha256_file(out / "face000.png")
    assert run["images"]["face000"]["peak_mem_bytes"] is None  # CPU: documented as null
    assert run["timings"]["mean_seconds_per_image"] >= 0 and "torch" in run["environment"]


def test_stochastic_plugin_is_seeded_and_batch_invariant(tiny_testset, tmp_path):
    a = restore("toy", tiny_testset, tmp_path / "a", seed=7, batch_size=1)
    b = restore("toy", tiny_testset, tmp_path / "b", seed=7, batch_size=3)
    c = restore("toy", tiny_testset, tmp_path / "c", seed=8, batch_size=1)
    pa, pb, pc = _pngs(tmp_path / "a"), _pngs(tmp_path / "b"), _pngs(tmp_path / "c")
    assert pa == pb and len(pa) == 5
    assert all(pa[k] != pc[k] for k in pa)
    assert {k: v["sha256"] for k, v in a["images"].items()} == {k: v["sha256"] for k, v in b["images"].items()}
    # the per-image seed really is item_seed(seed, id)
    lq = read_image(tiny_testset / "lq" / "face002.png").astype(np.float64)
    want = np.clip(np.rint(lq + 8.0 * np.random.default_rng(item_seed(7, "face002")).standard_normal(lq.shape)), 0, 255)
    assert np.array_equal(read_image(tmp_path / "a" / "face002.png"), want.astype(np.uint8))
    assert c["seed"] == 8 and a["options"]["strength"] == 8.0


def test_options_are_typed_and_recorded(tiny_testset, tmp_path):
    s = restore("classical", tiny_testset, tmp_path / "r", options=["h=6", "sharpen_amount=0"], limit=1)
    assert s["options"]["h"] == 6.0 and s["options"]["sharpen_amount"] == 0.0 and s["counts"]["total"] == 1
    with pytest.raises(ConfigError, match="no option 'bogus'.*accepted options: h, h_color"):
        restore("classical", tiny_testset, tmp_path / "x", options=["bogus=1"])
    with pytest.raises(ConfigError, match="expected an odd|expected an integer"):
        restore("classical", tiny_testset, tmp_path / "x", options=["template_window=abc"])


def test_resume_skips_verified_and_redoes_tampered(tiny_testset, tmp_path):
    out = tmp_path / "r"
    restore("toy", tiny_testset, out, seed=1)
    first = _pngs(out)
    (out / "face001.png").write_bytes(b"garbage")  # tampered output: redone
    (out / ".state" / "face003.json").unlink()  # no record: redone
    s = restore("toy", tiny_testset, out, seed=1)
    assert s["counts"] == {"total": 5, "ok": 5, "failed": 0, "resumed": 3, "restored": 2}
    assert _pngs(out) == first
    with pytest.raises(ArtifactError, match="different"):
        restore("toy", tiny_testset, out, seed=2)


def test_killed_run_resumes_only_the_rest(tiny_testset, tmp_path):
    out = tmp_path / "r"
    env = {**os.environ, "BFRBENCH_TOY_EXIT_AFTER": "2", "BFRBENCH_PROGRESS": "0"}
    cmd = [sys.executable, "-m", "bfrbench", "restore", "--method", "toy", "--testset", str(tiny_testset),
           "--out", str(out), "--seed", "3"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 17, res.stderr  # killed abruptly while restoring the third image
    assert sorted(_pngs(out)) == ["face000", "face001"] and not (out / "run.json").exists()
    env.pop("BFRBENCH_TOY_EXIT_AFTER")
    res = subprocess.run(cmd + ["--json"], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    run = json.loads(res.stdout)
    assert run["counts"]["resumed"] == 2 and run["counts"]["restored"] == 3
    ref = tmp_path / "ref"
    restore("toy", tiny_testset, ref, seed=3)
    assert _pngs(out) == _pngs(ref)


def test_bad_image_is_a_failure_not_an_abort(testset_factory, tmp_path):
    ts = testset_factory(tmp_path / "ts", n=3)
    (ts / "lq" / "face001.png").write_bytes(b"not a png")
    s = restore("lq", ts, tmp_path / "r", batch_size=3, verify=False)  # decode failure, not the hash check
    assert s["counts"]["ok"] == 2 and [f["id"] for f in s["failures"]] == ["face001"]
    assert "face001.png" in s["failures"][0]["reason"] and "not a recognised image" in s["failures"][0]["reason"]
    assert "FAILED face001" in (tmp_path / "r" / "run.log").read_text()


def test_bicubic_without_scale_fails_each_image_clearly(testset_factory, tmp_path):
    ts = testset_factory(tmp_path / "ts", n=2, scale=None)
    s = restore("bicubic", ts, tmp_path / "r")
    assert s["counts"]["failed"] == 2 and "`options` scale=4" in s["failures"][0]["reason"]
    s = restore("bicubic", ts, tmp_path / "r2", options={"scale": 4.0})
    assert s["counts"]["ok"] == 2


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_low_precision_path_on_cpu(tiny_testset, tmp_path, dtype):
    s32 = restore("toy-torch", tiny_testset, tmp_path / "fp32", limit=2, batch_size=2)
    slo = restore("toy-torch", tiny_testset, tmp_path / dtype, dtype=dtype, limit=2, batch_size=2)
    assert slo["options"]["dtype"] == dtype and slo["counts"]["ok"] == 2
    a = read_image(tmp_path / "fp32" / "face000.png").astype(int)
    b = read_image(tmp_path / dtype / "face000.png").astype(int)
    diff = np.abs(a - b)
    # low precision changes some pixels by rounding, never by much (bf16 has 8 mantissa bits: ~1/256 relative)
    assert diff.max() <= 4 and diff.mean() < 1.0
    assert s32["run_key"] != slo["run_key"]


@pytest.mark.slow
def test_one_and_two_workers_give_the_same_bytes(tiny_testset, tmp_path):
    restore("toy", tiny_testset, tmp_path / "w1", seed=5, batch_size=2)
    s2 = restore("toy", tiny_testset, tmp_path / "w2", seed=5, batch_size=2, workers=2)
    assert s2["counts"]["ok"] == 5
    assert _pngs(tmp_path / "w1") == _pngs(tmp_path / "w2")


def test_refs_reach_reference_methods(tiny_testset, tmp_path):
    from bfrbench.methods import METHODS
    from bfrbench.methods._base import Restorer

    seen: dict[str, int] = {}

    class CountRefs(Restorer):
        name = "count-refs"
        uses_refs = needs_refs = True
        max_refs = 5

        def restore(self, lq, *, refs=None, seeds=None, context=None):
            for ctx, r in zip(context, refs):
                seen[ctx["id"]] = len(r)
                assert all(x.shape == (512, 512, 3) for x in r)
            return lq.copy()

    METHODS.register("count-refs", CountRefs)
    try:
        s = restore("count-refs", tiny_testset, tmp_path / "r", refs=2)
        assert seen == {f"face{i:03d}": 2 for i in range(5)} and s["refs"] == {"k": 2, "used": True}
        csv = tmp_path / "refs.csv"
        csv.write_text("id,ref_paths\nface000,\"['%s']\"\n" % (tiny_testset / "refs" / "face000_r0.png"))
        seen.clear()
        s = restore("count-refs", tiny_testset, tmp_path / "r2", refs_csv=csv)
        assert seen == {"face000": 1} and s["counts"]["failed"] == 4
        assert "no reference images for id 'face001'" in s["failures"][0]["reason"]
    finally:
        METHODS._entries.pop("count-refs", None)
