"""Fixtures for the InterLCM tests: the official tiny modules from ../shared/fixtures/interlcm."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def ilcm_dir(shared_fixtures: Path) -> Path:
    d = shared_fixtures / "interlcm"
    if not (d / "pipeline_4step.safetensors").is_file():
        pytest.skip(f"InterLCM fixtures not found in {d}")
    return d


@pytest.fixture(scope="session")
def ilcm_cfg(ilcm_dir: Path) -> dict[str, Any]:
    return json.loads((ilcm_dir / "tiny_configs.json").read_text())


def make_tiny_weights(src: Path, cfg: dict[str, Any], dest: Path) -> dict[str, Path]:
    """Lay the tiny fixture modules out the way real weights are: an LCM pipeline folder (unet/, vae/, scheduler/),
    an SD-1.5-style UNet config, the two InterLCM encoders, a CLIP state dict and an architecture JSON."""
    lcm = dest / "lcm"
    for sub, cfg_key, st in (("unet", "unet_lcm", "tiny_unet_lcm"), ("vae", "vae", "tiny_vae")):
        (lcm / sub).mkdir(parents=True, exist_ok=True)
        (lcm / sub / "config.json").write_text(json.dumps(cfg[cfg_key]["config"]))
        shutil.copyfile(src / f"{st}.safetensors", lcm / sub / "diffusion_pytorch_model.safetensors")
    (lcm / "scheduler").mkdir(exist_ok=True)
    (lcm / "scheduler" / "scheduler_config.json").write_text(json.dumps(cfg["lcm_scheduler"]["kwargs"]))
    (dest / "sd_unet_config.json").write_text(json.dumps(cfg["sd_unet_for_controlnet"]["config"]))
    ve = cfg["visual_encoder"]["kwargs"]
    arch = {"visual_encoder": {k: ve[k] for k in ("nf", "emb_dim", "ch_mult", "res_blocks", "out_channels")},
            "clip_vit": cfg["clip_vit"]["kwargs"]}
    (dest / "arch.json").write_text(json.dumps(arch))
    return {"lcm": lcm, "sd_unet_config": dest / "sd_unet_config.json", "arch": dest / "arch.json",
            "visual_encoder": src / "tiny_visual_encoder.safetensors",
            "spatial_encoder": src / "tiny_controlnet.safetensors", "clip": src / "tiny_clip_vit.safetensors"}


@pytest.fixture(scope="session")
def ilcm_tiny(ilcm_dir: Path, ilcm_cfg: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_tiny_weights(ilcm_dir, ilcm_cfg, tmp_path_factory.mktemp("interlcm_tiny"))
