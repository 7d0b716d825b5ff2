"""The improved-DDPM UNet of DT-BFR's diffusion prior (DifFace's ``iddpm_ffhq512_ema500000.pth``).

Written from ``models/unet.py::UNetModel`` and ``models/basic_ops.py`` of https://github.com/SamsungLabs/DT-BFR at
commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd (the OpenAI improved-diffusion UNet as vendored by DifFace) and the
facts in ../shared/fixtures/dtbfr/README.md / ``layout_iddpm.json`` (not copied). Key names equal the official ones.

* ``attention_resolutions`` are **absolute** feature sizes: ``ds`` starts at ``image_size`` and halves per level
  (the 512 model attends at 32, 16 and 8), not downsample rates as in OpenAI's code.
* ``num_res_blocks`` is per level; the decoder has ``num_res_blocks[level] + 1`` ResBlocks per level.
* Heads = channels / ``num_head_channels``; legacy attention (``use_new_attention_order=False``) splits heads before
  q/k/v; q and k are both scaled by ``ch^-1/4``; softmax in float32.
* GroupNorm: 32 groups, eps 1e-5, computed in float32 then cast back. SiLU. ``use_scale_shift_norm``:
  ``h = GN(h) * (1 + scale) + shift`` with ``(scale, shift) = chunk(emb_layers(emb), 2)``.
* Time embedding: ``[cos(t f_k), sin(t f_k)]``, ``f_k = exp(-ln(10000) k / (C/2))`` from the *original* integer
  step (no rescaling), then Linear(C, 4C), SiLU, Linear(4C, 4C).
* Output ``out = Conv(SiLU(GN(h)))`` with 6 channels: ``eps = out[:, :3]``, variance value ``v = out[:, 3:]``.

Full size: 630 tensors, 159,788,454 parameters, no buffers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bfrbench.errors import ConfigError

__all__ = ["IDDPMConfig", "IDDPMUNet", "iddpm_config", "timestep_embedding"]


@dataclass(frozen=True)
class IDDPMConfig:
    """Constructor arguments of the official ``UNetModel``; defaults: ``configs/targets/iddpm_ffhq512_*.yaml``."""

    image_size: int = 512
    in_channels: int = 3
    model_channels: int = 32
    out_channels: int = 6
    num_res_blocks: tuple[int, ...] = (1, 2, 2, 2, 2, 3, 4)
    attention_resolutions: tuple[int, ...] = (32, 16, 8)
    dropout: float = 0.0
    channel_mult: tuple[int, ...] = (1, 2, 4, 8, 8, 16, 16)
    conv_resample: bool = True
    dims: int = 2
    use_fp16: bool = False
    num_heads: int = 1
    num_head_channels: int = 64
    use_scale_shift_norm: bool = True
    resblock_updown: bool = False
    use_new_attention_order: bool = False

    def __post_init__(self) -> None:
        nrb = self.num_res_blocks
        nrb = (int(nrb),) * len(self.channel_mult) if isinstance(nrb, int) else tuple(int(n) for n in nrb)
        object.__setattr__(self, "num_res_blocks", nrb)
        object.__setattr__(self, "channel_mult", tuple(int(m) for m in self.channel_mult))
        object.__setattr__(self, "attention_resolutions", tuple(int(r) for r in self.attention_resolutions))
        if len(nrb) != len(self.channel_mult):
            raise ConfigError(f"num_res_blocks {nrb} must have one entry per channel_mult level {self.channel_mult}")
        if self.dims != 2:
            raise ConfigError(f"only dims=2 is implemented, got {self.dims}")
        for m in self.channel_mult:
            ch = m * self.model_channels
            if ch % 32:
                raise ConfigError(f"channels {ch} must be a multiple of 32 (GroupNorm with 32 groups)")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("num_res_blocks", "attention_resolutions", "channel_mult"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IDDPMConfig:
        """From official constructor kwargs (yaml ``model.params`` or ``iddpm_tiny.json:constructor_kwargs``)."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known - {"num_classes"})
        if unknown:
            raise ConfigError(f"unknown iDDPM config keys {unknown}; accepted: {sorted(known)}")
        if d.get("num_classes") is not None:
            raise ConfigError("class-conditional iDDPM (num_classes) is not supported")
        return cls(**{k: v for k, v in d.items() if k != "num_classes"})


def iddpm_config(preset: str = "ffhq512", **overrides: Any) -> IDDPMConfig:
    """``ffhq512``: the official prior; ``tiny``: the fixture's ``iddpm_tiny.json`` (64 px, 3 levels)."""
    if preset == "ffhq512":
        base: dict[str, Any] = {}
    elif preset == "tiny":
        base = {"image_size": 64, "channel_mult": (1, 1, 2), "num_res_blocks": (1, 2, 1),
                "attention_resolutions": (32, 16), "num_head_channels": 32}
    else:
        raise ConfigError(f"unknown iDDPM preset {preset!r}; accepted: 'ffhq512', 'tiny'")
    base.update(overrides)
    return IDDPMConfig(**base)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """(N,) steps -> (N, dim) float32 ``[cos(t f), sin(t f)]`` (zero-padded when ``dim`` is odd)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half).to(t.device)
    args = t[:, None].float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


class GroupNorm32(nn.GroupNorm):
    """GroupNorm(32, C, eps 1e-5) computed in float32, returned in the input dtype."""

    def __init__(self, channels: int) -> None:
        super().__init__(32, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x.float(), self.num_groups, self.weight.float(), self.bias.float(), self.eps).to(x.dtype)


class Upsample(nn.Module):
    def __init__(self, ch: int, use_conv: bool) -> None:
        super().__init__()
        self.use_conv = use_conv
        if use_conv:
            self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv(x) if self.use_conv else x


class Downsample(nn.Module):
    def __init__(self, ch: int, use_conv: bool) -> None:
        super().__init__()
        self.op: nn.Module = nn.Conv2d(ch, ch, 3, stride=2, padding=1) if use_conv else nn.AvgPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class ResBlock(nn.Module):
    """GN-SiLU-conv, timestep FiLM (scale/shift or add), GN-SiLU-dropout-conv, plus a (1x1) skip."""

    def __init__(self, ch: int, emb_ch: int, dropout: float, out_ch: int, scale_shift: bool,
                 up: bool = False, down: bool = False) -> None:
        super().__init__()
        self.scale_shift = scale_shift
        self.in_layers = nn.Sequential(GroupNorm32(ch), nn.SiLU(), nn.Conv2d(ch, out_ch, 3, padding=1))
        self.updown = up or down
        self.h_upd: nn.Module
        self.x_upd: nn.Module
        if up:
            self.h_upd, self.x_upd = Upsample(ch, False), Upsample(ch, False)
        elif down:
            self.h_upd, self.x_upd = Downsample(ch, False), Downsample(ch, False)
        else:
            self.h_upd = self.x_upd = nn.Identity()
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_ch, 2 * out_ch if scale_shift else out_ch))
        out_conv = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        nn.init.zeros_(out_conv.weight)  # official zero_module
        nn.init.zeros_(out_conv.bias)  # type: ignore[arg-type]
        self.out_layers = nn.Sequential(GroupNorm32(out_ch), nn.SiLU(), nn.Dropout(dropout), out_conv)
        self.skip_connection: nn.Module = nn.Identity() if out_ch == ch else nn.Conv2d(ch, out_ch, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        if self.updown:
            h = self.in_layers[2](self.h_upd(self.in_layers[1](self.in_layers[0](x))))
            x = self.x_upd(x)
        else:
            h = self.in_layers(x)
        e = self.emb_layers(emb).to(h.dtype)[:, :, None, None]
        if self.scale_shift:
            scale, shift = e.chunk(2, dim=1)
            h = self.out_layers[0](h) * (1 + scale) + shift
            h = self.out_layers[3](self.out_layers[2](self.out_layers[1](h)))
        else:
            h = self.out_layers(h + e)
        return self.skip_connection(x) + h


class AttentionBlock(nn.Module):
    """Self-attention over all positions: GN, 1x1 qkv, multi-head attention, zero-initialised 1x1 projection."""

    def __init__(self, ch: int, heads: int, legacy: bool) -> None:
        super().__init__()
        self.heads, self.legacy = heads, legacy
        self.norm = GroupNorm32(ch)
        self.qkv = nn.Conv1d(ch, 3 * ch, 1)
        self.proj_out = nn.Conv1d(ch, ch, 1)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)  # type: ignore[arg-type]

    def attention(self, qkv: torch.Tensor) -> torch.Tensor:
        """(B, 3*H*C, T) -> (B, H*C, T). Legacy order: heads split first, then q/k/v within each head."""
        b, width, t = qkv.shape
        c = width // (3 * self.heads)
        if self.legacy:
            q, k, v = qkv.reshape(b * self.heads, 3 * c, t).split(c, dim=1)
        else:
            q, k, v = (z.reshape(b * self.heads, c, t) for z in qkv.chunk(3, dim=1))
        s = 1.0 / math.sqrt(math.sqrt(c))
        w = torch.einsum("bct,bcs->bts", q * s, k * s)
        w = torch.softmax(w.float(), dim=-1).to(w.dtype)
        return torch.einsum("bts,bcs->bct", w, v).reshape(b, -1, t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, hh, ww = x.shape
        x = x.reshape(b, c, -1)
        h = self.proj_out(self.attention(self.qkv(self.norm(x))))
        return (x + h).reshape(b, c, hh, ww)


class TimestepSequential(nn.Sequential):
    """Sequential that hands the timestep embedding to the ResBlocks."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        for layer in self:
            x = layer(x, emb) if isinstance(layer, ResBlock) else layer(x)
        return x


class IDDPMUNet(nn.Module):
    """``forward(x, t)``: x (B, 3, S, S) noisy image in [-1, 1]-scale, t (B,) original int steps -> (B, 6, S, S)."""

    def __init__(self, cfg: IDDPMConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or IDDPMConfig()
        self.cfg = cfg
        mc, ted = cfg.model_channels, cfg.model_channels * 4
        ss, drop = cfg.use_scale_shift_norm, cfg.dropout

        def heads(ch: int) -> int:
            if cfg.num_head_channels == -1:
                return cfg.num_heads
            if ch % cfg.num_head_channels:
                raise ConfigError(f"attention channels {ch} not divisible by num_head_channels "
                                  f"{cfg.num_head_channels}")
            return ch // cfg.num_head_channels

        def attn(ch: int) -> AttentionBlock:
            return AttentionBlock(ch, heads(ch), legacy=not cfg.use_new_attention_order)

        self.time_embed = nn.Sequential(nn.Linear(mc, ted), nn.SiLU(), nn.Linear(ted, ted))
        ch = input_ch = cfg.channel_mult[0] * mc
        self.input_blocks = nn.ModuleList([TimestepSequential(nn.Conv2d(cfg.in_channels, ch, 3, padding=1))])
        chans, ds = [ch], cfg.image_size
        last = len(cfg.channel_mult) - 1
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_res_blocks[level]):
                layers: list[nn.Module] = [ResBlock(ch, ted, drop, mult * mc, ss)]
                ch = mult * mc
                if ds in cfg.attention_resolutions:
                    layers.append(attn(ch))
                self.input_blocks.append(TimestepSequential(*layers))
                chans.append(ch)
            if level != last:
                down = ResBlock(ch, ted, drop, ch, ss, down=True) if cfg.resblock_updown \
                    else Downsample(ch, cfg.conv_resample)
                self.input_blocks.append(TimestepSequential(down))
                chans.append(ch)
                ds //= 2
        self.middle_block = TimestepSequential(ResBlock(ch, ted, drop, ch, ss), attn(ch), ResBlock(ch, ted, drop, ch, ss))
        self.output_blocks = nn.ModuleList()
        for level, mult in reversed(list(enumerate(cfg.channel_mult))):
            for i in range(cfg.num_res_blocks[level] + 1):
                layers = [ResBlock(ch + chans.pop(), ted, drop, mc * mult, ss)]
                ch = mc * mult
                if ds in cfg.attention_resolutions:
                    layers.append(attn(ch))
                if level and i == cfg.num_res_blocks[level]:
                    layers.append(ResBlock(ch, ted, drop, ch, ss, up=True) if cfg.resblock_updown
                                  else Upsample(ch, cfg.conv_resample))
                    ds *= 2
                self.output_blocks.append(TimestepSequential(*layers))
        self.out = nn.Sequential(GroupNorm32(ch), nn.SiLU(), nn.Conv2d(input_ch, cfg.out_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x: (B, C, S, S) float; t: (B,) integer original timesteps. Returns (B, out_channels, S, S) in x's dtype."""
        dtype = next(self.parameters()).dtype
        emb = self.time_embed(timestep_embedding(t, self.cfg.model_channels).to(dtype))
        h = x.to(dtype)
        hs = []
        for block in self.input_blocks:
            h = block(h, emb)
            hs.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h, hs.pop()], dim=1), emb)
        return self.out(h).to(x.dtype)
