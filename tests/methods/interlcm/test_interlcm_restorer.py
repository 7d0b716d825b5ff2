"""The ``interlcm`` restorer end to end with the official tiny fixture modules: CLI, batching, seeds, dtypes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bfrbench.errors import ConfigError, MissingWeightsError
from bfrbench.methods import METHODS
from bfrbench.methods.interlcm import InterLCM


def tiny_options(tiny: dict[str, Path], steps: int = 2) -> dict[str, Any]:
    """Options pointing the restorer at the tiny weights; size 64 is the size of the official tiny runs."""
    return {"steps": steps, "visual_encoder": str(tiny["visual_encoder"]), "spatial_encoder": str(tiny["spatial_encoder"]),
            "clip": str(tiny["clip"]), "lcm": str(tiny["lcm"]), "sd_unet_config": str(tiny["sd_unet_config"]),
            "arch": str(tiny["arch"]), "size": 64}


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    """3 LQ faces (512) from a real photo (skimage astronaut, public domain)."""
    import cv2
    from skimage import data

    base = cv2.resize(data.astronaut()[20:260, 120:360], (512, 512), interpolation=cv2.INTER_AREA)
    return np.stack([np.roll(base, 16 * i, axis=1) for i in range(3)])


@pytest.fixture(scope="module")
def restorer(ilcm_tiny: dict[str, Path]) -> InterLCM:
    r = InterLCM(batch_size=3, **tiny_options(ilcm_tiny, steps=4))
    r.networks()
    return r


def test_interlcm_cli_restore_identical_bytes_for_batch_sizes(tmp_path: Path, ilcm_tiny: dict[str, Path],
                                                              testset_factory: Any) -> None:
    from bfrbench.cli import main

    ts = testset_factory(tmp_path / "ts", n=3)
    opts = [a for k, v in tiny_options(ilcm_tiny).items() for a in ("--option", f"{k}={v}")]
    for bs in (1, 3):
        assert main(["restore", "--method", "interlcm", "--testset", str(ts), "--out", str(tmp_path / f"bs{bs}"),
                     "--batch-size", str(bs), "--seed", "5", *opts]) == 0
    names = sorted(p.name for p in (tmp_path / "bs1").glob("*.png"))
    assert names == ["face000.png", "face001.png", "face002.png"]
    for n in names:
        assert (tmp_path / "bs1" / n).read_bytes() == (tmp_path / "bs3" / n).read_bytes()
    run = json.loads((tmp_path / "bs3" / "run.json").read_text())
    assert run["counts"]["ok"] == 3 and run["failures"] == []
    hashes = run["weights"]
    assert len(hashes["interlcm-visual-encoder-1step"]) == 64 and len(hashes["lcm-dreamshaper-v7-unet"]) == 64
    assert run["timings"]["mean_seconds_per_image"] > 0
    from bfrbench.io import read_image

    a, b = read_image(tmp_path / "bs1" / "face000.png"), read_image(tmp_path / "bs1" / "face001.png")
    assert a.shape == (512, 512, 3) and a.std() > 5 and not np.array_equal(a, b)


def test_interlcm_seeds_batches_and_options(restorer: InterLCM, faces: np.ndarray, ilcm_tiny: dict[str, Path]) -> None:
    out = restorer.restore(faces, seeds=[11, 12, 13])
    assert out.shape == (3, 512, 512, 3) and out.dtype == np.uint8
    single = restorer.restore(faces[1:2], seeds=[12])
    np.testing.assert_array_equal(single[0], out[1])  # batch_invariant (default): byte-identical to alone
    other = restorer.restore(faces[1:2], seeds=[99])
    assert np.abs(other.astype(int) - out[1]).mean() > 0.5  # the seed matters (noise is injected between steps)
    fast = InterLCM(batch_size=3, batch_invariant=False, **tiny_options(ilcm_tiny, steps=4))
    diff = np.abs(fast.restore(faces, seeds=[11, 12, 13]).astype(int) - out)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01  # one batched call per network: float re-association only
    nofix = InterLCM(color_fix="none", **tiny_options(ilcm_tiny, steps=4)).restore(faces[:1], seeds=[11])
    adain = InterLCM(color_fix="adain", **tiny_options(ilcm_tiny, steps=4)).restore(faces[:1], seeds=[11])
    assert np.abs(nofix.astype(int) - out[0]).mean() > 1 and np.abs(adain.astype(int) - nofix).mean() > 1


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_interlcm_low_precision_on_cpu(dtype: str, restorer: InterLCM, faces: np.ndarray,
                                       ilcm_tiny: dict[str, Path]) -> None:
    import torch

    r = InterLCM(dtype=dtype, **tiny_options(ilcm_tiny, steps=4))
    out = r.restore(faces[:1], seeds=[11])
    want = {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    nets = r.networks()
    assert nets.unet.conv_in.weight.dtype == want and nets.controlnet.conv_in.weight.dtype == want
    assert nets.vae_dtype == (torch.float32 if dtype == "fp16" else want)  # force_upcast keeps an fp16 VAE in fp32
    ref = restorer.restore(faces[:1], seeds=[11])
    other = restorer.restore(faces[:1], seeds=[12])
    gap = np.abs(other.astype(int) - ref).mean()
    assert np.abs(out.astype(int) - ref).mean() < 0.5 * gap


def test_interlcm_registry_config_and_errors(ilcm_tiny: dict[str, Path]) -> None:
    assert METHODS.get("interlcm") is InterLCM
    info = InterLCM.info()
    assert info["stochastic"] and info["default_steps"] == 4 and "lcm-dreamshaper-v7-unet" in info["weights"]
    from bfrbench.methods import parse_options

    opts = parse_options(InterLCM, ["steps=2", "color_fix=adain", "clip_antialias=true", "size=64"])
    assert opts == {"steps": 2, "color_fix": "adain", "clip_antialias": True, "size": 64}
    with pytest.raises(ConfigError, match="steps"):
        parse_options(InterLCM, ["steps=3"])
    with pytest.raises(ConfigError, match="steps"):
        InterLCM(steps=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="color_fix"):
        InterLCM(color_fix="hist")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="size"):
        InterLCM(size=100)
    r = InterLCM(steps=2, color_fix="none", dtype="bf16", size=256)
    assert InterLCM.from_config(r.config()).config() == r.config()
    with pytest.raises(MissingWeightsError, match="visual_encoder_1step.pth"):
        InterLCM(steps=2).restore(np.zeros((1, 512, 512, 3), np.uint8))
    with pytest.raises(ConfigError, match="missing unet/config.json"):
        bad = ilcm_tiny["lcm"].parent / "lcm_without_vae"
        (bad / "unet").mkdir(parents=True, exist_ok=True)
        InterLCM(**{**tiny_options(ilcm_tiny), "lcm": str(bad)}).restore(np.zeros((1, 512, 512, 3), np.uint8))


def test_interlcm_unaligned_photo_through_runner(tmp_path: Path, ilcm_tiny: dict[str, Path]) -> None:
    """``--unaligned``: the runner's detect/align/paste-back path (offline dlib detector, insightface's t1.jpg)."""
    import importlib.util
    import shutil

    spec = importlib.util.find_spec("insightface")
    if spec is None or spec.origin is None or importlib.util.find_spec("dlib") is None:
        pytest.skip("insightface (for t1.jpg) or dlib-bin (offline detector) is not installed")
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(Path(spec.origin).parent / "data" / "images" / "t1.jpg", photos / "t1.jpg")
    from bfrbench.io import read_image
    from bfrbench.methods.runner import restore

    s = restore("interlcm", photos, tmp_path / "run", unaligned=True, seed=3, batch_size=4,
                options=tiny_options(ilcm_tiny))
    assert s["counts"]["ok"] == 1 and s["unaligned"] is True
    assert len(list((tmp_path / "run" / "faces").glob("t1_*.png"))) == 6
    assert read_image(tmp_path / "run" / "t1.png").shape == read_image(photos / "t1.jpg").shape


def test_interlcm_gray_inputs(ilcm_tiny: dict[str, Path], faces: np.ndarray) -> None:
    """Official post-processing of gray faces: gray output carrying the input's statistics; colour inputs untouched."""
    from bfrbench.methods.interlcm.gray import gray_color_transfer, is_gray

    gray_in = np.repeat(faces[:1].mean(axis=3, keepdims=True).round().astype(np.uint8), 3, axis=3)
    assert is_gray(gray_in[0]) and not is_gray(faces[0])
    opts = tiny_options(ilcm_tiny, steps=2)
    fixed = InterLCM(**opts).restore(gray_in, seeds=[4])[0]
    raw = InterLCM(gray_fix=False, **opts).restore(gray_in, seeds=[4])[0]
    assert np.array_equal(fixed[..., 0], fixed[..., 1]) and np.array_equal(fixed[..., 1], fixed[..., 2])
    assert not np.array_equal(raw[..., 0], raw[..., 1])  # the tiny random model alone does not keep it gray
    # the input's mean and spread (clipping at 0/255 trims the spread a little)
    assert abs(float(fixed.mean()) - float(gray_in.mean())) < 2.0
    assert abs(float(fixed.std()) - float(gray_in.std())) < 0.1 * float(gray_in.std())
    assert np.array_equal(gray_color_transfer(raw, gray_in[0]), fixed)
    colour = InterLCM(**opts).restore(faces[:1], seeds=[4])
    assert np.array_equal(colour, InterLCM(gray_fix=False, **opts).restore(faces[:1], seeds=[4]))
    # a colorization Visual Encoder switches it off, as in the official script
    import shutil

    colorization = ilcm_tiny["lcm"].parent / "visual_encoder_colorization_1step.safetensors"
    shutil.copyfile(ilcm_tiny["visual_encoder"], colorization)
    out = InterLCM(**{**opts, "visual_encoder": str(colorization)}).restore(gray_in, seeds=[4])[0]
    assert np.array_equal(out, raw)
