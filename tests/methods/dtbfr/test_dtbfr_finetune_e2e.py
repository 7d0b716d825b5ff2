"""End to end on CPU: ``finetune`` on real faces with tiny random models, killed mid-way and resumed == uninterrupted;
then the models before and after fine-tuning scored in one leaderboard suite.

Real faces: skimage's astronaut and insightface's Tom Hanks photo (``bfrbench.faces.samples``, offline), degraded
with the ``gfpgan`` preset; the unlabeled set is their LQ at 64x64 (the tiny prior's size). Tiny networks with
random weights: SwinIR ``tiny``, iDDPM ``tiny`` (25 respaced steps, start 15, low-pass until 9, N = 8), D width 8.
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

PSEUDO = {"steps": 25, "start": 15, "reg_end": 9, "image_size": 64}
TRAIN = {"disc_num_feat": 8, "save_every": 2, "lpips": 0.0}


def _faces(folder: Path, size: int) -> Path:
    """6 real 512-ish faces -> ``folder/<name>.png`` at ``size``: crops/flips of two real photos."""
    import cv2

    from bfrbench.faces.samples import sample_photos

    photos = sample_photos(folder.parent / "samples", names=("astronaut", "tom_hanks"))
    astro = read_image(photos["astronaut"])[20:260, 120:360]
    tom = read_image(photos["tom_hanks"])
    crops = {"astro0": astro, "astro1": astro[8:232, 8:232], "astro2": astro[:, ::-1],
             "tom0": tom, "tom1": tom[4:108, 4:108], "tom2": tom[:, ::-1]}
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
    kw = dict(base="swinir", hq_real=str(real64), iters=4, seed=7, batch_size=2, micro_batch=1,
              swinir_weights=str(root / "g0.safetensors"), swinir_config=str(root / "swinir_tiny.json"),
              iddpm_weights=str(root / "prior.safetensors"), iddpm_config="tiny", down_n=8, pseudo_options=PSEUDO,
              train_options=TRAIN, show_progress=False)
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
    assert cut["stages"]["pseudo"]["counts"]["resumed"] == 6  # stage 2 was complete: nothing recomputed
    # same pseudo-targets and the same final weights, bit for bit
    for p in sorted((root / "run_full" / "targets").glob("*.png")):
        assert p.read_bytes() == (root / "run_cut" / "targets" / p.name).read_bytes()
    a = (root / "run_full" / "model" / "swinir.safetensors").read_bytes()
    assert a == (root / "run_cut" / "model" / "swinir.safetensors").read_bytes()
    assert a != (root / "g0.safetensors").read_bytes()
    rec = json.loads((root / "run_full" / "finetune.json").read_text())
    assert rec["stages"]["train"]["pairs"] == 6 and len(rec["inputs"]["lq"]["sha256"]) == 6
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
  - {{name: gfpgan, preset: gfpgan, seed: 11, limit: 4}}
metrics: [psnr:rgb]
methods:
  - {{name: dtbfr, label: before, options: {{weights: {root / 'g0.safetensors'}, config: {root / 'swinir_tiny.json'}, size: 64}}}}
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
    assert rows["after"]["values"]["psnr:rgb"]["n"] == 4
