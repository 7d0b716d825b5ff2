"""Reverse process: DDIM-style steps on the VP SDE, with the masked identity guidance.

paper: the clean latent is recovered iteratively by reverse diffusion conditioned on the LQ latent, and the
identity gradient is added on the masked latent features during the reverse process (abstract). The solver,
number of steps and when guidance applies were not reachable.

ours: a deterministic-by-default DDIM update (Song, Meng & Ermon, ICLR 2021) written in the VP SDE's
(alpha, sigma): with ``a = alpha(t)``, ``s = sigma(t)`` and the next time's ``a', s'``,

    eps   = eps_theta(z_t, t, c)
    x0    = (z_t - s eps) / a           -> projected per position onto the unit sphere (the latent space's
                                           codes live there; like DDPM's clip of x0), then the identity
                                           guidance on x0 where the mask is 1 (guidance.py)
    eps   = (z_t - a x0) / s            (re-derived so the step stays consistent with the guided x0)
    z_t'  = a' x0 + sqrt(s'^2 - r^2) eps + r n,   r = eta * sqrt((1 - a'^2)/(1 - a^2) * (1 - a^2/a'^2))

over ``steps`` times uniform from ``start_t`` to ``t_eps``; the last step returns its ``x0``. ``start_t < 1``
starts from the LQ latent noised to ``start_t`` instead of pure noise (SDEdit-like; off by default).
All sampler arithmetic is float32 whatever the networks' dtype; ``n`` and the initial noise come from one
CPU ``torch.Generator`` per image, so an image's result does not depend on its batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from bfrbench.methods.clrface.face_recognition import ResNetArcFace
from bfrbench.methods.clrface.guidance import guided_estimate, identity_gradient
from bfrbench.methods.clrface.score import VPSDE

__all__ = ["Guidance", "sample", "sampling_times"]


@dataclass
class Guidance:
    """Inputs of the identity guidance: hard mask (1, C, h, w), FR network, IRN targets (B, D), decode fn."""

    mask: torch.Tensor
    fr: ResNetArcFace
    target: torch.Tensor
    decode: Callable[[torch.Tensor], torch.Tensor]
    strength: float
    until: float = 0.0


def sampling_times(sde: VPSDE, steps: int, start: float = 1.0) -> list[float]:
    """``steps`` times uniform from ``start`` down to ``t_eps`` (``[start]`` for one step)."""
    if steps == 1:
        return [start]
    return [start + (sde.t_eps - start) * i / (steps - 1) for i in range(steps)]


def _noise(gens: Sequence[torch.Generator], shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    return torch.cat([torch.randn((1, *shape), generator=g, dtype=torch.float32) for g in gens]).to(device)


def sample(eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], sde: VPSDE, cond: torch.Tensor,
           gens: Sequence[torch.Generator], *, steps: int, eta: float = 0.0, start: float = 1.0,
           guidance: Guidance | None = None,
           project: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Run the reverse process.

    Args:
        eps_fn: (z_t float32 (B, C, h, w), t (B,) float32) -> eps float32 (B, C, h, w); closes over the condition.
        sde: the VP SDE.
        cond: (B, C, h, w) float32 LQ latent (used only when ``start < 1``).
        gens: one CPU generator per image (initial noise first, then one draw per step when eta > 0).
        steps: network evaluations; eta: DDIM eta; start: initial time in (t_eps, 1].
        guidance: masked identity guidance, or None.
        project: applied to each x0 estimate before guidance (the pipeline projects onto the unit sphere of the
            latent space, the analogue of DDPM's clipping of x0 to [-1, 1]); None: no projection.

    Returns:
        (B, C, h, w) float32 clean-latent estimate.
    """
    shape = tuple(cond.shape[1:])
    dev = cond.device
    ts = sampling_times(sde, steps, start)
    x_T = _noise(gens, shape, dev)
    z = x_T if start >= 1.0 else sde.alpha(start) * cond + sde.sigma(start) * x_T
    x0 = z
    for i, t in enumerate(ts):
        a, s = sde.alpha(t), sde.sigma(t)
        eps = eps_fn(z, torch.full((z.shape[0],), t, dtype=torch.float32, device=dev))
        x0 = (z - s * eps) / a
        if project is not None:
            x0 = project(x0)
            eps = (z - a * x0) / s
        if guidance is not None and guidance.strength != 0.0 and t > guidance.until:
            g = identity_gradient(x0, guidance.decode, guidance.fr, guidance.target).float()
            x0 = guided_estimate(x0, guidance.mask, g, guidance.strength)
            eps = (z - a * x0) / s
        if i == len(ts) - 1:
            break
        an, sn = sde.alpha(ts[i + 1]), sde.sigma(ts[i + 1])
        r = 0.0
        if eta > 0:
            r = eta * math.sqrt(max(0.0, (1 - an * an) / (1 - a * a) * (1 - a * a / (an * an))))
        z = an * x0 + math.sqrt(max(0.0, sn * sn - r * r)) * eps
        if r > 0:
            z = z + r * _noise(gens, shape, dev)
    return x0
