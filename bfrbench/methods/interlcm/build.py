"""Assembling :class:`~bfrbench.methods.interlcm.pipeline.InterLCMNetworks` from resolved files.

Sources as in :mod:`bfrbench.methods.interlcm.loading`. Every file is read safely (safetensors, or
``torch.load(weights_only=True)``; OpenAI's CLIP archive with ``torch.jit.load``) and loaded strictly.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from bfrbench.errors import ConfigError

__all__ = ["build_networks", "read_arch"]


def read_arch(arch: str | Path | None) -> tuple[Any, Any]:
    """(VisualEncoderConfig, CLIPVisionConfig) from an arch JSON (None: the full-size ones)."""
    from bfrbench.methods.interlcm.clip_vit import VIT_B_16, CLIPVisionConfig
    from bfrbench.methods.interlcm.loading import read_json
    from bfrbench.methods.interlcm.visual_encoder import (
        FULL_VISUAL_ENCODER,
        VisualEncoderConfig,
    )

    if arch is None:
        return FULL_VISUAL_ENCODER, VIT_B_16
    data = read_json(arch)
    unknown = set(data) - {"visual_encoder", "clip_vit"}
    if unknown:
        raise ConfigError(f"{arch}: unknown keys {sorted(unknown)}; accepted: visual_encoder, clip_vit")
    try:
        ve = VisualEncoderConfig(**{**data.get("visual_encoder", {}),
                                    "ch_mult": tuple(data.get("visual_encoder", {}).get("ch_mult", (2, 4, 8)))})
        cl = CLIPVisionConfig(**data.get("clip_vit", {}))
    except TypeError as exc:
        raise ConfigError(f"{arch}: bad architecture arguments: {exc}") from exc
    return ve, cl


def build_networks(files: Mapping[str, Path], *, steps: int, arch: str | Path | None = None,
                   device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                   allow_pickle: bool = False) -> Any:
    """Load every network (float32, strict), then move/cast to ``device``/``dtype``.

    Args:
        files: registry name -> local file, as :meth:`InterLCM.resolve_files` returns (entries for the encoders of
            ``steps``, CLIP, the SD-1.5 UNet config and the ``lcm-dreamshaper-v7-*`` files).
        steps: inference steps (4 or 2).
        arch: optional JSON of tiny Visual Encoder / CLIP architectures.
        dtype: network dtype (fp16/bf16 on GPU).
    """
    from bfrbench.methods.interlcm import loading as L
    from bfrbench.methods.interlcm.pipeline import InterLCMNetworks
    from bfrbench.methods.interlcm.restorer import (
        CLIP_WEIGHTS,
        ENCODER_WEIGHTS,
        SD15_UNET_CONFIG,
    )
    from bfrbench.methods.interlcm.sampler import lcm_schedule
    from bfrbench.weights import load_checkpoint

    ve_cfg, clip_cfg = read_arch(arch)
    ve_name, se_name = ENCODER_WEIGHTS[steps]
    ve = L.build_visual_encoder(L.read_params_ema(files[ve_name], allow_pickle=allow_pickle), str(files[ve_name]), ve_cfg)
    se = L.build_controlnet(L.read_params_ema(files[se_name], allow_pickle=allow_pickle), str(files[se_name]),
                            L.read_json(files[SD15_UNET_CONFIG]))
    clip = L.build_clip(L.read_clip_state_dict(files[CLIP_WEIGHTS], allow_pickle=allow_pickle),
                        str(files[CLIP_WEIGHTS]), clip_cfg)
    unet_path, vae_path = files["lcm-dreamshaper-v7-unet"], files["lcm-dreamshaper-v7-vae"]
    unet = L.build_unet(load_checkpoint(unet_path), str(unet_path), L.read_json(files["lcm-dreamshaper-v7-unet-config"]))
    vae = L.build_vae(load_checkpoint(vae_path), str(vae_path), L.read_json(files["lcm-dreamshaper-v7-vae-config"]))
    schedule = lcm_schedule(steps, L.read_json(files["lcm-dreamshaper-v7-scheduler-config"]))
    vae_dtype = torch.float32 if (dtype == torch.float16 and vae.config.get("force_upcast", True)) else dtype
    for m in (ve, se, clip, unet):
        m.to(device=device, dtype=dtype)
    vae.to(device=device, dtype=vae_dtype)
    return InterLCMNetworks(clip=clip, visual_encoder=ve, unet=unet, controlnet=se, vae=vae, schedule=schedule,
                            net_dtype=dtype, vae_dtype=vae_dtype)
