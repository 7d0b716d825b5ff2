"""InterLCM's sampling loop on current diffusers building blocks (no monkey-patching).

Source: InterLCM (Li et al., ICLR 2025; github.com/sen-mao/InterLCM commit
2940f43402d7e49cd8ef522c37dfbbb5f4522b15): ``inference_InterLCM.py`` and the patched pipeline ``forward`` and
scheduler ``step`` in ``basicsr/utils/lcm_utils.py``, restated in ../shared/fixtures/interlcm/README.md
section 3. Written here from that description; the networks are diffusers' ``UNet2DConditionModel``,
``ControlNetModel`` and ``AutoencoderKL``, the timesteps and ``alphas_cumprod`` come from diffusers'
``LCMScheduler``; the LCM step itself is restated below (the official step takes the LQ latent as the x0
prediction at the first timestep, which ``LCMScheduler.step`` has no way to express).

With ``z`` the latent, ``abar`` the cumulative alphas and ``t_0 > t_1 > ... > t_{N-1}``:

* ``x0_0 = lq_latent`` (no network call at ``t_0``);
* for i >= 1: ``eps = UNet(z_i, t_i, w_emb, prompt, ControlNet(z_i, t_i, prompt, x))``,
  ``x0 = (z_i - sqrt(1 - abar_t) eps) / sqrt(abar_t)``, ``denoised_i = c_out x0 + c_skip z_i`` with
  ``s = 10 t``, ``c_skip = 0.25 / (s^2 + 0.25)``, ``c_out = s / sqrt(s^2 + 0.25)``;
* for i < N-1: ``z_{i+1} = sqrt(abar_{t_{i+1}}) denoised_i + sqrt(1 - abar_{t_{i+1}}) noise_i``.

Randomness is injected by the caller as ``noise(i) -> (B, 4, h, w)`` so each image can have its own generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "GUIDANCE_SCALE",
    "LATENT_SCALE",
    "LCMSchedule",
    "NoiseFn",
    "guidance_embedding",
    "lcm_schedule",
    "sample_latents",
]

#: ``guidance_scale=8.0`` hard-coded in inference_InterLCM.py; the embedding uses ``w = guidance_scale - 1``
GUIDANCE_SCALE = 8.0
#: SD's VAE scaling factor, hard-coded as 0.18215 in inference_InterLCM.py
LATENT_SCALE = 0.18215
SIGMA_DATA = 0.5

NoiseFn = Callable[[int], torch.Tensor]


@dataclass(frozen=True)
class LCMSchedule:
    """Timesteps and float32 cumulative alphas for one run.

    Attributes:
        timesteps: descending, e.g. [999, 759, 499, 259] for 4 steps.
        alphas_cumprod: (num_train_timesteps,) float32 tensor.
        timestep_scaling: LCM boundary-condition scaling (10).
    """

    timesteps: tuple[int, ...]
    alphas_cumprod: torch.Tensor
    timestep_scaling: float = 10.0

    def boundary(self, t: int) -> tuple[float, float]:
        """``(c_skip, c_out)`` at timestep ``t`` (float32-rounded like diffusers)."""
        s = float(t) * self.timestep_scaling
        c_skip = SIGMA_DATA ** 2 / (s ** 2 + SIGMA_DATA ** 2)
        c_out = s / math.sqrt(s ** 2 + SIGMA_DATA ** 2)
        return float(torch.tensor(c_skip, dtype=torch.float32)), float(torch.tensor(c_out, dtype=torch.float32))


def lcm_schedule(steps: int, scheduler_config: dict[str, Any] | None = None) -> LCMSchedule:
    """Timesteps and ``alphas_cumprod`` from diffusers' ``LCMScheduler`` (``set_timesteps(steps)``).

    Args:
        steps: inference steps N (4 for the 3-step weights, 2 for the 1-step weights).
        scheduler_config: the pipeline's ``scheduler_config.json`` (None: the SD/LCM defaults the fixtures use:
            scaled_linear 0.00085..0.012, 1000 steps, ``original_inference_steps`` 50, ``timestep_scaling`` 10).
    """
    from diffusers import LCMScheduler

    cfg = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
           "original_inference_steps": 50, "prediction_type": "epsilon", "timestep_scaling": 10.0,
           "clip_sample": False, "thresholding": False}
    if scheduler_config is not None:
        cfg = {k: v for k, v in scheduler_config.items() if not k.startswith("_")}
    sched = LCMScheduler.from_config(cfg)
    if sched.config.prediction_type != "epsilon":
        raise ValueError(f"InterLCM needs an epsilon-prediction scheduler, got {sched.config.prediction_type!r}")
    sched.set_timesteps(steps, device="cpu")
    return LCMSchedule(tuple(int(t) for t in sched.timesteps), sched.alphas_cumprod.to(torch.float32).clone(),
                       float(sched.config.timestep_scaling))


def guidance_embedding(w: float, dim: int = 256) -> torch.Tensor:
    """LCM guidance-scale embedding: ``[sin(1000 w f_k), cos(1000 w f_k)]``, ``f_k = exp(-k ln(1e4) / (dim/2 - 1))``.

    Returns: (1, dim) float32, sin half first.
    """
    half = dim // 2
    step = torch.log(torch.tensor(10000.0, dtype=torch.float32)) / (half - 1)  # float32, like diffusers
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * -step)
    arg = torch.tensor([w * 1000.0], dtype=torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


def _trace(trace: dict[str, torch.Tensor] | None, key: str, value: torch.Tensor) -> None:
    if trace is not None:
        trace[key] = value.detach().float().cpu()


def sample_latents(
    *,
    unet: Any,
    controlnet: Any,
    schedule: LCMSchedule,
    lq_latent: torch.Tensor,
    lq_image: torch.Tensor,
    prompt_embeds: torch.Tensor,
    noise: NoiseFn,
    guidance_scale: float = GUIDANCE_SCALE,
    trace: dict[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Run the InterLCM loop; returns the final denoised latent (B, 4, h, w) float32.

    Args:
        unet: LCM ``UNet2DConditionModel`` (with ``time_cond_proj_dim``).
        controlnet: Spatial Encoder (``ControlNetModel``).
        schedule: from :func:`lcm_schedule`.
        lq_latent: (B, 4, h, w) float32, ``0.18215 * VAE.encode(x).latent_dist.mean``.
        lq_image: (B, 3, 8h, 8w) in [-1, 1], the ControlNet condition (network dtype).
        prompt_embeds: (B, 77, 768) Visual Encoder output (network dtype).
        noise: ``noise(i)`` gives the (B, 4, h, w) float32 noise injected after step i (i < N-1).
        guidance_scale: the embedding uses ``w = guidance_scale - 1``.
        trace: when given, intermediate tensors are stored in it (fixture names: ``step{i}.denoised`` ...).
    """
    dev, net_dtype = lq_image.device, prompt_embeds.dtype
    abar = schedule.alphas_cumprod
    ts = schedule.timesteps
    b = lq_latent.shape[0]
    w_emb = None
    if unet.config.time_cond_proj_dim is not None:
        w_emb = guidance_embedding(guidance_scale - 1.0, unet.config.time_cond_proj_dim).to(dev, net_dtype).expand(b, -1)
    z = lq_latent.float()
    denoised = z
    for i, t in enumerate(ts):
        _trace(trace, f"step{i}.sample_in", z)
        if i == 0:
            denoised = lq_latent.float()  # the LQ latent is the x0 prediction at t_0; no network call
        else:
            t_dev = torch.tensor(t, dtype=torch.long, device=dev)
            z_net = z.to(net_dtype)
            down, mid = controlnet(z_net, t_dev, encoder_hidden_states=prompt_embeds, controlnet_cond=lq_image,
                                   conditioning_scale=1.0, return_dict=False)
            eps = unet(z_net, t_dev, timestep_cond=w_emb, encoder_hidden_states=prompt_embeds,
                       down_block_additional_residuals=down, mid_block_additional_residual=mid,
                       return_dict=False)[0].float()
            _trace(trace, f"unet_call{i - 1}.model_pred", eps)
            for k, r in enumerate(down):
                _trace(trace, f"unet_call{i - 1}.controlnet_down.{k}", r)
            _trace(trace, f"unet_call{i - 1}.controlnet_mid", mid)
            a_t = abar[t].to(dev)
            x0 = (z - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            c_skip, c_out = schedule.boundary(t)
            denoised = c_out * x0 + c_skip * z
        _trace(trace, f"step{i}.denoised", denoised)
        if i < len(ts) - 1:
            a_prev = abar[ts[i + 1]].to(dev)
            eps_i = noise(i).to(dev, torch.float32)
            _trace(trace, f"step{i}.noise", eps_i)
            z = a_prev.sqrt() * denoised + (1 - a_prev).sqrt() * eps_i
            _trace(trace, f"step{i}.prev_sample", z)
    return denoised
