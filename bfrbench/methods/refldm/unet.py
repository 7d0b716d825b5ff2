"""The ReF-LDM denoising UNet with CacheKV reference attention, with the official key names.

Matches ``ldm.modules.diffusionmodules.openaimodel.UNetModel`` (legacy ``AttentionBlock`` with
``QKVAttentionLegacy``, no spatial transformer, no scale-shift norm) and the CacheKV mechanism
(``ldm/cache_kv.py``) of the official ReF-LDM code, https://github.com/ChiWeiHsiao/ref-ldm at commit
af6690c19fdc6421802fd7996510bcfef259bfd1. Written from the architecture description in
../shared/fixtures/refldm/README.md (names, shapes, formulas), not copied.

CacheKV (paper Sec. 3.2): every reference latent ``z_ref_j`` (B, 8, h, w) is zero-padded to the UNet's input
channels (``[z_ref_j, 0]``) and passed once through this same UNet at ``t = 0``; every attention layer
returns its keys and values, shape ``(B*heads, head_ch, h_l*w_l)``. In the main branch each attention layer
concatenates its cached reference K/V after its own K/V along the token axis; queries come only from the main
branch. The official code keeps this cache as global module state; here it is an explicit argument
(:class:`RefKV`), which makes batching over images with different reference counts possible: the cache is
padded along tokens and a boolean key mask hides the padding (masked logits are ``-inf``, so the softmax
equals the unpadded one).

Dtypes: GroupNorm, the timestep sinusoid and the attention softmax are evaluated in float32 (as the
official ``GroupNorm32``/``QKVAttentionLegacy`` do); everything else runs in the parameters' dtype.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FULL_UNET_CONFIG", "RefKV", "UNet", "UNetConfig", "stack_ref_kv", "timestep_embedding"]


@dataclass(frozen=True)
class UNetConfig:
    """Constructor config of the UNet (``unet_config.params``); defaults are the full-size ReF-LDM UNet."""

    in_channels: int = 16
    out_channels: int = 8
    model_channels: int = 160
    attention_resolutions: tuple[int, ...] = (2, 4, 8)
    num_res_blocks: int = 2
    channel_mult: tuple[int, ...] = (1, 2, 2, 4)
    num_head_channels: int = 32
    num_heads: int = -1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["attention_resolutions"] = list(self.attention_resolutions)
        d["channel_mult"] = list(self.channel_mult)
        return d


FULL_UNET_CONFIG = UNetConfig()


@dataclass
class RefKV:
    """Cached reference keys/values for one main-branch batch.

    Attributes:
        kv: per attention layer (in forward order), ``(k, v)`` each (B*heads, head_ch, S) in the model dtype,
            rows batch-major (``b*heads + h``), S = tokens of all of a row's references (padded to the longest row).
        slot_mask: (B, N_max) bool, True where row b has reference slot j (every layer's S is N_max*T_l, so
            the token mask is this mask repeated T_l times per slot); None when no row is padded.
    """

    kv: list[tuple[torch.Tensor, torch.Tensor]]
    slot_mask: torch.Tensor | None = None


class GroupNorm32(nn.GroupNorm):
    """GroupNorm(32, C, eps=1e-5) computed in float32, cast back to the input dtype."""

    def __init__(self, channels: int) -> None:
        super().__init__(32, channels, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x.float(), self.num_groups, self.weight.float(), self.bias.float(), self.eps).to(x.dtype)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding ``[cos(t f), sin(t f)]`` with ``f_i = exp(-ln(max_period) i / (dim/2))``.

    Args:
        t: (B,) timesteps (int or float).
        dim: embedding size (even).

    Returns:
        (B, dim) float32.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    """GN-SiLU-conv3, + Linear(SiLU(emb)) per channel, GN-SiLU-Dropout-conv3; identity or 1x1 skip."""

    def __init__(self, channels: int, emb_channels: int, out_channels: int) -> None:
        super().__init__()
        self.in_layers = nn.Sequential(GroupNorm32(channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, out_channels))
        self.out_layers = nn.Sequential(
            GroupNorm32(out_channels), nn.SiLU(), nn.Dropout(0.0), nn.Conv2d(out_channels, out_channels, 3, padding=1)
        )
        self.skip_connection: nn.Module = (
            nn.Identity() if channels == out_channels else nn.Conv2d(channels, out_channels, 1)
        )

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x)
        h = h + self.emb_layers(emb).to(h.dtype)[:, :, None, None]
        return self.skip_connection(x) + self.out_layers(h)


class AttentionBlock(nn.Module):
    """Multi-head self-attention over H*W tokens (legacy QKV head-major layout) with CacheKV support."""

    def __init__(self, channels: int, num_heads: int) -> None:
        super().__init__()
        self.channels = channels
        self.num_heads = num_heads
        self.use_sdpa = False  # set by UNet.set_attention_backend
        self.norm = GroupNorm32(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj_out = nn.Conv1d(channels, channels, 1)

    def forward(
        self,
        x: torch.Tensor,
        ref: tuple[torch.Tensor, torch.Tensor] | None = None,
        slot_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Attend.

        Args:
            x: (B, C, H, W).
            ref: cached reference ``(k, v)``, each (B*heads, ch, S), appended after this input's own K/V.
            slot_mask: (B, N) bool, True for real reference slots; S must be N*T_slot (None: all real).

        Returns:
            ``(out, (k, v))``: out (B, C, H, W) with the residual added; this input's own k, v
            (B*heads, ch, H*W) -- what the reference pass caches.
        """
        b, c, hh, ww = x.shape
        xs = x.reshape(b, c, hh * ww)
        qkv = self.qkv(self.norm(xs))
        ch = c // self.num_heads
        q, k, v = qkv.reshape(b * self.num_heads, 3 * ch, hh * ww).split(ch, dim=1)
        own = (k, v)
        mask = None
        if ref is not None:
            k = torch.cat([k, ref[0].to(k.dtype)], dim=-1)
            v = torch.cat([v, ref[1].to(v.dtype)], dim=-1)
            if slot_mask is not None:
                per_slot = ref[0].shape[-1] // slot_mask.shape[1]
                ref_tokens = slot_mask.to(x.device).repeat_interleave(per_slot, dim=1)
                keep_self = torch.ones(b, hh * ww, dtype=torch.bool, device=x.device)
                mask = torch.cat([keep_self, ref_tokens], dim=1).repeat_interleave(self.num_heads, dim=0)
        if self.use_sdpa:
            # fused attention (memory-efficient kernels on GPU); scale ch^-1/2 == (ch^-1/4 on q) * (ch^-1/4 on k)
            o = F.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                attn_mask=mask[:, None, :] if mask is not None else None, scale=1.0 / math.sqrt(ch))
            a = o.transpose(1, 2).reshape(b, c, hh * ww)
        else:
            # the official formulation: scale q and k by ch^-1/4 each, softmax in float32
            scale = 1.0 / math.sqrt(math.sqrt(ch))
            w = torch.einsum("bct,bcs->bts", q * scale, k * scale).float()  # (B*heads, T, S)
            if mask is not None:
                w = w.masked_fill(~mask[:, None, :], float("-inf"))
            w = torch.softmax(w, dim=-1).to(v.dtype)
            a = torch.einsum("bts,bcs->bct", w, v).reshape(b, c, hh * ww)
        return (xs + self.proj_out(a)).reshape(b, c, hh, ww), own


class Downsample(nn.Module):
    """3x3 conv, stride 2, padding 1 (key ``op``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Upsample(nn.Module):
    """Nearest x2 then 3x3 conv (key ``conv``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _Block(nn.ModuleList):
    """``TimestepEmbedSequential``: a list of layers; ResBlocks get the embedding, attention gets the cache."""

    def run(
        self, h: torch.Tensor, emb: torch.Tensor, ctx: _Ctx
    ) -> torch.Tensor:
        for layer in self:
            if isinstance(layer, ResBlock):
                h = layer(h, emb)
            elif isinstance(layer, AttentionBlock):
                ref = ctx.ref.kv[ctx.layer] if ctx.ref is not None else None
                h, own = layer(h, ref, ctx.ref.slot_mask if ctx.ref is not None else None)
                if ctx.collect is not None:
                    ctx.collect.append(own)
                ctx.layer += 1
            else:
                h = layer(h)
        return h


@dataclass
class _Ctx:
    ref: RefKV | None
    collect: list[tuple[torch.Tensor, torch.Tensor]] | None
    layer: int = 0


class UNet(nn.Module):
    """``UNetModel`` with CacheKV. Keys: ``time_embed``, ``input_blocks``, ``middle_block``, ``output_blocks``, ``out``."""

    def __init__(self, cfg: UNetConfig = FULL_UNET_CONFIG) -> None:
        super().__init__()
        self.cfg = cfg
        mc = cfg.model_channels
        ed = 4 * mc

        def heads(ch: int) -> int:
            return ch // cfg.num_head_channels if cfg.num_head_channels != -1 else cfg.num_heads

        self.time_embed = nn.Sequential(nn.Linear(mc, ed), nn.SiLU(), nn.Linear(ed, ed))
        self.input_blocks = nn.ModuleList([_Block([nn.Conv2d(cfg.in_channels, mc, 3, padding=1)])])
        chans = [mc]
        ch, ds = mc, 1
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_res_blocks):
                layers: list[nn.Module] = [ResBlock(ch, ed, mult * mc)]
                ch = mult * mc
                if ds in cfg.attention_resolutions:
                    layers.append(AttentionBlock(ch, heads(ch)))
                self.input_blocks.append(_Block(layers))
                chans.append(ch)
            if level != len(cfg.channel_mult) - 1:
                self.input_blocks.append(_Block([Downsample(ch)]))
                chans.append(ch)
                ds *= 2
        self.middle_block = _Block([ResBlock(ch, ed, ch), AttentionBlock(ch, heads(ch)), ResBlock(ch, ed, ch)])
        self.output_blocks = nn.ModuleList()
        for level, mult in reversed(list(enumerate(cfg.channel_mult))):
            for i in range(cfg.num_res_blocks + 1):
                layers = [ResBlock(ch + chans.pop(), ed, mc * mult)]
                ch = mc * mult
                if ds in cfg.attention_resolutions:
                    layers.append(AttentionBlock(ch, heads(ch)))
                if level and i == cfg.num_res_blocks:
                    layers.append(Upsample(ch))
                    ds //= 2
                self.output_blocks.append(_Block(layers))
        self.out = nn.Sequential(GroupNorm32(ch), nn.SiLU(), nn.Conv2d(mc, cfg.out_channels, 3, padding=1))

    def set_attention_backend(self, backend: str) -> None:
        """``"einsum"``: the official formulation (explicit (T, S) weights, float32 softmax); ``"sdpa"``:
        ``torch.nn.functional.scaled_dot_product_attention`` (fused kernels, far less memory on GPU; equal up to
        float re-association, see tests)."""
        if backend not in ("einsum", "sdpa"):
            raise ValueError(f"attention backend must be 'einsum' or 'sdpa', got {backend!r}")
        for m in self.modules():
            if isinstance(m, AttentionBlock):
                m.use_sdpa = backend == "sdpa"

    def attention_layers(self) -> list[str]:
        """Names of the attention layers in forward (= cache) order, e.g. ``input_blocks.3.1``."""
        return [n for n, m in self.named_modules() if isinstance(m, AttentionBlock)]

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        ref: RefKV | None = None,
        collect_kv: bool = False,
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]] | None]:
        """Predict the noise.

        Args:
            x: (B, in_channels, h, w) -- ``[z_t, z_lq]`` along channels for the main branch, ``[z_ref_j, 0]``
                for a reference pass.
            t: (B,) int64 timesteps (0 for a reference pass).
            ref: cached reference K/V to append in every attention layer (None: plain self-attention).
            collect_kv: also return each attention layer's own (k, v) (the reference pass).

        Returns:
            ``(eps, kv)``: eps (B, out_channels, h, w) in x's dtype; kv the per-layer list or None.
        """
        ctx = _Ctx(ref=ref, collect=[] if collect_kv else None)
        dtype = self.time_embed[0].weight.dtype
        emb = self.time_embed(timestep_embedding(t, self.cfg.model_channels).to(dtype))
        h = x.to(dtype)
        hs = []
        for block in self.input_blocks:
            h = block.run(h, emb, ctx)
            hs.append(h)
        h = self.middle_block.run(h, emb, ctx)
        for block in self.output_blocks:
            h = block.run(torch.cat([h, hs.pop()], dim=1), emb, ctx)
        return self.out(h).to(x.dtype), ctx.collect

    def reference_kv(self, ref_latents: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The CacheKV reference pass.

        Args:
            ref_latents: (R, z_channels, h, w) reference latents (one row per reference chunk).

        Returns:
            per attention layer ``(k, v)``, each (R*heads, head_ch, h_l*w_l).
        """
        pad = self.cfg.in_channels - ref_latents.shape[1]
        x = torch.cat([ref_latents, ref_latents.new_zeros(ref_latents.shape[0], pad, *ref_latents.shape[2:])], dim=1)
        t = torch.zeros(ref_latents.shape[0], dtype=torch.long, device=ref_latents.device)
        _, kv = self.forward(x, t, ref=None, collect_kv=True)
        assert kv is not None
        return kv


def stack_ref_kv(rows: Sequence[Sequence[list[tuple[torch.Tensor, torch.Tensor]]]]) -> RefKV:
    """Build a padded, masked :class:`RefKV` for a batch from per-reference caches.

    Args:
        rows: for batch row b, its references in order; for each reference the per-layer ``(k, v)`` with k, v
            each (heads_l, ch_l, T_l) (one reference, one row). Rows may have different reference counts,
            including 0, but every row's layers must agree.

    Returns:
        RefKV whose layer-l tensors are (B*heads_l, ch_l, N_max*T_l): reference j of row b occupies tokens
        ``[j*T_l, (j+1)*T_l)``; missing references are zeros hidden by ``slot_mask`` (None when all rows have
        N_max references).
    """
    counts = [len(r) for r in rows]
    n_max = max(counts) if counts else 0
    template = next(r[0] for r in rows if len(r) > 0) if n_max > 0 else None
    if template is None:
        raise ValueError("stack_ref_kv needs at least one reference in the batch")
    kv: list[tuple[torch.Tensor, torch.Tensor]] = []
    for layer, (k0, _) in enumerate(template):
        ks, vs = [], []
        for r in rows:
            pad = n_max - len(r)
            parts_k = [ref[layer][0] for ref in r] + [torch.zeros_like(k0)] * pad
            parts_v = [ref[layer][1] for ref in r] + [torch.zeros_like(k0)] * pad
            ks.append(torch.cat(parts_k, dim=-1))
            vs.append(torch.cat(parts_v, dim=-1))
        kv.append((torch.cat(ks, dim=0), torch.cat(vs, dim=0)))
    mask = None
    if min(counts) != n_max:
        mask = torch.arange(n_max)[None, :] < torch.tensor(counts)[:, None]
        mask = mask.to(template[0][0].device)
    return RefKV(kv=kv, slot_mask=mask)
