"""VQGAN-style autoencoder with downsampling factor 4 (the CLR-Face latent space).

paper: "a diffusion-based prior inside a VQGAN architecture"; the latent is deliberately less compressed than
CodeFormer's (abstract), downsampling factor 4 versus 32 (secondary summary of 2402.06106, themoonlight.io).
paper (secondary summary): encoder E, decoder G and a codebook Z: the latent is vector-quantised.

ours (paper body not reachable):

* Quantised latent. ``encode`` returns the continuous encoder output ``z_e`` (B, C, h, w), l2-normalised per
  position; ``quantize`` snaps each position to its nearest unit codebook vector (cosine; ViT-VQGAN-style
  l2-normalised codes, see :class:`Codebook`) with the straight-through estimator. The clean
  latent the diffusion prior models is the *quantised* HQ latent ``z_q`` (codebook vectors are continuous, so a
  score model applies unchanged); the condition is the *continuous* LQ encoding ``z_e(LQ)`` (it keeps what the
  codebook would throw away). The sampler's final latent is normalised per position and, only if
  ``SamplerConfig.quantize_output`` (off by default: snapping erases the small identity step), snapped to the
  codebook before decoding.
* Sizes: LDM's VQ-f4 layout (128 channels, multipliers 1-2-4, 2 residual blocks, no attention),
  ``latent_channels=4`` and 8192 codes.
* Loss (stages.py): L1 + LPIPS (``TrainConfig.perceptual_weight``) + codebook and commitment terms (VQ-VAE,
  beta 0.25) + a PatchGAN hinge adversarial term (VQGAN's recipe, fixed weight, late start).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from bfrbench.methods.clrface._blocks import (
    Downsample,
    ResBlock,
    SelfAttention,
    Upsample,
    norm,
)
from bfrbench.methods.clrface.config import AutoencoderConfig

__all__ = ["Codebook", "Decoder", "Encoder", "VQAutoencoder"]


class Encoder(nn.Module):
    """(B, 3, H, W) in [-1, 1] -> (B, latent_channels, H/f, W/f) float, f = 2 ** (len(channel_mult) - 1)."""

    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        chs = [cfg.base_channels * m for m in cfg.channel_mult]
        g = cfg.norm_groups
        self.conv_in = nn.Conv2d(3, chs[0], 3, padding=1)
        blocks: list[nn.Module] = []
        cin = chs[0]
        for i, c in enumerate(chs):
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResBlock(cin, c, g))
                cin = c
            if i < len(chs) - 1:
                blocks.append(Downsample(c))
        self.down = nn.Sequential(*blocks)
        self.mid = nn.Sequential(ResBlock(cin, cin, g), SelfAttention(cin, g) if cfg.attention else nn.Identity(),
                                 ResBlock(cin, cin, g))
        self.norm_out = norm(cin, g)
        self.conv_out = nn.Conv2d(cin, cfg.latent_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.down(self.conv_in(x)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """(B, latent_channels, h, w) -> (B, 3, h*f, w*f), unbounded (clamp to [-1, 1] for images)."""

    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        chs = [cfg.base_channels * m for m in cfg.channel_mult]
        g = cfg.norm_groups
        cin = chs[-1]
        self.conv_in = nn.Conv2d(cfg.latent_channels, cin, 3, padding=1)
        self.mid = nn.Sequential(ResBlock(cin, cin, g), SelfAttention(cin, g) if cfg.attention else nn.Identity(),
                                 ResBlock(cin, cin, g))
        blocks: list[nn.Module] = []
        for i, c in reversed(list(enumerate(chs))):
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(ResBlock(cin, c, g))
                cin = c
            if i > 0:
                blocks.append(Upsample(c))
        self.up = nn.Sequential(*blocks)
        self.norm_out = norm(cin, g)
        self.conv_out = nn.Conv2d(cin, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.up(self.mid(self.conv_in(z)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Codebook(nn.Module):
    """Nearest-neighbour vector quantiser with a straight-through gradient (VQ-VAE, van den Oord et al. 2017).

    ours: latent vectors and codes are l2-normalised before matching (ViT-VQGAN, Yu et al. ICLR 2022): with a
    plain codebook the encoder's output scale ran away from the slowly moving codes in our runs (the VQ loss grew
    while L1 fell); on the unit sphere the codebook stays in use and the latent has a fixed scale, which also suits
    the diffusion prior.
    """

    def __init__(self, size: int, dim: int, beta: float) -> None:
        super().__init__()
        self.embedding = nn.Embedding(size, dim)
        nn.init.normal_(self.embedding.weight)
        self.beta = beta

    def codes(self) -> torch.Tensor:
        """(size, dim) unit-norm codes."""
        return F.normalize(self.embedding.weight, dim=1)

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> (B, h, w) int64 index of the nearest unit code to the normalised vector (max cosine)."""
        b, c, h, w = z.shape
        flat = F.normalize(z.permute(0, 2, 3, 1).reshape(-1, c).float(), dim=1)
        return (flat @ self.codes().float().t()).argmax(1).reshape(b, h, w)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (z_q with straight-through gradient (B, C, h, w), VQ loss scalar, indices (B, h, w)).

        ``z`` is normalised per position first, so z_q is a unit code vector.
        """
        idx = self.indices(z)
        z = F.normalize(z, dim=1)
        zq = F.embedding(idx, self.codes()).permute(0, 3, 1, 2).to(z.dtype)
        loss = F.mse_loss(zq, z.detach()) + self.beta * F.mse_loss(z, zq.detach())
        return z + (zq - z).detach(), loss, idx


class VQAutoencoder(nn.Module):
    """Encoder, codebook and decoder of the f=4 latent space (see module docstring)."""

    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.codebook = Codebook(cfg.codebook_size, cfg.latent_channels, cfg.commitment_beta)
        self.decoder = Decoder(cfg)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Continuous latent z_e, unit-normalised per position like the codes: (B, 3, H, W) -> (B, C, H/4, W/4)."""
        return F.normalize(self.encoder(x), dim=1)

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Snap to the codebook (no loss): (B, C, h, w) -> (B, C, h, w)."""
        return self.codebook(z)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> (B, 3, 4h, 4w), not clamped."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruction (B, 3, H, W) and the VQ loss (scalar)."""
        zq, vq_loss, _ = self.codebook(self.encoder(x))
        return self.decoder(zq), vq_loss
