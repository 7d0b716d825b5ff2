"""InterLCM's full restoration pipeline on a batch: CLIP tokens -> Visual Encoder -> LCM loop -> decode -> colour fix.

Source: InterLCM (Li et al., ICLR 2025; github.com/sen-mao/InterLCM commit
2940f43402d7e49cd8ef522c37dfbbb5f4522b15), ``inference_InterLCM.py``, restated in
../shared/fixtures/interlcm/README.md sections 2-3. Written here from that description.

Per image: RGB uint8 -> ``x = (u8 / 255 - 0.5) / 0.5`` (float32, [-1, 1]); ``prompt = VE(CLIP(preprocess(x)))``;
``lq_latent = 0.18215 * VAE.encode(x).latent_dist.mean``; the loop of :mod:`.sampler`; ``VAE.decode(z / 0.18215)``;
colour fix against ``x``; clamp to [-1, 1], ``round((v + 1) / 2 * 255)``.

Precision: the networks run in ``net_dtype`` (fp32, fp16 or bf16); the scheduler arithmetic, the colour fix and
the uint8 conversion stay float32. With fp16 the VAE stays float32 when its config asks (``force_upcast``), as
diffusers' pipelines do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bfrbench.methods.interlcm.clip_vit import clip_preprocess
from bfrbench.methods.interlcm.colorfix import color_fix
from bfrbench.methods.interlcm.sampler import (
    GUIDANCE_SCALE,
    LATENT_SCALE,
    LCMSchedule,
    NoiseFn,
    sample_latents,
)

__all__ = ["InterLCMNetworks", "encode_prompt", "run_pipeline", "seeded_noise", "to_model_input", "to_uint8"]


@dataclass
class InterLCMNetworks:
    """The five networks (already on their device and dtype) and the schedule.

    Attributes:
        clip: :class:`~.clip_vit.CLIPVisionTokens` or None (then prompt tokens must be given to :func:`run_pipeline`).
        visual_encoder, unet, controlnet, vae: torch modules.
        schedule: from :func:`~.sampler.lcm_schedule`.
        net_dtype: dtype of CLIP, Visual Encoder, UNet and ControlNet.
        vae_dtype: dtype of the VAE.
    """

    clip: Any
    visual_encoder: Any
    unet: Any
    controlnet: Any
    vae: Any
    schedule: LCMSchedule
    net_dtype: torch.dtype = torch.float32
    vae_dtype: torch.dtype = torch.float32

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device


def to_model_input(lq: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 RGB -> (B, 3, H, W) float32 in [-1, 1], like basicsr ``img2tensor(img / 255.)`` + normalise."""
    x = (torch.from_numpy(np.ascontiguousarray(lq)).permute(0, 3, 1, 2).double() / 255.0).float()
    return (x - 0.5) / 0.5


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) float in [-1, 1] -> (B, H, W, 3) uint8 RGB: clamp, ``round((v + 1) / 2 * 255)`` (basicsr)."""
    v = (img.detach().float().cpu().clamp(-1.0, 1.0) + 1.0) / 2.0
    return (v * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def seeded_noise(seeds: Sequence[int], shape: tuple[int, int, int]) -> NoiseFn:
    """Per-image noise: image k draws from ``torch.Generator('cpu').manual_seed(seeds[k])``, one (1, *shape) normal
    tensor per injected step in order, so an image's noise does not depend on the batch it is in."""
    gens = [torch.Generator("cpu").manual_seed(int(s)) for s in seeds]

    def draw(_step: int) -> torch.Tensor:
        return torch.cat([torch.randn((1, *shape), generator=g, dtype=torch.float32) for g in gens])

    return draw


def encode_prompt(nets: InterLCMNetworks, x: torch.Tensor, *, antialias: bool = False) -> torch.Tensor:
    """(B, 3, H, W) [-1, 1] -> (B, 77, 768) prompt embeddings (CLIP tokens cast to float32 before the VE, as official)."""
    tokens = nets.clip(clip_preprocess(x, antialias=antialias).to(nets.net_dtype)).float()
    return nets.visual_encoder(tokens.to(nets.net_dtype))


def run_pipeline(
    nets: InterLCMNetworks,
    x: torch.Tensor,
    noise: NoiseFn,
    *,
    color: str = "wavelet",
    clip_tokens: torch.Tensor | None = None,
    antialias: bool = False,
    guidance_scale: float = GUIDANCE_SCALE,
    trace: dict[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Restore a batch; returns the colour-fixed float32 image (B, 3, H, W), not clamped.

    Args:
        nets: the networks.
        x: (B, 3, H, W) float32 in [-1, 1] (H, W multiples of 8; 512 for the released weights).
        noise: ``noise(i)`` -> (B, 4, H/8, W/8) float32 noise after step i.
        color: ``wavelet`` | ``adain`` | ``none``.
        clip_tokens: (B, T, D) tokens to use instead of the CLIP branch (fixtures replay them).
        antialias: CLIP resize antialiasing (see :func:`~.clip_vit.clip_preprocess`).
        trace: optional dict receiving intermediates under the fixture names.
    """
    dev = nets.device
    x = x.to(dev, torch.float32)
    with torch.inference_mode():
        if clip_tokens is None:
            prompt = encode_prompt(nets, x, antialias=antialias)
        else:
            prompt = nets.visual_encoder(clip_tokens.to(dev, torch.float32).to(nets.net_dtype))
        if trace is not None:
            trace["prompt_embeds"] = prompt.float().cpu()
        mean = nets.vae.encode(x.to(nets.vae_dtype)).latent_dist.mean.float()
        lq_latent = mean * LATENT_SCALE
        if trace is not None:
            trace["latent_dist_mean"], trace["lq_latent"] = mean.cpu(), lq_latent.cpu()
        z = sample_latents(unet=nets.unet, controlnet=nets.controlnet, schedule=nets.schedule, lq_latent=lq_latent,
                           lq_image=x.to(nets.net_dtype), prompt_embeds=prompt.to(nets.net_dtype), noise=noise,
                           guidance_scale=guidance_scale, trace=trace)
        decoded = nets.vae.decode((z / LATENT_SCALE).to(nets.vae_dtype)).sample.float()
        if trace is not None:
            trace["decoded"] = decoded.cpu()
        return color_fix(color, decoded, x)
