"""The ReF-LDM VQGAN (f=8) autoencoder: encoder, decoder and vector quantizer with the official key names.

Matches ``ldm.models.autoencoder.VQModelInterface`` of the official ReF-LDM code
(https://github.com/ChiWeiHsiao/ref-ldm, commit af6690c19fdc6421802fd7996510bcfef259bfd1), whose encoder and
decoder are the CompVis taming/LDM ``Encoder``/``Decoder`` and whose quantizer is taming-transformers'
``VectorQuantizer2`` (CompVis/taming-transformers commit 3ba01b241669f5ade541ce990f7650a3b8f65318), legacy
loss, no index remapping. Written from the architecture description (names, shapes, formulas), not copied.

Facts reproduced here (see ../shared/fixtures/refldm/README.md, section 4):

* GroupNorm: 32 groups, eps 1e-6, affine. Nonlinearity: swish ``x * sigmoid(x)``.
* Encoder downsampling pads (left 0, right 1, top 0, bottom 1) then a stride-2 3x3 convolution without padding.
* Decoder upsampling: nearest x2, then a 3x3 convolution.
* Mid attention: single head, 1x1 convolutions q/k/v/proj_out, scale ``C^-1/2``.
* ``encode(x) = quant_conv(encoder(x))`` -- the LDM conditions on the *un-quantized* latent.
* ``decode(z)``: quantize, ``post_quant_conv``, decoder (no tanh, no clamp).
* Quantizer: ``d = |z|^2 + |e|^2 - 2 z.e``, argmin over the codebook, straight-through ``z + (e - z)``.

Normalisations are evaluated in float32 whatever the parameter dtype (identical for float32 weights,
and keeps fp16/bf16 runs stable).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FULL_VQGAN_CONFIG", "VQGAN", "Decoder", "Encoder", "VQGANConfig", "VectorQuantizer"]


@dataclass(frozen=True)
class VQGANConfig:
    """Constructor config of the VQGAN (the official ``ddconfig`` plus ``embed_dim``/``n_embed``).

    Defaults are the full-size ReF-LDM VQGAN (``configs/refldm.yaml``: first_stage_config).
    """

    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 1, 2, 4)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = ()
    in_channels: int = 3
    out_ch: int = 3
    resolution: int = 512
    z_channels: int = 8
    embed_dim: int = 8
    n_embed: int = 8192
    double_z: bool = False
    beta: float = 0.25
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        d["ch_mult"] = list(self.ch_mult)
        d["attn_resolutions"] = list(self.attn_resolutions)
        return d


FULL_VQGAN_CONFIG = VQGANConfig()


class Normalize(nn.GroupNorm):
    """GroupNorm(32, C, eps=1e-6), evaluated in float32 and cast back to the input dtype."""

    def __init__(self, channels: int) -> None:
        super().__init__(num_groups=32, num_channels=channels, eps=1e-6, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x.float(), self.num_groups, self.weight.float(), self.bias.float(), self.eps).to(x.dtype)


def swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    """norm1 -> swish -> conv1 -> norm2 -> swish -> (dropout) -> conv2, plus a 1x1 ``nin_shortcut`` if C changes."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm1 = Normalize(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = Normalize(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(swish(self.norm2(h)))
        skip = self.nin_shortcut(x) if self.nin_shortcut is not None else x
        return skip + h


class AttnBlock(nn.Module):
    """Single-head spatial self-attention with 1x1 conv projections and a residual connection."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = Normalize(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        b, c, hh, ww = h.shape
        q = self.q(h).reshape(b, c, hh * ww).transpose(1, 2)  # (B, T, C)
        k = self.k(h).reshape(b, c, hh * ww)  # (B, C, T)
        v = self.v(h).reshape(b, c, hh * ww)  # (B, C, T)
        w = torch.bmm(q, k) * (float(c) ** -0.5)  # (B, Tq, Tk)
        w = torch.softmax(w.float(), dim=2).to(v.dtype)
        out = torch.bmm(v, w.transpose(1, 2)).reshape(b, c, hh, ww)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    """Pad (0, 1, 0, 1) with zeros, then 3x3 conv with stride 2 and no padding."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1), mode="constant", value=0.0))


class Upsample(nn.Module):
    """Nearest-neighbour x2, then 3x3 conv (padding 1)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _Level(nn.Module):
    """One resolution level: ``block`` (ResnetBlocks), ``attn`` (AttnBlocks, maybe empty), optional resampler."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.ModuleList()
        self.attn = nn.ModuleList()


class _Mid(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels)
        self.attn_1 = AttnBlock(channels)
        self.block_2 = ResnetBlock(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class Encoder(nn.Module):
    """Image (B, 3, H, W) in [-1, 1] -> features (B, z_channels, H/f, W/f), f = 2^(len(ch_mult)-1)."""

    def __init__(self, cfg: VQGANConfig) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(cfg.in_channels, cfg.ch, 3, padding=1)
        in_mult = (1, *cfg.ch_mult)
        res = cfg.resolution
        self.down = nn.ModuleList()
        block_out = cfg.ch
        for i, mult in enumerate(cfg.ch_mult):
            level = _Level()
            block_in, block_out = cfg.ch * in_mult[i], cfg.ch * mult
            for _ in range(cfg.num_res_blocks):
                level.block.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if res in cfg.attn_resolutions:
                    level.attn.append(AttnBlock(block_in))
            if i != len(cfg.ch_mult) - 1:
                level.downsample = Downsample(block_in)
                res //= 2
            self.down.append(level)
        self.mid = _Mid(block_out)
        self.norm_out = Normalize(block_out)
        self.conv_out = nn.Conv2d(block_out, 2 * cfg.z_channels if cfg.double_z else cfg.z_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for level in self.down:
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn) > 0:
                    h = level.attn[j](h)
            if hasattr(level, "downsample"):
                h = level.downsample(h)
        h = self.mid(h)
        return self.conv_out(swish(self.norm_out(h)))


class Decoder(nn.Module):
    """Latent (B, z_channels, h, w) -> image (B, 3, h*f, w*f), unbounded (no tanh)."""

    def __init__(self, cfg: VQGANConfig) -> None:
        super().__init__()
        block_in = cfg.ch * cfg.ch_mult[-1]
        res = cfg.resolution // 2 ** (len(cfg.ch_mult) - 1)
        self.conv_in = nn.Conv2d(cfg.z_channels, block_in, 3, padding=1)
        self.mid = _Mid(block_in)
        levels: list[_Level] = []
        for i in reversed(range(len(cfg.ch_mult))):
            level = _Level()
            block_out = cfg.ch * cfg.ch_mult[i]
            for _ in range(cfg.num_res_blocks + 1):
                level.block.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if res in cfg.attn_resolutions:
                    level.attn.append(AttnBlock(block_in))
            if i != 0:
                level.upsample = Upsample(block_in)
                res *= 2
            levels.insert(0, level)  # up[0] is the highest resolution, as in the official module list
        self.up = nn.ModuleList(levels)
        self.norm_out = Normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, cfg.out_ch, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn) > 0:
                    h = level.attn[j](h)
            if hasattr(level, "upsample"):
                h = level.upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


class VectorQuantizer(nn.Module):
    """Nearest-codebook quantizer (taming ``VectorQuantizer2``, legacy=True, no remap); key ``embedding.weight``."""

    def __init__(self, n_embed: int, embed_dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.n_embed = n_embed
        self.embed_dim = embed_dim
        self.beta = beta
        self.embedding = nn.Embedding(n_embed, embed_dim)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Quantize ``z``.

        Args:
            z: (B, D, H, W) float latent.

        Returns:
            ``(z_q, loss, indices)``: z_q (B, D, H, W) = ``z + (e - z)`` (straight-through, so not bitwise ``e``);
            the legacy commitment loss (scalar, ``mean((e-z)^2) + beta*mean((e-z)^2)``); indices (B*H*W,) int64 in
            (b, h, w) order.
        """
        zf = z.permute(0, 2, 3, 1).contiguous()
        flat = zf.reshape(-1, self.embed_dim)
        emb = self.embedding.weight.to(flat.dtype)  # float32 when z is float32 (see VQGAN.decode)
        d = (flat**2).sum(dim=1, keepdim=True) + (emb**2).sum(dim=1) - 2.0 * (flat @ emb.t())
        idx = torch.argmin(d, dim=1)
        zq = emb[idx].reshape(zf.shape)
        loss = torch.mean((zq.detach() - zf) ** 2) + self.beta * torch.mean((zq - zf.detach()) ** 2)
        zq = zf + (zq - zf).detach()
        return zq.permute(0, 3, 1, 2).contiguous(), loss, idx


class VQGAN(nn.Module):
    """``VQModelInterface``: ``encoder``, ``decoder``, ``quantize``, ``quant_conv``, ``post_quant_conv``."""

    def __init__(self, cfg: VQGANConfig = FULL_VQGAN_CONFIG) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quantize = VectorQuantizer(cfg.n_embed, cfg.embed_dim, beta=cfg.beta)
        self.quant_conv = nn.Conv2d(cfg.z_channels, cfg.embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(cfg.embed_dim, cfg.z_channels, 1)

    @property
    def downsampling_factor(self) -> int:
        return int(2 ** (len(self.cfg.ch_mult) - 1))

    @property
    def param_dtype(self) -> torch.dtype:
        return self.quant_conv.weight.dtype

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> un-quantized latent (B, embed_dim, H/f, W/f), float32.

        The network runs in the parameters' dtype; the result is returned as float32.
        """
        return self.quant_conv(self.encoder(x.to(self.param_dtype))).float()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent (B, embed_dim, h, w) -> image (B, 3, h*f, w*f) float32, roughly [-1, 1], not clamped.

        Quantization (nearest codebook entry) is always computed in float32 so low-precision weights cannot flip
        indices through rounding of the distances.
        """
        zq, _, _ = self.quantize(z.float())
        return self.decoder(self.post_quant_conv(zq.to(self.param_dtype))).float()
