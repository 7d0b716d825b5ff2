"""Building InterLCM's networks from configs and loading checkpoints strictly.

Source of the layouts: InterLCM (github.com/sen-mao/InterLCM commit 2940f43402d7e49cd8ef522c37dfbbb5f4522b15),
``inference_InterLCM.py``: ``torch.load(path)['params_ema']`` then ``load_state_dict`` (strict) for the Visual
Encoder and the Spatial Encoder (``ControlNetModel.from_unet(SD-1.5 UNet)``); ``clip.load('ViT-B/16')``;
``DiffusionPipeline.from_pretrained(LCM_Dreamshaper_v7)``. See ../shared/fixtures/interlcm/README.md section 1.

Every network is constructed on the ``meta`` device (no memory, no random init) and receives its tensors with
``load_state_dict(strict=True, assign=True)`` after every key and shape was compared with the checkpoint, so a
wrong file gives a :class:`~bfrbench.errors.WeightsError` naming the file and the first differences.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bfrbench.errors import WeightsError
from bfrbench.methods._checkpoint import check_layout

__all__ = [
    "build_clip",
    "build_controlnet",
    "build_unet",
    "build_vae",
    "build_visual_encoder",
    "check_layout",
    "controlnet_config",
    "read_clip_state_dict",
    "read_json",
    "read_params_ema",
    "strict_load",
]


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON object from ``path`` (WeightsError when unreadable or not an object)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{path}: cannot read JSON config: {exc}") from exc
    if not isinstance(data, dict):
        raise WeightsError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def strict_load(module: nn.Module, sd: Mapping[str, torch.Tensor], path: str, what: str) -> nn.Module:
    """Check keys/shapes, then ``load_state_dict(strict=True, assign=True)`` as float32; returns ``module`` (eval)."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    check_layout(path, sd, expected, what)
    module.load_state_dict({k: sd[k].to(torch.float32) for k in expected}, strict=True, assign=True)
    left = [n for n, t in list(module.named_parameters()) + list(module.named_buffers()) if t.is_meta and n not in expected]
    if left:
        raise WeightsError(f"{path}: {what}: tensors left uninitialised after loading: {', '.join(left[:5])}")
    return module.eval()


def _load_any(path: str | os.PathLike[str], allow_pickle: bool) -> Any:
    from bfrbench.weights import load_checkpoint

    return load_checkpoint(path, allow_pickle=allow_pickle)


def _is_torchscript(p: Path) -> bool:
    """True for a TorchScript zip archive (it holds ``<root>/constants.pkl`` and ``<root>/code/``)."""
    import zipfile

    if not zipfile.is_zipfile(p):
        return False
    with zipfile.ZipFile(p) as z:
        return any(n.endswith("/constants.pkl") for n in z.namelist())


def read_params_ema(path: str | os.PathLike[str], *, allow_pickle: bool = False) -> dict[str, torch.Tensor]:
    """The ``params_ema`` state dict of an InterLCM ``.pth`` (or a flat safetensors/dict with the same keys)."""
    obj = _load_any(path, allow_pickle)
    if isinstance(obj, dict) and "params_ema" in obj:
        obj = obj["params_ema"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        keys = list(obj)[:5] if isinstance(obj, dict) else type(obj).__name__
        raise WeightsError(f"{path}: expected a dict with 'params_ema' (an InterLCM checkpoint) or a flat state dict "
                           f"of tensors; got {keys}")
    return dict(obj)


def read_clip_state_dict(path: str | os.PathLike[str], *, allow_pickle: bool = False) -> dict[str, torch.Tensor]:
    """The visual tower of an OpenAI CLIP checkpoint, without the ``visual.`` prefix.

    Accepts OpenAI's TorchScript archive (``ViT-B-16.pt``, read with ``torch.jit.load``, which restores tensors
    without unpickling arbitrary Python objects), a plain state dict (``.pt`` read with ``weights_only=True``) or
    safetensors, with or without the ``visual.`` prefix.
    """
    p = Path(path)
    sd: Any
    if _is_torchscript(p):
        try:
            import warnings

            with warnings.catch_warnings():  # torch >= 2.9 marks torch.jit deprecated; the archive format is OpenAI's
                warnings.simplefilter("ignore", FutureWarning)
                sd = dict(torch.jit.load(str(p), map_location="cpu").state_dict())
        except Exception as exc:
            raise WeightsError(f"{p}: cannot read OpenAI's TorchScript CLIP archive: {exc}") from exc
    else:
        sd = _load_any(p, allow_pickle)
    if not isinstance(sd, dict):
        raise WeightsError(f"{p}: expected a CLIP state dict, got {type(sd).__name__}")
    if any(k.startswith("visual.") for k in sd):
        sd = {k[len("visual."):]: v for k, v in sd.items() if k.startswith("visual.")}
    return dict(sd)


# -- builders ------------------------------------------------------------------------------------------------
def build_visual_encoder(sd: Mapping[str, torch.Tensor], path: str, cfg: Any = None) -> nn.Module:
    """Visual Encoder with ``sd`` loaded strictly (cfg: :class:`VisualEncoderConfig`, default full size)."""
    from bfrbench.methods.interlcm.visual_encoder import (
        FULL_VISUAL_ENCODER,
        VisualEncoder,
    )

    with torch.device("meta"):
        m = VisualEncoder(cfg or FULL_VISUAL_ENCODER)
    return strict_load(m, sd, path, "InterLCM Visual Encoder")


def build_clip(sd: Mapping[str, torch.Tensor], path: str, cfg: Any = None) -> nn.Module:
    """CLIP visual tower with ``sd`` (no ``visual.`` prefix) loaded strictly (cfg default ViT-B/16)."""
    from bfrbench.methods.interlcm.clip_vit import VIT_B_16, CLIPVisionTokens

    with torch.device("meta"):
        m = CLIPVisionTokens(cfg or VIT_B_16)
    return strict_load(m, sd, path, "CLIP ViT visual tower")


def controlnet_config(sd_unet_config: Mapping[str, Any]) -> dict[str, Any]:
    """The resolved config of ``ControlNetModel.from_unet(UNet2DConditionModel.from_config(sd_unet_config))``."""
    cn: Any = _controlnet_on_meta(sd_unet_config)
    return dict(cn.config)


def _controlnet_on_meta(sd_unet_config: Mapping[str, Any]) -> nn.Module:
    from diffusers import ControlNetModel, UNet2DConditionModel

    cfg = {k: v for k, v in sd_unet_config.items() if not k.startswith("_")}
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(cfg)
        return ControlNetModel.from_unet(unet, load_weights_from_unet=False)


def build_controlnet(sd: Mapping[str, torch.Tensor], path: str, sd_unet_config: Mapping[str, Any]) -> Any:
    """Spatial Encoder: ``ControlNetModel.from_unet`` of the SD-1.5 UNet config (from_unet defaults), loaded strictly."""
    return strict_load(_controlnet_on_meta(sd_unet_config), sd, path, "InterLCM Spatial Encoder (ControlNet)")


def build_unet(sd: Mapping[str, torch.Tensor], path: str, config: Mapping[str, Any]) -> Any:
    """LCM ``UNet2DConditionModel`` from its diffusers config, loaded strictly."""
    from diffusers import UNet2DConditionModel

    with torch.device("meta"):
        m = UNet2DConditionModel.from_config({k: v for k, v in config.items() if not k.startswith("_")})
    if m.config.time_cond_proj_dim is None:
        raise WeightsError(f"{path}: the LCM UNet config has no time_cond_proj_dim (not an LCM-distilled UNet)")
    return strict_load(m, sd, path, "LCM UNet")


def build_vae(sd: Mapping[str, torch.Tensor], path: str, config: Mapping[str, Any]) -> Any:
    """``AutoencoderKL`` from its diffusers config, loaded strictly."""
    from diffusers import AutoencoderKL

    with torch.device("meta"):
        m = AutoencoderKL.from_config({k: v for k, v in config.items() if not k.startswith("_")})
    return strict_load(m, sd, path, "VAE (AutoencoderKL)")
