"""DT-BFR's diffusion: 1000-step linear schedule, respacing, ``q_sample``, learned-range ``p_mean_variance``, p_sample.

Restated from ``models/gaussian_diffusion.py``, ``models/respace.py`` and ``models/script_util.py`` of
https://github.com/SamsungLabs/DT-BFR at commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd (improved-DDPM as vendored
by DifFace) and ../shared/fixtures/dtbfr/README.md section "Pseudo-target generation" step 2 (not copied):

* base betas ``linspace(1e-4, 0.02, 1000)`` (float64); respacing "K" (one section): ``stride = 999/(K-1)``,
  accumulated in float, kept steps ``round(cur)`` with Python's round-half-to-even (K=25: 166.5 -> 166);
* respaced ``beta'_i = 1 - abar[map[i]] / abar[map[i-1]]`` (``abar[map[-1]] := 1``); every derived array is
  recomputed from ``beta'`` in float64 exactly as the official ``GaussianDiffusion.__init__``;
* each looked-up coefficient is cast to **float32** before it multiplies a tensor (``_extract_into_tensor``);
* the UNet receives the *original* step ``map[t]`` (``rescale_timesteps=False``);
* learned range: ``frac = (v + 1)/2`` (not clamped), ``log var = frac log beta'_t + (1 - frac) L_t`` with
  ``L_t`` the clipped posterior log-variance; ``pred_x0`` from eps, clamped to [-1, 1];
* ``p_sample``: ``mean + [t != 0] exp(log var / 2) z`` (z is drawn even at t = 0).

Noise is never drawn here: callers pass it (from per-image generators, or replayed fixture tensors).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from bfrbench.errors import ConfigError

__all__ = [
    "PMeanVariance",
    "Schedule",
    "SpacedDiffusion",
    "linear_betas",
    "respaced_schedule",
    "space_timesteps",
]

ARRAYS = ("betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
          "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
          "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2", "log_betas")


def linear_betas(steps: int = 1000) -> np.ndarray:
    """Official linear schedule (float64): ``linspace(scale*1e-4, scale*0.02, steps)``, ``scale = 1000/steps``."""
    scale = 1000.0 / steps
    return np.linspace(scale * 0.0001, scale * 0.02, steps, dtype=np.float64)


def space_timesteps(num_timesteps: int, count: int) -> list[int]:
    """Sorted original steps kept by respacing ``str(count)`` (one section), with Python's round-half-even."""
    if not 1 <= count <= num_timesteps:
        raise ConfigError(f"cannot respace {num_timesteps} steps to {count}")
    stride = 1.0 if count <= 1 else (num_timesteps - 1) / (count - 1)
    cur, kept = 0.0, []
    for _ in range(count):
        kept.append(round(cur))  # builtin round: half to even, as the official code
        cur += stride
    return sorted(set(kept))


@dataclass(frozen=True)
class Schedule:
    """Every float64 array of a (respaced) diffusion plus ``timestep_map`` (respaced index -> original step)."""

    timestep_map: np.ndarray
    betas: np.ndarray
    alphas_cumprod: np.ndarray
    alphas_cumprod_prev: np.ndarray
    sqrt_alphas_cumprod: np.ndarray
    sqrt_one_minus_alphas_cumprod: np.ndarray
    sqrt_recip_alphas_cumprod: np.ndarray
    sqrt_recipm1_alphas_cumprod: np.ndarray
    posterior_variance: np.ndarray
    posterior_log_variance_clipped: np.ndarray
    posterior_mean_coef1: np.ndarray
    posterior_mean_coef2: np.ndarray
    log_betas: np.ndarray

    @property
    def num_timesteps(self) -> int:
        return int(self.betas.shape[0])

    @classmethod
    def from_betas(cls, betas: np.ndarray, timestep_map: np.ndarray | None = None) -> Schedule:
        """The official ``GaussianDiffusion.__init__`` arithmetic, float64."""
        b = np.asarray(betas, dtype=np.float64)
        alphas = 1.0 - b
        ac = np.cumprod(alphas, axis=0)
        ac_prev = np.append(1.0, ac[:-1])
        pv = b * (1.0 - ac_prev) / (1.0 - ac)
        return cls(
            timestep_map=np.arange(len(b), dtype=np.int64) if timestep_map is None else np.asarray(timestep_map,
                                                                                                   dtype=np.int64),
            betas=b, alphas_cumprod=ac, alphas_cumprod_prev=ac_prev,
            sqrt_alphas_cumprod=np.sqrt(ac), sqrt_one_minus_alphas_cumprod=np.sqrt(1.0 - ac),
            sqrt_recip_alphas_cumprod=np.sqrt(1.0 / ac), sqrt_recipm1_alphas_cumprod=np.sqrt(1.0 / ac - 1),
            posterior_variance=pv, posterior_log_variance_clipped=np.log(np.append(pv[1], pv[1:])),
            posterior_mean_coef1=b * np.sqrt(ac_prev) / (1.0 - ac),
            posterior_mean_coef2=(1.0 - ac_prev) * np.sqrt(alphas) / (1.0 - ac),
            log_betas=np.log(b),
        )


def respaced_schedule(count: int = 250, steps: int = 1000) -> Schedule:
    """The official ``SpacedDiffusion`` schedule for ``timestep_respacing=str(count)`` over ``steps`` linear steps."""
    base = Schedule.from_betas(linear_betas(steps))
    kept = space_timesteps(steps, count)
    new_betas, last = [], 1.0
    for i in kept:
        a = float(base.alphas_cumprod[i])
        new_betas.append(1.0 - a / last)
        last = a
    return Schedule.from_betas(np.array(new_betas), np.array(kept, dtype=np.int64))


@dataclass
class PMeanVariance:
    """``p(x_{t-1} | x_t)`` for one step; all tensors shaped like ``x``, float32."""

    model_out: torch.Tensor
    pred_xstart: torch.Tensor
    mean: torch.Tensor
    log_variance: torch.Tensor

    @property
    def variance(self) -> torch.Tensor:
        return torch.exp(self.log_variance)


class SpacedDiffusion:
    """Sampling arithmetic of a respaced learned-sigma diffusion (float32 tensors, float64 coefficients).

    Args:
        schedule: from :func:`respaced_schedule`.
    """

    def __init__(self, schedule: Schedule) -> None:
        self.s = schedule
        self._cache: dict[tuple[str, torch.device], torch.Tensor] = {}

    @property
    def num_timesteps(self) -> int:
        return self.s.num_timesteps

    def coef(self, name: str, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``arr[t]`` cast to float32, shaped (B, 1, 1, 1) (the official ``_extract_into_tensor``)."""
        key = (name, t.device)
        if key not in self._cache:
            self._cache[key] = torch.from_numpy(np.asarray(getattr(self.s, name))).to(t.device)
        v = self._cache[key][t].float()
        return v.view(-1, *([1] * (like.ndim - 1)))

    def model_timesteps(self, t: torch.Tensor) -> torch.Tensor:
        """Respaced indices -> original integer steps fed to the UNet (int64)."""
        return torch.as_tensor(self.s.timestep_map, device=t.device)[t]

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``sqrt(abar_t) x0 + sqrt(1 - abar_t) noise`` at respaced indices ``t`` (B,)."""
        return (self.coef("sqrt_alphas_cumprod", t, x0) * x0
                + self.coef("sqrt_one_minus_alphas_cumprod", t, x0) * noise)

    def p_mean_variance_from_output(self, model_out: torch.Tensor, x: torch.Tensor, t: torch.Tensor,
                                    clip_denoised: bool = True) -> PMeanVariance:
        """Learned-range mean/log-variance from a raw (B, 2C, H, W) UNet output at respaced ``t``."""
        c = x.shape[1]
        if model_out.shape[1] != 2 * c:
            raise ConfigError(f"learned-sigma UNet output must have {2 * c} channels, got {model_out.shape[1]}")
        model_out = model_out.float()
        eps, v = model_out[:, :c], model_out[:, c:]
        min_log = self.coef("posterior_log_variance_clipped", t, x)
        max_log = self.coef("log_betas", t, x)
        frac = (v + 1) / 2
        log_var = frac * max_log + (1 - frac) * min_log
        x0 = self.coef("sqrt_recip_alphas_cumprod", t, x) * x - self.coef("sqrt_recipm1_alphas_cumprod", t, x) * eps
        if clip_denoised:
            x0 = x0.clamp(-1, 1)
        mean = self.coef("posterior_mean_coef1", t, x) * x0 + self.coef("posterior_mean_coef2", t, x) * x
        return PMeanVariance(model_out=model_out, pred_xstart=x0, mean=mean, log_variance=log_var)

    def p_mean_variance(self, model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor,
                        t: torch.Tensor, clip_denoised: bool = True) -> PMeanVariance:
        """Run ``model(x, map[t])`` and return :class:`PMeanVariance`."""
        return self.p_mean_variance_from_output(model(x, self.model_timesteps(t)), x, t, clip_denoised)

    @staticmethod
    def p_sample_from(out: PMeanVariance, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Ancestral step: ``mean + [t != 0] exp(log_var / 2) noise``."""
        nonzero = (t != 0).float().view(-1, *([1] * (noise.ndim - 1)))
        return out.mean + nonzero * torch.exp(0.5 * out.log_variance) * noise
