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
            "clip_vit": TINY_CLIP_768}
    (dest / "arch.json").write_text(json.dumps(arch))
    clip = dest / "ViT-tiny-768.pt"
    save_tiny_clip_archive(clip)
    return {"lcm": lcm, "sd_unet_config": dest / "sd_unet_config.json", "arch": dest / "arch.json",
            "visual_encoder": src / "tiny_visual_encoder.safetensors",
            "spatial_encoder": src / "tiny_controlnet.safetensors", "clip": clip}


#: the Visual Encoder needs 768-wide tokens (its length map is fixed), so the end-to-end tiny CLIP keeps ViT-B's
#: width and patching with one layer; the fixture's width-64 ViT is checked on its own (test_interlcm_modules.py)
TINY_CLIP_768 = {"input_resolution": 224, "patch_size": 16, "width": 768, "layers": 1, "heads": 12, "output_dim": 32}


def save_tiny_clip_archive(path: Path, seed: int = 5) -> None:
    """Seeded random tiny CLIP tower saved like OpenAI's ``ViT-B-16.pt``: a TorchScript archive whose state dict
    keys carry the ``visual.`` prefix (so the ``torch.jit.load`` branch of the loader is exercised)."""
    import torch

    from bfrbench.methods.interlcm.clip_vit import CLIPVisionConfig, CLIPVisionTokens

    class _Holder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.visual = CLIPVisionTokens(CLIPVisionConfig(**TINY_CLIP_768))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.visual(x)

    g = torch.Generator().manual_seed(seed)
    holder = _Holder()
    with torch.no_grad():
        for name, p in holder.named_parameters():
            if p.ndim == 1 and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif p.ndim == 1:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5)
    import warnings

    with warnings.catch_warnings():  # torch.jit is marked deprecated; OpenAI's archive format is TorchScript
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(holder.eval(), torch.zeros(1, 3, 224, 224))
        torch.jit.save(traced, str(path))


@pytest.fixture(scope="session")
def ilcm_tiny(ilcm_dir: Path, ilcm_cfg: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_tiny_weights(ilcm_dir, ilcm_cfg, tmp_path_factory.mktemp("interlcm_tiny"))
