"""End to end on CPU: ``finetune`` on real faces with tiny random models, killed mid-way and resumed == uninterrupted;
then the models before and after fine-tuning scored in one leaderboard suite.

Real faces: skimage's astronaut and insightface's Tom Hanks photo (``bfrbench.faces.samples``, offline), degraded
with the ``gfpgan`` preset; the unlabeled set is their LQ at 64x64 (the tiny prior's size). Tiny networks with
random weights: SwinIR ``tiny``, iDDPM ``tiny`` (10 respaced steps, start 6, low-pass until 3, N = 8), D width 8.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from dtbfr_train_helpers import random_tiny_swinir

from bfrbench.io import read_image, write_png

pytestmark = pytest.mark.slow

PSEUDO = {"steps": 10, "start": 6, "reg_end": 3, "image_size": 64}  # official 250 / 150 / 90 at 512
TRAIN = {"disc_num_feat": 8, "save_every": 2, "lpips": 0.0}


def _faces(folder: Path, size: int) -> Path:
    """4 real faces -> ``folder/<name>.png`` at ``size``: crops and flips of two real photos."""
    import cv2

    from bfrbench.faces.samples import sample_photos

    photos = sample_photos(folder.parent / "samples", names=("astronaut", "tom_hanks"))
    astro = read_image(photos["astronaut"])[20:260, 120:360]
    tom = read_image(photos["tom_hanks"])
    crops = {"astro0": astro, "astro1": astro[8:232, ::-1], "tom0": tom, "tom1": tom[4:108, ::-1]}
    for name, img in crops.items():
        write_png(folder / f"{name}.png", cv2.resize(np.ascontiguousarray(img), (size, size),
                                                     interpolation=cv2.INTER_AREA if img.shape[0] > size
                                                     else cv2.INTER_CUBIC))
    return folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import cv2

    from bfrbench.methods.dtbfr.iddpm import IDDPMUNet, iddpm_config
    from bfrbench.testset import build_testset

    root = tmp_path_factory.mktemp("dtbfr_e2e")
    hq512 = _faces(root / "faces512", 512)
    build_testset("gfpgan", hq512, root / "ts", seed=5)
    (root / "lq64").mkdir()
    for p in sorted((root / "ts" / "lq").glob("*.png")):
        write_png(root / "lq64" / p.name, cv2.resize(read_image(p), (64, 64), interpolation=cv2.INTER_AREA))
    real64 = root / "real64"
    for p in sorted(hq512.glob("*.png")):
        write_png(real64 / p.name, cv2.resize(read_image(p), (64, 64), interpolation=cv2.INTER_AREA))
    g_cfg = random_tiny_swinir(root / "g0.safetensors", seed=1)
    (root / "swinir_tiny.json").write_text(json.dumps(g_cfg))
    from safetensors.torch import save_file

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        unet = IDDPMUNet(iddpm_config("tiny"))
    save_file({k: v.contiguous() for k, v in unet.state_dict().items()}, str(root / "prior.safetensors"))
    kw = {"base": "swinir", "hq_real": str(real64), "iters": 4, "seed": 7, "batch_size": 2, "micro_batch": 1,
          "swinir_weights": str(root / "g0.safetensors"), "swinir_config": str(root / "swinir_tiny.json"),
          "infer_batch_size": 4, "iddpm_weights": str(root / "prior.safetensors"), "iddpm_config": "tiny",
          "down_n": 8, "pseudo_options": PSEUDO, "train_options": TRAIN, "show_progress": False}
    return root, kw


def test_killed_and_resumed_finetune_equals_uninterrupted_then_leaderboard(setup):
    from bfrbench.methods.dtbfr.finetune import finetune
    from bfrbench.methods.dtbfr.loop import TrainingStopped

    root, kw = setup
    full = finetune(root / "lq64", root / "run_full", **kw)
    with pytest.raises(TrainingStopped):
        finetune(root / "lq64", root / "run_cut", stop_after=3, **kw)  # killed after iteration 3 (checkpoint at 2)
    cut = finetune(root / "lq64", root / "run_cut", **kw)
    assert full["stages"]["train"]["resumed_from"] == 0 and cut["stages"]["train"]["resumed_from"] == 2
    assert cut["stages"]["pseudo"]["counts"]["resumed"] == 4  # stage 2 was complete: nothing recomputed
    # same pseudo-targets and the same final weights, bit for bit
    for p in sorted((root / "run_full" / "targets").glob("*.png")):
        assert p.read_bytes() == (root / "run_cut" / "targets" / p.name).read_bytes()
    from safetensors.torch import load_file

    a, b = (load_file(str(root / r / "model" / "swinir.safetensors")) for r in ("run_full", "run_cut"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (root / "run_full" / "model" / "swinir.safetensors").read_bytes() == \
        (root / "run_cut" / "model" / "swinir.safetensors").read_bytes()
    assert not torch.equal(a["conv_last.weight"], load_file(str(root / "g0.safetensors"))["conv_last.weight"])
    rec = json.loads((root / "run_full" / "finetune.json").read_text())
    assert rec["stages"]["train"]["pairs"] == 4 and len(rec["inputs"]["lq"]["sha256"]) == 4
    assert rec["weights"]["swinir_init"] and rec["weights"]["iddpm"] and rec["config"]["pseudo"]["down_N"] == 8
    model = json.loads((root / "run_full" / "model.json").read_text())
    assert model["iterations"] == 4 and model["swinir_config"]["embed_dim"] == 12
    # a rerun of a finished run does no work; a different setting into the same folder is refused
    again = finetune(root / "lq64", root / "run_full", **kw)
    assert again["stages"]["train"]["resumed_from"] == 4
    from bfrbench.errors import ArtifactError

    with pytest.raises(ArtifactError, match="different settings"):
        finetune(root / "lq64", root / "run_full", **{**kw, "iters": 5})
    _leaderboard(root)


def _leaderboard(root: Path) -> None:
    """The models before (starting weights) and after fine-tuning, scored in one suite on a degraded test set."""
    from bfrbench.leaderboard.render import render_suite
    from bfrbench.leaderboard.run import run_suite

    suite = root / "dtbfr-tiny"
    suite.mkdir()
    (suite / "suite.yaml").write_text(f"""
name: dtbfr-tiny
version: 1
main_score: psnr:rgb
baseline: before
source: {{kind: folder, path: {root / 'faces512'}}}
testsets:
  - {{name: gfpgan, preset: gfpgan, seed: 11, limit: 3}}
metrics: [psnr:rgb]
methods:
  - {{name: dtbfr, label: before,
     options: {{weights: {root / 'g0.safetensors'}, config: {root / 'swinir_tiny.json'}, size: 64}}}}
  - {{name: dtbfr, label: after, options: {{run: {root / 'run_full'}, size: 64}}}}
statistics: {{bootstrap_resamples: 200, seed: 0}}
plots: {{samples: 2}}
""")
    report = run_suite(suite, work_dir=root / "lb_work")
    assert not report.failures, report.failures
    render_suite(suite, work_dir=root / "lb_work")
    rows = {r["method"]: r for r in json.loads((suite / "results.json").read_text())["rows"]}
    assert set(rows) == {"before", "after"}
    vals = {m: r["values"]["psnr:rgb"]["mean"] for m, r in rows.items()}
    assert all(np.isfinite(v) and 3 < v < 40 for v in vals.values()) and vals["before"] != vals["after"]
    assert rows["after"]["values"]["psnr:rgb"]["n"] == 3


def test_cli_finetune_then_restore(setup, tmp_path, capsys):
    """The command line: a 2-iteration fine-tune, then `bfrbench restore --method dtbfr --option run=RUN`."""
    from bfrbench.cli import main

    root, kw = setup
    run = tmp_path / "run"
    argv = ["finetune", "dtbfr", "--lq", str(root / "lq64"), "--out", str(run), "--hq-real", kw["hq_real"],
            "--iters", "2", "--batch-size", "2", "--micro-batch", "2", "--seed", "1", "--infer-batch-size", "4",
            "--swinir-weights", kw["swinir_weights"], "--swinir-config", kw["swinir_config"],
            "--iddpm-weights", kw["iddpm_weights"], "--iddpm-config", "tiny", "--down-n", "8",
            "--disc-feat", "8", "--save-every", "1"]
    argv += [f"--pseudo-option={k}={v}" for k, v in PSEUDO.items()]
    # no LPIPS backbone offline: the command fails cleanly (exit 1, a message naming the weights), nothing trained
    assert main(argv) == 1
    assert "torchvision-vgg16" in capsys.readouterr().err
    assert main([*argv, "--json", "--lpips-backbone", "none"]) == 1  # not a file: a clear error again
    assert "'none' not found" in capsys.readouterr().err
    assert main([*argv, "--lpips-weight", "0"]) == 0, capsys.readouterr().err  # (the LPIPS term: test_..._losses)
    assert f"run={run}" in capsys.readouterr().out
    assert main(["restore", "--method", "dtbfr", "--testset", str(root / "ts"), "--out", str(tmp_path / "restored"),
                 "--option", f"run={run}", "--option", "size=64", "--limit", "2"]) == 0
    assert len(list((tmp_path / "restored").glob("*.png"))) == 2
    rj = json.loads((tmp_path / "restored" / "run.json").read_text())
    model = json.loads((run / "model.json").read_text())
    assert rj["weights"] == {"swinir": model["weights_sha256"]}


def test_other_base_goes_through_the_runner(setup, tmp_path):
    """--base METHOD: stage 1 is the restore runner; images the prior cannot take are reported, not trained on."""
    from bfrbench.errors import ArtifactError
    from bfrbench.methods.dtbfr.finetune import finetune

    root, kw = setup
    lq512 = tmp_path / "lq512"
    lq512.mkdir()
    for p in sorted((root / "ts" / "lq").glob("*.png"))[:2]:
        (lq512 / p.name).write_bytes(p.read_bytes())
    with pytest.raises(ArtifactError, match="no pseudo-targets"):
        finetune(lq512, tmp_path / "run", **{**kw, "base": "lq"})  # the tiny prior needs 64x64 images
    rec = json.loads((tmp_path / "run" / "finetune.json").read_text())
    assert rec["stages"]["base"]["method"] == "lq" and rec["stages"]["base"]["counts"]["ok"] == 2
    for p in sorted(lq512.glob("*.png")):
        assert np.array_equal(read_image(tmp_path / "run" / "base" / p.name), read_image(p))
    fails = rec["stages"]["pseudo"]["failures"]
    assert len(fails) == 2 and all("64x64" in f["reason"] for f in fails)
