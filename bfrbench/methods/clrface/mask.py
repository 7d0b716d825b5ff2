"""Learnable latent mask selecting the latent features that carry fine identity details.

paper: "using a learnable latent mask, we add gradients from a face-recognition network to a subset of latent
features that correlates with the finer identity-related details in the pixel space, leaving the other features
untouched" (abstract). How the mask is parametrised and learnt was not reachable.

ours:

* One logit per latent feature, shape (C, h, w) at the latent resolution (faces are aligned, so a position
  means the same facial part in every image). Training uses the soft mask ``sigmoid(logit / temperature)``;
  inference uses the hard mask ``logit > 0`` (exactly 0 or 1), so the identity gradient touches only the chosen
  features and every other feature is left bit-for-bit untouched (tested). The logits start at
  ``init_logit = 2`` (all selected) and the objective below prunes them.
* Learning objective (train.py, ``mask`` stage): starting from the LQ latent, one masked identity step
  ``z' = z - step * M * g`` (``g`` = gradient of the FR cosine distance to the HQ identity, treated as a
  constant) must make ``decode(z')`` closer to the HQ identity while staying close to the HQ pixels; a sparsity
  term ``mean(M)`` keeps the subset small.
"""

from __future__ import annotations

import torch
from torch import nn

from bfrbench.methods.clrface.config import MaskConfig

__all__ = ["LatentMask"]


class LatentMask(nn.Module):
    """Mask logits (C, h, w); ``soft()`` (1, C, h, w) in (0, 1), ``hard()`` (1, C, h, w) in {0, 1}."""

    def __init__(self, cfg: MaskConfig, channels: int, size: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.full((channels, size, size), float(cfg.init_logit)))
        self.temperature = float(cfg.temperature)

    def soft(self) -> torch.Tensor:
        return torch.sigmoid(self.logits / self.temperature)[None]

    def hard(self) -> torch.Tensor:
        return (self.logits > 0).to(self.logits.dtype)[None]

    def fraction(self) -> float:
        """Share of latent features the hard mask selects."""
        return float((self.logits > 0).float().mean())
