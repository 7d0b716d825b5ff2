"""Conditional score network over the clean latent, and the VP SDE it is trained under.

paper: a score-based diffusion prior learns the distribution of clean (uncorrupted) latent embeddings and, at
inference, iteratively recovers the clean embedding conditioned on the degraded image's embedding (abstract).

ours (paper body not reachable):

* SDE: the variance-preserving SDE of Song et al. (ICLR 2021), ``beta(t) = beta_min + t (beta_max - beta_min)``,
  ``t`` in [t_eps, 1], so ``z_t = alpha(t) z_0 + sigma(t) eps`` with ``alpha(t) = exp(-t^2 (beta_max -
  beta_min) / 4 - t beta_min / 2)`` and ``sigma(t) = sqrt(1 - alpha(t)^2)``. Chosen because it is the score-SDE
  family the title names and its marginals are those of DDPM, which makes a DDIM-style sampler exact.
* Parametrisation: the network predicts ``eps`` (score = ``-eps / sigma(t)``), trained by denoising score
  matching with the usual ``sigma^2`` weighting, i.e. plain MSE on ``eps``; ``t`` uniform on [t_eps, 1].
* Conditioning: the continuous LQ latent ``z_e(LQ)`` (same frozen encoder) is concatenated to ``z_t`` at the
  input (SR3 / LDM-style concatenation).
* Network: a DDPM UNet (residual blocks with time embedding, attention at ``attention_levels``).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from bfrbench.methods.clrface._blocks import (
    Downsample,
    ResBlock,
    SelfAttention,
    Upsample,
    norm,
    timestep_embedding,
)
from bfrbench.methods.clrface.config import ScoreConfig

__all__ = ["VPSDE", "ScoreUNet"]


class VPSDE:
    """Variance-preserving SDE marginals (float64 scalars, float32 tensors)."""

    def __init__(self, beta_min: float, beta_max: float, t_eps: float) -> None:
        self.beta_min, self.beta_max, self.t_eps = float(beta_min), float(beta_max), float(t_eps)

    def log_alpha(self, t: float) -> float:
        return -0.25 * t * t * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def alpha(self, t: float) -> float:
        """Mean coefficient alpha(t) of z_0 in z_t."""
        return math.exp(self.log_alpha(t))

    def sigma(self, t: float) -> float:
        """Standard deviation sigma(t) = sqrt(1 - alpha(t)^2)."""
        return math.sqrt(max(0.0, -math.expm1(2.0 * self.log_alpha(t))))

    def marginal(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """alpha(t), sigma(t) for a tensor of times (B,) -> two (B, 1, 1, 1) float32 tensors."""
        la = -0.25 * t.double() ** 2 * (self.beta_max - self.beta_min) - 0.5 * t.double() * self.beta_min
        a = torch.exp(la)
        s = torch.sqrt(-torch.expm1(2.0 * la))
        return a.float()[:, None, None, None], s.float()[:, None, None, None]

    def perturb(self, z0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """z_t = alpha(t) z_0 + sigma(t) eps."""
        a, s = self.marginal(t)
        return a.to(z0.dtype) * z0 + s.to(z0.dtype) * eps

    def timesteps(self, steps: int, start: float = 1.0) -> list[float]:
        """Sampler grid: ``steps + 1`` times from ``start`` down to ``t_eps`` (uniform), as Python floats."""
        return [start + (self.t_eps - start) * i / steps for i in range(steps + 1)]


class ScoreUNet(nn.Module):
    """eps_theta(z_t, t, c): (B, C, h, w), (B,) in [0, 1], (B, C, h, w) -> (B, C, h, w)."""

    def __init__(self, cfg: ScoreConfig, latent_channels: int) -> None:
        super().__init__()
        g = cfg.norm_groups
        chs = [cfg.base_channels * m for m in cfg.channel_mult]
        self.tdim = tdim = cfg.base_channels * 4
        self.time_mlp = nn.Sequential(nn.Linear(cfg.base_channels, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.conv_in = nn.Conv2d(2 * latent_channels, chs[0], 3, padding=1)
        self.down = nn.ModuleList()
        skips = [chs[0]]
        cin = chs[0]
        for i, c in enumerate(chs):
            for _ in range(cfg.num_res_blocks):
                self.down.append(_Level(cin, c, g, tdim, i in cfg.attention_levels))
                cin = c
                skips.append(c)
            if i < len(chs) - 1:
                self.down.append(Downsample(c))
                skips.append(c)
        self.mid1 = ResBlock(cin, cin, g, tdim)
        self.mid_attn = SelfAttention(cin, g)
        self.mid2 = ResBlock(cin, cin, g, tdim)
        self.up = nn.ModuleList()
        for i, c in reversed(list(enumerate(chs))):
            for _ in range(cfg.num_res_blocks + 1):
                self.up.append(_Level(cin + skips.pop(), c, g, tdim, i in cfg.attention_levels))
                cin = c
            if i > 0:
                self.up.append(Upsample(c))
        self.norm_out = norm(cin, g)
        self.conv_out = nn.Conv2d(cin, latent_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        if self.conv_out.bias is not None:
            nn.init.zeros_(self.conv_out.bias)
        self.base = cfg.base_channels

    def forward(self, z: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        temb = self.time_mlp(timestep_embedding(t, self.base).to(z.dtype))
        h = self.conv_in(torch.cat([z, cond], dim=1))
        hs = [h]
        for m in self.down:
            h = m(h, temb) if isinstance(m, _Level) else m(h)
            hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb)), temb)
        for m in self.up:
            h = m(torch.cat([h, hs.pop()], dim=1), temb) if isinstance(m, _Level) else m(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class _Level(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int, tdim: int, attn: bool) -> None:
        super().__init__()
        self.res = ResBlock(cin, cout, groups, tdim)
        self.attn = SelfAttention(cout, groups) if attn else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.res(x, temb)
        return self.attn(h) if self.attn is not None else h
