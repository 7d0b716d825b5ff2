"""Golden tests: the iDDPM UNet and the respaced diffusion against the official DT-BFR code's numbers.

Fixtures: ../shared/fixtures/dtbfr/{layout_iddpm.json, iddpm_tiny*, schedule_250.json} (official SamsungLabs/DT-BFR
at ec3d4043e4d0c610fe7e345448cc1298e132b5dd). Tolerances (README): forwards atol 1e-5 (relative 1e-5 on large
outputs); the float64 schedule must be bit-identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bfrbench.errors import ConfigError, WeightsError
from bfrbench.methods.dtbfr.diffusion import SpacedDiffusion, respaced_schedule, space_timesteps
from bfrbench.methods.dtbfr.iddpm import IDDPMConfig, IDDPMUNet, iddpm_config, timestep_embedding
from bfrbench.methods.dtbfr.loading import expected_layout, load_iddpm


def close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-5) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    err = float((a.double() - b.double()).abs().max())
    bound = atol + rtol * float(b.abs().max())
    assert err <= bound, f"max abs error {err:.3g} > {bound:.3g}"
    return err


@pytest.fixture(scope="module")
def io(dtbfr_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(dtbfr_dir / "iddpm_tiny_io.safetensors"))


def test_full_size_layout_matches_official(dtbfr_json: Any) -> None:
    layout = dtbfr_json("layout_iddpm.json")
    cfg = IDDPMConfig.from_dict(layout["source"]["constructor_kwargs"])
    assert cfg == iddpm_config("ffhq512")
    with torch.device("meta"):
        model = IDDPMUNet(cfg)
    got = expected_layout(model)
    want = {k: (tuple(v["shape"]), v["dtype"]) for k, v in layout["keys"].items()}
    assert len(got) == layout["n_keys"] == 630
    assert list(got) == list(want)
    assert {k: (s, str(d).removeprefix("torch.")) for k, (s, d) in got.items()} == want
    assert sum(p.numel() for p in model.parameters()) == 159_788_454
    # attention sits where the absolute resolutions 32/16/8 are (levels 4-6), heads = channels / 64
    attn = {n: m.heads for n, m in model.named_modules() if type(m).__name__ == "AttentionBlock"}
    assert attn["input_blocks.12.1"] == 256 // 64 and attn["middle_block.1"] == 512 // 64
    assert not any(n.startswith(("input_blocks.1.", "input_blocks.9.")) for n in attn)


def test_tiny_config_and_strict_load(dtbfr_json: Any, dtbfr_dir: Path, tmp_path: Path) -> None:
    assert IDDPMConfig.from_dict(dtbfr_json("iddpm_tiny.json")["constructor_kwargs"]) == iddpm_config("tiny")
    from safetensors.torch import load_file

    sd = load_file(str(dtbfr_dir / "iddpm_tiny_weights.safetensors"))
    p = tmp_path / "ema.pth"
    torch.save({"module." + k: v for k, v in sd.items()}, p)  # DDP-style EMA file: prefix stripped
    m = load_iddpm(p, iddpm_config("tiny"))
    assert torch.equal(m.state_dict()["out.2.weight"], sd["out.2.weight"])
    del sd["middle_block.1.qkv.weight"]
    torch.save(sd, p)
    with pytest.raises(WeightsError, match="1 missing keys.*middle_block.1.qkv.weight"):
        load_iddpm(p, iddpm_config("tiny"))
    with pytest.raises(ConfigError, match="num_res_blocks"):
        iddpm_config("tiny", num_res_blocks=(1, 2))


@torch.no_grad()
def test_tiny_raw_output(iddpm_tiny: Any, io: dict[str, torch.Tensor]) -> None:
    close(timestep_embedding(io["timesteps_original"], 32), io["timestep_embedding"], 1e-6, 0.0)
    out = iddpm_tiny(io["x"], io["timesteps_original"])
    close(out, io["model_out"])
    close(iddpm_tiny(io["x"][1:], io["timesteps_original"][1:]), io["model_out"][1:])


@torch.no_grad()
def test_p_mean_variance_at_official_steps(iddpm_tiny: Any, io: dict[str, torch.Tensor]) -> None:
    diff = SpacedDiffusion(respaced_schedule(250))
    assert diff.model_timesteps(io["timesteps_respaced"]).tolist() == io["timesteps_original"].tolist()
    for tag, t in (("pmv_", io["timesteps_respaced"]), ("pmv_small_t_", io["timesteps_respaced_small"])):
        r = diff.p_mean_variance(iddpm_tiny, io["x"], t)
        close(r.pred_xstart, io[tag + "pred_xstart"])
        close(r.mean, io[tag + "mean"])
        close(r.log_variance, io[tag + "log_variance"])
        if tag + "variance" in io:
            close(r.variance, io[tag + "variance"], 1e-7)


def test_schedule_250_bit_identical(dtbfr_json: Any) -> None:
    ref = dtbfr_json("schedule_250.json")["respaced"]
    s = respaced_schedule(250)
    assert s.num_timesteps == ref["num_timesteps"] == 250
    assert s.timestep_map.tolist() == ref["timestep_map"]
    assert s.timestep_map[[150, 149, 90, 89]].tolist() == [602, 598, 361, 357]
    for k, v in ref.items():
        if k not in ("num_timesteps", "timestep_map"):
            assert np.array_equal(getattr(s, k), np.array(v, dtype=np.float64)), k
    # round-half-to-even at 166.5 (K=25), as Python's round
    assert 166 in space_timesteps(1000, 25) and 167 not in space_timesteps(1000, 25)
    # each coefficient is cast to float32 after the float64 lookup
    d = SpacedDiffusion(s)
    c = d.coef("sqrt_alphas_cumprod", torch.tensor([150]), torch.zeros(1, 3, 2, 2))
    assert c.dtype == torch.float32 and c.item() == np.float32(s.sqrt_alphas_cumprod[150])


@pytest.mark.parametrize("which", ["swinir", "iddpm"])
def test_full_size_strict_load_on_meta(dtbfr_json: Any, which: str) -> None:
    """The official files' layouts (keys as listed, DDP 'module.' prefix) pass the strict loader at full size."""
    from bfrbench.methods.dtbfr.loading import load_into
    from bfrbench.methods.dtbfr.swinir import SwinIR, swinir_config

    layout = dtbfr_json(f"layout_{which}.json")
    with torch.device("meta"):
        model = SwinIR(swinir_config()) if which == "swinir" else IDDPMUNet(iddpm_config())
        sd = {"module." + k: torch.empty(v["shape"], dtype=getattr(torch, v["dtype"]))
              for k, v in layout["keys"].items()}
    load_into(model, sd, path=f"{which}.pth", what=which)
    first = next(iter(layout["keys"]))
    sd.pop("module." + first)
    with pytest.raises(WeightsError, match=f"{which}.pth: .*1 missing keys"):
        load_into(model, {k[7:]: v for k, v in sd.items()}, path=f"{which}.pth", what=which)
