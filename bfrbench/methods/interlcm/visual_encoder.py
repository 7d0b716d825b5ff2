"""InterLCM's Visual Encoder: CLIP image tokens -> 77x768 prompt embeddings for the LCM UNet.

Source: InterLCM (Li et al., ICLR 2025), https://github.com/sen-mao/InterLCM commit
2940f43402d7e49cd8ef522c37dfbbb5f4522b15, ``basicsr/archs/visual_encoder.py`` (class ``VisualEncoder``),
restated in ../shared/fixtures/interlcm/README.md section 1. Written here from that description; the module
and parameter names (``blocks.N.*``) equal the official ones so the released ``params_ema`` dicts load strictly.

The network is 1-D: the 197 CLIP tokens are the *channels* and the 768 token features the *length*.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["FULL_VISUAL_ENCODER", "UPSAMPLE_LENGTHS", "VisualEncoder", "VisualEncoderConfig"]

#: the official hard-coded length map of the 1-D upsampling blocks (input length -> output length)
UPSAMPLE_LENGTHS: dict[int, int] = {768: 256, 256: 512, 512: 768}


@dataclass(frozen=True)
class VisualEncoderConfig:
    """Constructor arguments of the Visual Encoder (official names).

    Args:
        nf: base channel count.
        emb_dim: input channels = number of CLIP tokens (197 for ViT-B/16 at 224 px).
        ch_mult: channel multipliers per level (levels are walked from the last to the first).
        res_blocks: residual blocks per level.
        out_channels: output tokens (77, the length of SD's text embedding).
    """

    nf: int = 64
    emb_dim: int = 197
    ch_mult: tuple[int, ...] = field(default=(2, 4, 8))
    res_blocks: int = 2
    out_channels: int = 77

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ch_mult"] = list(self.ch_mult)
        return d


#: ``VisualEncoder(nf=64, emb_dim=197, ch_mult=[2,4,8], res_blocks=2, img_size=512)`` in inference_InterLCM.py
FULL_VISUAL_ENCODER = VisualEncoderConfig()


def _swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


def _group_norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=ch, eps=1e-6, affine=True)


class Upsample1D(nn.Module):
    """Nearest resize of the length axis by :data:`UPSAMPLE_LENGTHS` (PyTorch's legacy floor rule), then a k3 conv."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(ch, ch, kernel_size=3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        if n not in UPSAMPLE_LENGTHS:
            raise ValueError(f"Visual Encoder: length {n} is not one of {sorted(UPSAMPLE_LENGTHS)} "
                             "(the input must be CLIP ViT-B tokens of width 768)")
        return self.conv(F.interpolate(x, size=UPSAMPLE_LENGTHS[n], mode="nearest"))


class ResBlock1D(nn.Module):
    """``x + conv2(swish(GN2(conv1(swish(GN1(x))))))``; the skip goes through a 1x1 ``conv_out`` when channels change."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm1 = _group_norm(cin)
        self.conv1 = nn.Conv1d(cin, cout, kernel_size=3, stride=1, padding=1)
        self.norm2 = _group_norm(cout)
        self.conv2 = nn.Conv1d(cout, cout, kernel_size=3, stride=1, padding=1)
        self.conv_out = nn.Conv1d(cin, cout, kernel_size=1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(_swish(self.norm1(x)))
        h = self.conv2(_swish(self.norm2(h)))
        return h + (self.conv_out(x) if self.conv_out is not None else x)


class AttnBlock1D(nn.Module):
    """Single-head self-attention over the length axis: ``x + proj_out(v @ softmax(q^T k / sqrt(C))^T)``."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.norm = _group_norm(ch)
        self.q = nn.Conv1d(ch, ch, kernel_size=1)
        self.k = nn.Conv1d(ch, ch, kernel_size=1)
        self.v = nn.Conv1d(ch, ch, kernel_size=1)
        self.proj_out = nn.Conv1d(ch, ch, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        q, k, v = self.q(h), self.k(h), self.v(h)  # (B, C, L)
        scores = torch.bmm(q.transpose(1, 2), k) * (int(q.shape[1]) ** -0.5)  # (B, L_i, L_j)
        attn = scores.softmax(dim=2)
        out = torch.bmm(v, attn.transpose(1, 2))  # out[c, i] = sum_j v[c, j] attn[i, j]
        return x + self.proj_out(out)


class VisualEncoder(nn.Module):
    """The Visual Encoder: (B, emb_dim, 768) float tokens -> (B, out_channels, 768) prompt embeddings."""

    def __init__(self, cfg: VisualEncoderConfig = FULL_VISUAL_ENCODER) -> None:
        super().__init__()
        self.cfg = cfg
        ch = cfg.nf * cfg.ch_mult[-1]
        blocks: list[nn.Module] = [
            nn.Conv1d(cfg.emb_dim, ch, kernel_size=3, stride=1, padding=1),
            Upsample1D(ch), ResBlock1D(ch, ch), AttnBlock1D(ch), ResBlock1D(ch, ch),
        ]
        for level in reversed(range(len(cfg.ch_mult))):
            cout = cfg.nf * cfg.ch_mult[level]
            for _ in range(cfg.res_blocks):
                blocks.append(ResBlock1D(ch, cout))
                ch = cout
                if cout == 512:  # the official rule: attention after every res block of a 512-channel level
                    blocks.append(AttnBlock1D(ch))
            if level != 0:
                blocks.append(Upsample1D(ch))
        blocks += [_group_norm(ch), nn.Conv1d(ch, cfg.out_channels, kernel_size=3, stride=1, padding=1)]
        self.blocks = nn.ModuleList(blocks)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Args: tokens (B, emb_dim, 768) float. Returns: (B, out_channels, 768) in the same dtype."""
        x = tokens
        for block in self.blocks:
            x = block(x)
        return x
