"""generate_pseudo_targets: sharding over dask gives the same bytes, resume redoes only what is missing.

Micro random weights (seeded generator, no global RNG) through the same loading and sampling path the real
iddpm_ffhq512 / swinir_gan_v1 files take; real faces (skimage's astronaut photo) at 32x32 to stay fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch

from bfrbench.errors import ArtifactError, ConfigError
from bfrbench.io import read_image, write_png
from bfrbench.methods.dtbfr.iddpm import IDDPMUNet, iddpm_config
from bfrbench.methods.dtbfr.pseudo import PseudoTargetConfig, generate_pseudo_targets
from bfrbench.methods.dtbfr.swinir import SwinIR, swinir_config

CFG = PseudoTargetConfig(steps=25, start=4, reg_end=2, down_N=4, image_size=32)
PRIOR = iddpm_config("tiny", image_size=32, channel_mult=(1, 2), num_res_blocks=(1, 1), attention_resolutions=(16,))


def _random_weights(model: torch.nn.Module, path: Path, seed: int) -> Path:
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(seed)
    sd = {k: (v + 0.05 * torch.randn(v.shape, generator=g)) if v.is_floating_point() and "attn_mask" not in k
          else v for k, v in model.state_dict().items()}
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("w")
    return {"prior": _random_weights(IDDPMUNet(PRIOR), d / "prior.safetensors", 1),
            "swinir": _random_weights(SwinIR(swinir_config("tiny")), d / "swinir.safetensors", 2)}


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory, astronaut_face: np.ndarray) -> Path:
    """Five 32x32 real faces (shifted crops of the astronaut photo) as an LQ folder; base = the same files."""
    d = tmp_path_factory.mktemp("faces")
    for i in range(5):
        img = cv2.resize(np.roll(astronaut_face, 24 * i, axis=1), (32, 32), interpolation=cv2.INTER_AREA)
        write_png(d / f"face{i}.png", img)
    return d


def _run(faces: Path, out: Path, weights: dict[str, Path], **kw: Any) -> Any:
    kw.setdefault("batch_size", 2)
    return generate_pseudo_targets(faces, faces, out, prior=weights["prior"], prior_config=PRIOR,
                                   config=CFG, seed=7, **kw)


def _bytes(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.glob("*.png"))}


def test_two_workers_same_bytes_and_resume(faces: Path, weights: dict[str, Path], tmp_path: Path) -> None:
    one = _run(faces, tmp_path / "w1", weights)
    assert one.ok == [f"face{i}" for i in range(5)] and one.failed == [] and one.resumed == []
    two = _run(faces, tmp_path / "w2", weights, workers=2)
    b1, b2 = _bytes(tmp_path / "w1"), _bytes(tmp_path / "w2")
    assert len(b1) == 5 and b1 == b2
    m1 = json.loads((tmp_path / "w1" / "pseudo_targets.json").read_text())
    def strip(images: dict[str, Any]) -> dict[str, Any]:
        return {k: {f: v for f, v in r.items() if f != "seconds"} for k, r in images.items()}

    assert strip(m1["images"]) == strip(two.manifest["images"])
    rec = m1["images"]["face0"]
    assert set(rec) >= {"seed", "lq_sha256", "base_sha256", "sha256", "seconds"}
    assert m1["prior"]["sha256"] and m1["config"] == CFG.to_dict() and m1["counts"]["computed"] == 5
    # the prior changed the images, and per-image seeds give different noise
    out0 = read_image(tmp_path / "w1" / "face0.png").astype(int)
    assert np.abs(out0 - read_image(faces / "face0.png").astype(int)).mean() > 1.0
    # resume: delete one output, corrupt another; only those two are recomputed, to the same bytes
    (tmp_path / "w1" / "face3.png").unlink()
    (tmp_path / "w1" / "face1.png").write_bytes(b"broken")
    mtime = (tmp_path / "w1" / "face0.png").stat().st_mtime_ns
    again = _run(faces, tmp_path / "w1", weights)
    assert again.resumed == ["face0", "face2", "face4"] and again.manifest["counts"]["computed"] == 2
    assert _bytes(tmp_path / "w1") == b1
    assert (tmp_path / "w1" / "face0.png").stat().st_mtime_ns == mtime
    # another batch size only re-associates float sums: a few uint8 values move by at most 1
    b1_imgs = _run(faces, tmp_path / "b1", weights, batch_size=1).out
    for i in range(5):
        d = np.abs(read_image(b1_imgs / f"face{i}.png").astype(int) - read_image(tmp_path / "w1" / f"face{i}.png"))
        assert d.max() <= 1 and (d > 0).mean() < 0.01
    with pytest.raises(ArtifactError, match="different pseudo-target settings"):
        generate_pseudo_targets(faces, faces, tmp_path / "w1", prior=weights["prior"],
                                prior_config=PRIOR, config=CFG, seed=8)


def test_swinir_path_failures_and_dtype(faces: Path, weights: dict[str, Path], tmp_path: Path) -> None:
    lq = tmp_path / "lq"
    lq.mkdir()
    for name in ("face0.png", "face1.png"):
        (lq / name).write_bytes((faces / name).read_bytes())
    write_png(lq / "small.png", np.zeros((16, 16, 3), np.uint8))
    (lq / "bad.png").write_bytes(b"not an image")
    res = generate_pseudo_targets(lq, None, tmp_path / "out", prior=weights["prior"],
                                  prior_config=PRIOR, restorer=weights["swinir"],
                                  restorer_config=swinir_config("tiny"), config=CFG, seed=7, batch_size=4)
    assert res.ok == ["face0", "face1"]
    assert [f["id"] for f in res.failed] == ["bad", "small"]
    assert "32x32" in res.failed[1]["reason"] and "bad.png" in res.failed[0]["reason"]
    assert res.manifest["restorer"]["sha256"] and res.manifest["images"]["face0"]["base_sha256"] is None
    # already-restored path on the same faces differs (no SwinIR in between)
    base = _run(faces, tmp_path / "base", weights)
    assert (tmp_path / "out" / "face0.png").read_bytes() != (base.out / "face0.png").read_bytes()
    # field overrides build the same config: same run key, so the folder resumes (nothing recomputed)
    same = generate_pseudo_targets(faces, faces, base.out, prior=weights["prior"], prior_config=PRIOR, seed=7,
                                   batch_size=2, steps=25, start=4, reg_end=2, down_N=4, image_size=32)
    assert same.manifest["counts"]["computed"] == 0 and len(same.resumed) == 5
    bf = _run(faces, tmp_path / "bf16", weights, dtype=torch.bfloat16)
    diff = np.abs(read_image(bf.out / "face0.png").astype(int) - read_image(base.out / "face0.png").astype(int))
    assert 0 < diff.mean() < 8
    with pytest.raises(ConfigError, match="exactly one of base_dir"):
        generate_pseudo_targets(lq, None, tmp_path / "x", prior=weights["prior"])
    with pytest.raises(ConfigError, match="dtype"):
        _run(faces, tmp_path / "x", weights, dtype="int8")
