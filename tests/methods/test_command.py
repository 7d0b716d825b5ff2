"""The command adapter against small scripts that stand in for official inference repositories."""

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bfrbench.errors import ConfigError
from bfrbench.io import read_image
from bfrbench.methods.runner import restore
from bfrbench.rng import item_seed

# A CodeFormer/InterLCM-like script: -i DIR -o DIR --has_aligned, writes <o>/restored_faces/<stem>.png
# (the negative image) and a decoy <o>/cropped_faces/<stem>.png. Modes: crash after 2 images, wrong size.
OFFICIAL = textwrap.dedent('''
    import argparse, glob, os, sys
    import numpy as np
    from PIL import Image
    ap = argparse.ArgumentParser()
    ap.add_argument("-i", "--input_path"); ap.add_argument("-o", "--output_path")
    ap.add_argument("--has_aligned", action="store_true"); ap.add_argument("--crash_after", type=int, default=-1)
    ap.add_argument("--small", default="")
    a = ap.parse_args()
    assert a.has_aligned
    print("cwd", os.getcwd(), "FLAG", os.environ.get("MY_FLAG"))
    for n, p in enumerate(sorted(glob.glob(os.path.join(a.input_path, "*.png")))):
        if n == a.crash_after:
            print("CUDA out of memory (simulated)", file=sys.stderr); sys.exit(2)
        stem = os.path.splitext(os.path.basename(p))[0]
        img = 255 - np.asarray(Image.open(p).convert("RGB"))
        if stem == a.small:
            img = img[:256, :256]
        for sub, arr in (("restored_faces", img), ("cropped_faces", np.zeros_like(img))):
            os.makedirs(os.path.join(a.output_path, sub), exist_ok=True)
            Image.fromarray(arr).save(os.path.join(a.output_path, sub, stem + ".png"))
''')

# A ReF-LDM-like script: one image per call, --lq_path --ref_paths ... --output_path --seed
PER_IMAGE = textwrap.dedent('''
    import argparse
    import numpy as np
    from PIL import Image
    ap = argparse.ArgumentParser()
    ap.add_argument("--lq_path"); ap.add_argument("--ref_paths", nargs="+"); ap.add_argument("--output_path")
    ap.add_argument("--seed", type=int)
    a = ap.parse_args()
    imgs = [np.asarray(Image.open(p).convert("RGB"), dtype=np.float64) for p in [a.lq_path] + a.ref_paths]
    out = np.mean(imgs, axis=0) + np.random.default_rng(a.seed).integers(0, 3, imgs[0].shape)
    Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8)).save(a.output_path)
''')


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    d = tmp_path_factory.mktemp("official_repo")
    (d / "inference.py").write_text(OFFICIAL)
    (d / "infer_one.py").write_text(PER_IMAGE)
    (d / "slow.py").write_text("import time; time.sleep(30)\n")
    return d


def _opts(repo: Path, extra: str = "", **kw) -> dict:
    return {"template": f"{sys.executable} inference.py -i {{input_dir}} -o {{output_dir}} --has_aligned {extra}",
            "cwd": str(repo), **kw}


def test_good_script_outputs_mapped_by_id(tiny_testset, scripts, tmp_path):
    s = restore("command", tiny_testset, tmp_path / "r", options=_opts(scripts, env=["MY_FLAG=hello"]), batch_size=3)
    assert s["counts"]["ok"] == 5 and s["failures"] == []
    for i in range(5):
        lq = read_image(tiny_testset / "lq" / f"face{i:03d}.png")
        assert np.array_equal(read_image(tmp_path / "r" / f"face{i:03d}.png"), 255 - lq)  # not the decoy
    log = (tmp_path / "r" / "run.log").read_text()
    assert log.count("=== command") == 2 and "exit 0" in log and f"cwd {scripts} FLAG hello" in log
    assert not any((tmp_path / "r" / ".work").iterdir())  # staging cleaned up


def test_script_crashing_halfway_keeps_what_it_wrote(tiny_testset, scripts, tmp_path):
    s = restore("command", tiny_testset, tmp_path / "r", options=_opts(scripts, "--crash_after 2"), batch_size=4,
                limit=4)
    assert sorted(s["images"]) == ["face000", "face001"]
    assert [f["id"] for f in s["failures"]] == ["face002", "face003"]
    reason = s["failures"][0]["reason"]
    assert "exited with status 2" in reason and "CUDA out of memory (simulated)" in reason
    assert "CUDA out of memory" in (tmp_path / "r" / "run.log").read_text()


def test_wrong_size_output_fails_that_image_only(tiny_testset, scripts, tmp_path):
    s = restore("command", tiny_testset, tmp_path / "r", options=_opts(scripts, "--small face003"), batch_size=4,
                limit=4)
    assert s["counts"]["ok"] == 3 and [f["id"] for f in s["failures"]] == ["face003"]
    assert "is 256x256, expected 512x512" in s["failures"][0]["reason"]
    assert not (tmp_path / "r" / "face003.png").exists()


def test_output_glob_and_missing_outputs(tiny_testset, scripts, tmp_path):
    opts = _opts(scripts, output_glob="restored_faces/{id}_00.png")  # the script writes <id>.png: none match
    s = restore("command", tiny_testset, tmp_path / "r", options=opts, limit=2)
    assert s["counts"]["failed"] == 2 and "no output matching 'restored_faces/face000_00.png'" in s["failures"][0]["reason"]


def test_per_image_mode_with_reference_paths_and_seeds(tiny_testset, scripts, tmp_path):
    tpl = (f"{sys.executable} {scripts / 'infer_one.py'} --lq_path {{input_path}} --ref_paths {{ref_paths}} "
           "--output_path {output_path} --seed {seed}")
    s = restore("command", tiny_testset, tmp_path / "r", options={"template": tpl, "mode": "image"}, refs=2,
                limit=2, seed=4)
    assert s["counts"]["ok"] == 2 and s["refs"]["k"] == 2
    lq = read_image(tiny_testset / "lq" / "face001.png").astype(np.float64)
    refs = [read_image(tiny_testset / "refs" / f"face001_r{k}.png").astype(np.float64) for k in range(2)]
    noise = np.random.default_rng(item_seed(4, "face001")).integers(0, 3, lq.shape)
    want = np.clip(np.rint(np.mean([lq, *refs], axis=0) + noise), 0, 255).astype(np.uint8)
    assert np.array_equal(read_image(tmp_path / "r" / "face001.png"), want)


def test_timeout_kills_the_command(tiny_testset, scripts, tmp_path):
    opts = {"template": f"{sys.executable} {scripts / 'slow.py'}", "timeout": 1.0}
    s = restore("command", tiny_testset, tmp_path / "r", options=opts, limit=1)
    assert s["counts"]["failed"] == 1 and "timed out after 1.0 s" in s["failures"][0]["reason"]
    assert s["timings"]["total_seconds"] < 15


def test_bad_templates_are_config_errors(tiny_testset, tmp_path):
    with pytest.raises(ConfigError, match=r"unknown placeholder\(s\) \['input_path'\] for mode 'folder'"):
        restore("command", tiny_testset, tmp_path / "r", options={"template": "x {input_path}"})
    with pytest.raises(ConfigError, match="needs option"):
        restore("command", tiny_testset, tmp_path / "r")
    with pytest.raises(ConfigError, match="env item 'NOVALUE' must look like KEY=VAL"):
        restore("command", tiny_testset, tmp_path / "r", options=["template=x {input_dir}", "env=NOVALUE"])


def test_cli_exit_codes(tiny_testset, scripts, tmp_path, capsys):
    from bfrbench.cli import main

    base = ["restore", "--method", "command", "--testset", str(tiny_testset), "--batch-size", "2", "--limit", "2",
            "--option", f"template={sys.executable} inference.py -i {{input_dir}} -o {{output_dir}} --has_aligned",
            "--option", f"cwd={scripts}"]
    assert main(base + ["--out", str(tmp_path / "ok"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["ok"] == 2
    assert main(base + ["--out", str(tmp_path / "bad"), "--option", "env=X=1", "--option", "env=Y=2",
                        "--option", "timeout=0.001"]) in (3,)
    assert main(["restore", "--method", "nope", "--testset", str(tiny_testset), "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "unknown method 'nope'" in err
