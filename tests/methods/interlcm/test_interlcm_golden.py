"""InterLCM against the official pipeline's tiny fixture runs (../shared/fixtures/interlcm, made with the official
code at sen-mao/InterLCM 2940f43): every saved intermediate, replaying the saved noise.

Tolerances from the fixture README section 5: atol 1e-4 on latents, residuals and images (4x on ``denoised`` at
t=759, amplified by 1/sqrt(abar)), +-1 on the uint8 image.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from bfrbench.methods.interlcm.build import build_networks
from bfrbench.methods.interlcm.colorfix import (
    adain_color_fix,
    wavelet_color_fix,
    wavelet_decompose,
)
from bfrbench.methods.interlcm.pipeline import run_pipeline, to_model_input, to_uint8
from bfrbench.methods.interlcm.restorer import ENCODER_WEIGHTS, LCM_FILES
from bfrbench.methods.interlcm.sampler import guidance_embedding, lcm_schedule

ATOL = 1e-4


def _files(tiny: dict[str, Path], steps: int) -> dict[str, Path]:
    ve, se = ENCODER_WEIGHTS[steps]
    files = {ve: tiny["visual_encoder"], se: tiny["spatial_encoder"], "interlcm-clip-vit-b16": tiny["clip"],
             "sd15-unet-config": tiny["sd_unet_config"]}
    files.update({entry: tiny["lcm"] / rel for rel, entry in LCM_FILES.items()})
    return files


@pytest.mark.parametrize("steps,name", [(4, "4step"), (2, "2step")])
def test_interlcm_pipeline_replays_official_run(ilcm_dir: Path, ilcm_tiny: dict[str, Path], steps: int,
                                                name: str) -> None:
    ref = load_file(str(ilcm_dir / f"pipeline_{name}.safetensors"))
    meta: dict[str, Any] = json.loads((ilcm_dir / "pipeline_meta.json").read_text())["runs"][name]
    nets = build_networks(_files(ilcm_tiny, steps), steps=steps, arch=ilcm_tiny["arch"])
    assert list(nets.schedule.timesteps) == ref["timesteps"].tolist() == meta["timesteps"]
    x = to_model_input(ref["lq_image_uint8_rgb"][None].numpy())
    assert torch.equal(x, ref["lq_image"])
    trace: dict[str, torch.Tensor] = {}
    out = run_pipeline(nets, x, lambda i: ref[f"step{i}.noise"], clip_tokens=ref["clip_tokens"], trace=trace)
    compared = 0
    for key, value in trace.items():
        if key not in ref:
            continue
        tol = 4 * ATOL if key.endswith(".denoised") else ATOL
        err = float((value - ref[key]).abs().max())
        assert err <= tol, f"{name} {key}: max abs error {err:.3g} > {tol}"
        compared += 1
    # every saved step output and every network call's residuals and prediction were compared
    n_calls = steps - 1
    assert compared >= 3 + 2 * steps + (steps - 1) * 2 + n_calls * 8
    assert float((out - ref["colorfix_wavelet"]).abs().max()) <= ATOL
    # uint8 (official stores BGR): within one level; the official arithmetic on the official float image is exact
    ours = to_uint8(out)[0][..., ::-1].astype(int)
    assert np.abs(ours - ref["restored_uint8_bgr"].numpy().astype(int)).max() <= 1
    assert np.array_equal(to_uint8(ref["colorfix_wavelet"])[0][..., ::-1], ref["restored_uint8_bgr"].numpy())


def test_interlcm_schedule_and_guidance_match_fixture(ilcm_dir: Path) -> None:
    meta = json.loads((ilcm_dir / "pipeline_meta.json").read_text())
    ref = load_file(str(ilcm_dir / "pipeline_4step.safetensors"))
    sch = lcm_schedule(4)
    assert torch.equal(sch.alphas_cumprod, torch.tensor(meta["alphas_cumprod_float32"], dtype=torch.float32))
    assert lcm_schedule(2).timesteps == (999, 499)
    for step in meta["runs"]["4step"]["steps"]:
        c_skip, c_out = sch.boundary(step["t"])
        assert c_out == step["c_out"] and c_skip == pytest.approx(step["c_skip"], rel=1e-6)
    # the sin arguments reach 7000 rad, where one ulp of a frequency moves sin by ~5e-4
    assert float((guidance_embedding(7.0) - ref["w_embedding"]).abs().max()) < 1e-3


def test_interlcm_colour_fixes_match_fixture(ilcm_dir: Path) -> None:
    ref = load_file(str(ilcm_dir / "pipeline_2step.safetensors"))
    assert float((wavelet_color_fix(ref["decoded"], ref["lq_image"]) - ref["colorfix_wavelet"]).abs().max()) <= 1e-6
    assert float((adain_color_fix(ref["decoded"], ref["lq_image"]) - ref["colorfix_adain"]).abs().max()) <= 1e-6
    high, low = wavelet_decompose(ref["decoded"])
    assert torch.allclose(high + low, ref["decoded"], atol=1e-5)
