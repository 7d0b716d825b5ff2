"""Training: each stage lowers its loss on real faces; a killed stage resumes to bit-identical weights."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from bfrbench.errors import ConfigError
from bfrbench.methods.clrface.config import CLRFaceConfig
from bfrbench.methods.clrface.train import TrainOptions, train_stage

RECIPE = ""


@pytest.fixture(autouse=True)
def _recipe(clr_recipe: str) -> None:
    global RECIPE
    RECIPE = clr_recipe


def _opts(faces: Path, out: Path, iters: int, tensorboard: bool = False, **kw) -> TrainOptions:
    return TrainOptions(faces=str(faces), recipe=RECIPE, out=str(out), iters=iters, config="tiny", progress=False,
                        tensorboard=tensorboard, **kw)


def _fixed_loss(stage: str, run: Path, faces: Path, weights: Path | None) -> float:
    """The stage's loss on a fixed batch (iteration 0's 4 faces) and fixed noise, with given (or initial) weights."""
    from bfrbench.methods.clrface.data import FacePairs
    from bfrbench.methods.clrface.stages import build_stage
    from bfrbench.methods.clrface.weights_format import _read_safetensors
    from bfrbench.rng import item_seed

    cfg = CLRFaceConfig.tiny()
    spec = build_stage(stage, cfg, run, "cpu", None, item_seed(0, stage, "init"))
    if weights is not None:
        spec.module.load_state_dict(_read_safetensors(weights)[0])
    hq, lq = FacePairs(faces, RECIPE, cfg.image_size, seed=123).batch(0, 4, "eval")
    with torch.no_grad() if stage != "mask" else torch.enable_grad():
        losses = [float(spec.loss(hq, lq, s)[0].detach()) for s in range(2)]
    return sum(losses) / len(losses)


def test_each_stage_lowers_its_loss(tmp_path: Path, clr_faces: Path) -> None:
    run = tmp_path / "run"
    iters = {"autoencoder": 8, "prior": 6, "irn": 6, "mask": 4}
    for stage, n in iters.items():
        train_stage(stage, _opts(clr_faces, run, n, batch_size=4))
        before = _fixed_loss(stage, run, clr_faces, None)
        after = _fixed_loss(stage, run, clr_faces, run / f"{stage}.safetensors")
        assert after < before, (stage, before, after)
    rows = list(csv.DictReader((run / "train" / "irn" / "log.csv").open()))
    assert [int(r["iteration"]) for r in rows] == list(range(1, 7))
    assert set(rows[0]) >= {"iteration", "seconds", "lr", "loss", "id_distance"}


def test_killed_stage_resumes_to_identical_weights(tmp_path: Path, clr_faces: Path) -> None:
    from safetensors.torch import load_file

    full = tmp_path / "full"
    train_stage("autoencoder", _opts(clr_faces, full, 4))  # tiny config: checkpoint every 2 iterations

    class Killed(Exception):
        pass

    def kill_at_3(it: int, logs: dict) -> None:
        if it == 3:
            raise Killed

    part = tmp_path / "part"
    with pytest.raises(Killed):
        train_stage("autoencoder", _opts(clr_faces, part, 4, on_step=kill_at_3))
    assert not (part / "autoencoder.safetensors").exists()
    st = torch.load(part / "train" / "autoencoder" / "ckpt_state.pt", weights_only=True)
    assert st["iteration"] == 2 and set(st) >= {"optimizer", "scheduler", "torch_rng"}
    with pytest.raises(ConfigError, match="`resume=True`"):
        train_stage("autoencoder", _opts(clr_faces, part, 4))
    summary = train_stage("autoencoder", _opts(clr_faces, part, 4, resume=True))
    assert summary["resumed_from"] == 2
    a, b = load_file(str(full / "autoencoder.safetensors")), load_file(str(part / "autoencoder.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log = list(csv.DictReader((part / "train" / "autoencoder" / "log.csv").open()))
    assert [int(r["iteration"]) for r in log] == [1, 2, 3, 4]  # the killed run's row 3 was dropped, then redone


def test_stage_order_and_config_are_checked(tmp_path: Path, clr_faces: Path) -> None:
    with pytest.raises(ConfigError, match="--stage autoencoder"):
        train_stage("prior", _opts(clr_faces, tmp_path / "r", 1))
    with pytest.raises(ConfigError, match="no images"):
        (tmp_path / "empty").mkdir()
        train_stage("irn", _opts(tmp_path / "empty", tmp_path / "r2", 1))
    train_stage("irn", _opts(clr_faces, tmp_path / "r3", 1, tensorboard=True))
    assert list((tmp_path / "r3" / "train" / "irn" / "tb").glob("events.out.tfevents.*"))
    other = CLRFaceConfig.tiny()
    other.sampler.steps = 7
    with pytest.raises(ConfigError, match="different config"):
        train_stage("mask", TrainOptions(faces=str(clr_faces), recipe=RECIPE, out=str(tmp_path / "r3"), iters=1,
                                         config=other, progress=False, tensorboard=False))
