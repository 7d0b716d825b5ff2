"""DDIM sampling with classifier-free guidance, as ReF-LDM's official sampler does it.

Matches ``ldm/models/diffusion/ddim.py`` (``DDIMSampler``, ``make_ddim_timesteps``,
``make_ddim_sampling_parameters``) of https://github.com/ChiWeiHsiao/ref-ldm at commit
af6690c19fdc6421802fd7996510bcfef259bfd1, as described in ../shared/fixtures/refldm/README.md section 4.
Written from the formulas, not copied.

* Training schedule: ``betas = linspace(sqrt(0.0015), sqrt(0.0155), 1000)^2`` (float64),
  ``alphas_cumprod = cumprod(1 - betas)`` rounded to float32 (the official buffer).
* Timesteps with ``c = 1000 // S``: ``uniform`` = ``range(0, 1000, c) + 1``; ``uniform_trailing`` =
  ``arange(1000, 0, -c)[::-1] - 1``. (When 1000 % S != 0 these hold more than S values; the official code
  then runs that many steps, and so does this one.)
* ``a_t = alphas_cumprod[t_i]``, ``a_prev = alphas_cumprod[t_{i-1}]`` and ``alphas_cumprod[0]`` (not 1) for the
  last step; ``sigma_t = eta * sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))`` in float64, then float32.
* One step: ``pred_x0 = (x - sqrt(1 - a_t) e) / sqrt(a_t)``;
  ``x_prev = sqrt(a_prev) pred_x0 + sqrt(1 - a_prev - sigma_t^2) e + sigma_t n``, with ``n ~ N(0, I)`` drawn at
  every step even when ``eta = 0`` (so the random stream is the official one).
* CFG: ``e = e_u + s (e_c - e_u)``; with ``s == 1`` the unconditional branch is not evaluated.

Random draws: each image has its own ``torch.Generator`` (CPU); ``x_T`` is its first ``randn`` of shape
(1, C, h, w), then one ``randn`` of the same shape per step. With seed 2024 this is exactly the official CPU
stream (``torch.manual_seed(2024); randn(x_T); randn per step``), whatever the batch composition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from bfrbench.errors import ConfigError

__all__ = [
    "SCHEDULES",
    "DDIMCoefficients",
    "DDIMTrace",
    "Schedule",
    "alphas_cumprod",
    "ddim_coefficients",
    "ddim_sample",
    "ddim_timesteps",
    "initial_noise",
]

Schedule = Literal["uniform", "uniform_trailing"]
SCHEDULES: tuple[str, ...] = ("uniform", "uniform_trailing")


def alphas_cumprod(
    linear_start: float = 0.0015, linear_end: float = 0.0155, num_timesteps: int = 1000
) -> np.ndarray:
    """The official float32 ``alphas_cumprod`` buffer: (num_timesteps,) float32, decreasing from ~0.9985."""
    betas = np.linspace(linear_start**0.5, linear_end**0.5, num_timesteps, dtype=np.float64) ** 2
    return np.cumprod(1.0 - betas).astype(np.float32)


def ddim_timesteps(steps: int, schedule: str, num_timesteps: int = 1000) -> np.ndarray:
    """DDIM timesteps in ascending order, (S',) int64 (S' = S when num_timesteps % S == 0).

    Raises:
        ConfigError: unknown schedule or steps outside [1, num_timesteps].
    """
    if schedule not in SCHEDULES:
        raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if not 1 <= steps <= num_timesteps:
        raise ConfigError(f"steps must be between 1 and {num_timesteps}, got {steps}")
    c = num_timesteps // steps
    if schedule == "uniform":
        ts = np.arange(0, num_timesteps, c) + 1
    else:
        ts = np.arange(num_timesteps, 0, -c)[::-1] - 1
    return ts.astype(np.int64)


@dataclass(frozen=True)
class DDIMCoefficients:
    """Per-step float32 coefficients in loop order (descending t): each (S',)."""

    timesteps: np.ndarray  # int64, loop order
    a_t: np.ndarray
    a_prev: np.ndarray
    sigma: np.ndarray
    sqrt_one_minus_a_t: np.ndarray


def ddim_coefficients(steps: int, schedule: str, eta: float, acp: np.ndarray | None = None) -> DDIMCoefficients:
    """Coefficients exactly as the official ``make_ddim_sampling_parameters`` rounds them."""
    acp = alphas_cumprod() if acp is None else acp
    ts = ddim_timesteps(steps, schedule, len(acp))
    if ts.max() >= len(acp):
        raise ConfigError(f"steps={steps} with schedule {schedule!r} gives timestep {ts.max()} >= {len(acp)}")
    a = acp[ts]  # float32
    a_prev = np.asarray([float(acp[0])] + [float(v) for v in acp[ts[:-1]]], dtype=np.float64)
    sigma = eta * np.sqrt((1.0 - a_prev) / (1.0 - a) * (1.0 - a / a_prev))
    sqrt_1m = np.sqrt(1.0 - a)  # float32 arithmetic
    rev = slice(None, None, -1)
    return DDIMCoefficients(
        timesteps=ts[rev].copy(),
        a_t=a[rev].astype(np.float32),
        a_prev=a_prev[rev].astype(np.float32),
        sigma=sigma[rev].astype(np.float32),
        sqrt_one_minus_a_t=sqrt_1m[rev].astype(np.float32),
    )


def initial_noise(
    generators: Sequence[torch.Generator], shape: tuple[int, int, int]
) -> torch.Tensor:
    """x_T: one ``randn((1, *shape), generator=g)`` per image on CPU, stacked: (B, *shape) float32."""
    return torch.cat([torch.randn((1, *shape), generator=g, dtype=torch.float32) for g in generators], dim=0)


@dataclass
class DDIMTrace:
    """Intermediate tensors of a run (all float32, CPU), for checking against the official sampler."""

    x_inter: list[torch.Tensor] = field(default_factory=list)
    pred_x0: list[torch.Tensor] = field(default_factory=list)
    eps: list[torch.Tensor] = field(default_factory=list)
    eps_uncond: list[torch.Tensor] = field(default_factory=list)
    eps_cond: list[torch.Tensor] = field(default_factory=list)
    noise: list[torch.Tensor] = field(default_factory=list)


EpsFn = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]
NoiseFn = Callable[[int, tuple[int, ...]], torch.Tensor]


def ddim_sample(
    eps_fn: EpsFn,
    x_T: torch.Tensor,
    coeffs: DDIMCoefficients,
    *,
    generators: Sequence[torch.Generator] | None = None,
    noise_fn: NoiseFn | None = None,
    trace: DDIMTrace | None = None,
) -> torch.Tensor:
    """Run the DDIM loop.

    Args:
        eps_fn: ``eps_fn(x, t, i)`` -> guided noise prediction, (B, C, h, w) float32; x (B, C, h, w) float32 on
            the work device, t (B,) int64, i the step index (0 = first step, where a CacheKV cache is filled).
        x_T: (B, C, h, w) float32 initial latent, already on the work device.
        coeffs: from :func:`ddim_coefficients`.
        generators: one CPU generator per image for the per-step noise (continuing after x_T).
        noise_fn: alternative noise source ``noise_fn(i, shape)`` -> (B, C, h, w) raw N(0, 1) draws (to replay
            saved official noise). Exactly one of generators / noise_fn.
        trace: filled with x after each step, pred_x0, eps and the raw noise when given.

    Returns:
        (B, C, h, w) float32 final latent.
    """
    if (generators is None) == (noise_fn is None):
        raise ConfigError("ddim_sample needs exactly one of generators= or noise_fn=")
    x = x_T.float()
    b = x.shape[0]
    if trace is not None:
        trace.x_inter.append(x.detach().cpu().clone())
    for i, t in enumerate(coeffs.timesteps.tolist()):
        tt = torch.full((b,), int(t), dtype=torch.long, device=x.device)
        e = eps_fn(x, tt, i).float()
        a_t = torch.tensor(coeffs.a_t[i], device=x.device)
        a_prev = torch.tensor(coeffs.a_prev[i], device=x.device)
        sigma = torch.tensor(coeffs.sigma[i], device=x.device)
        s1m = torch.tensor(coeffs.sqrt_one_minus_a_t[i], device=x.device)
        pred_x0 = (x - s1m * e) / a_t.sqrt()
        dir_xt = (1.0 - a_prev - sigma**2).sqrt() * e
        if noise_fn is not None:
            raw = noise_fn(i, tuple(x.shape)).float()
        else:
            assert generators is not None
            raw = torch.cat([torch.randn((1, *x.shape[1:]), generator=g) for g in generators], dim=0)
        x = a_prev.sqrt() * pred_x0 + dir_xt + sigma * raw.to(x.device)
        if trace is not None:
            trace.x_inter.append(x.detach().cpu().clone())
            trace.pred_x0.append(pred_x0.detach().cpu().clone())
            trace.eps.append(e.detach().cpu().clone())
            trace.noise.append(raw.detach().cpu().clone())
    return x
