"""Identity-guided reverse step: the face-recognition gradient, applied only where the latent mask is 1.

paper: the IRN's output constrains the reverse diffusion; gradients from a face-recognition network are added
to the masked subset of latent features only (abstract).

ours: at each guided step the sampler (sampler.py) forms the clean-latent estimate ``z0_hat`` from the score
network, then

    g  = d/dz0_hat  sum_i [1 - cos(FR(gray_resize(decode(z0_hat)_i)), target_i)]
    z0_hat' = z0_hat - strength * M * g

with ``M`` the hard mask (0/1), ``target = IRN(LQ)``, and continues the DDIM update from ``z0_hat'``. Where
``M = 0`` the result equals ``z0_hat`` bit for bit (``torch.where``, not a multiply-add). The sum over images
makes each image's gradient independent of the others in the batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from bfrbench.methods.clrface.face_recognition import ResNetArcFace, identity_distance

__all__ = ["guided_estimate", "identity_gradient"]


def identity_gradient(z0: torch.Tensor, decode: Callable[[torch.Tensor], torch.Tensor], fr: ResNetArcFace,
                      target: torch.Tensor) -> torch.Tensor:
    """Gradient of the summed FR cosine distance w.r.t. the latent.

    Args:
        z0: (B, C, h, w) latent (any float dtype).
        decode: latent -> (B, 3, H, W) image in [-1, 1].
        fr: frozen face-recognition network.
        target: (B, D) identity embeddings.

    Returns:
        (B, C, h, w) gradient, dtype of ``z0``.
    """
    with torch.enable_grad():
        z = z0.detach().requires_grad_(True)
        loss = identity_distance(fr, decode(z).clamp(-1, 1), target).sum()
        (g,) = torch.autograd.grad(loss, z)
    return g


def guided_estimate(z0: torch.Tensor, mask: torch.Tensor, grad: torch.Tensor, strength: float) -> torch.Tensor:
    """``z0 - strength * grad`` where ``mask == 1``, ``z0`` unchanged elsewhere.

    Args:
        z0: (B, C, h, w); mask: (1 or B, C, h, w) with values in {0, 1}; grad: like ``z0``; strength: step size.
    """
    return torch.where(mask.to(torch.bool), z0 - strength * grad, z0)
