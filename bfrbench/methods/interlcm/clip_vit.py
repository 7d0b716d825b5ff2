"""CLIP ViT image tokens as InterLCM uses them, and InterLCM's CLIP input preprocessing.

Sources: OpenAI CLIP (github.com/openai/CLIP, ``clip/model.py``: VisionTransformer, LayerNorm, QuickGELU,
ResidualAttentionBlock) and InterLCM's patched forward (github.com/sen-mao/InterLCM commit
2940f43402d7e49cd8ef522c37dfbbb5f4522b15, ``basicsr/utils/clip_util.py``; preprocessing in
``inference_InterLCM.py``), as restated in ../shared/fixtures/interlcm/README.md section 2. Written here from
that description. Parameter names equal OpenAI's state-dict names without the ``visual.`` prefix, so the
``ViT-B-16.pt`` weights load strictly.

The patched forward differs from OpenAI's: ``ln_post`` is applied to **all** tokens (CLS + patches) and the
projection ``proj`` is **not** applied, so ViT-B/16 gives (B, 197, 768).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["CLIP_MEAN", "CLIP_STD", "VIT_B_16", "CLIPVisionConfig", "CLIPVisionTokens", "clip_preprocess"]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class CLIPVisionConfig:
    """Architecture of the visual tower (OpenAI's ``VisionTransformer`` arguments)."""

    input_resolution: int = 224
    patch_size: int = 16
    width: int = 768
    layers: int = 12
    heads: int = 12
    output_dim: int = 512

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: OpenAI CLIP ViT-B/16 (what ``clip.load('ViT-B/16')`` builds from the state dict)
VIT_B_16 = CLIPVisionConfig()


class _LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 and cast back (OpenAI's, which matters for the fp16 CUDA path)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.float() if self.weight is not None else None
        b = self.bias.float() if self.bias is not None else None
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).to(x.dtype)


class _MLP(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width)
        self.c_proj = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c_fc(x)
        return self.c_proj(h * torch.sigmoid(1.702 * h))  # QuickGELU


class _Block(nn.Module):
    """Pre-LN transformer block on (L, N, D) sequences."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)  # in_proj_weight stacks q, k, v
        self.ln_1 = _LayerNorm(width)
        self.mlp = _MLP(width)
        self.ln_2 = _LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class _Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.resblocks = nn.Sequential(*[_Block(width, heads) for _ in range(layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblocks(x)


class CLIPVisionTokens(nn.Module):
    """InterLCM's CLIP image encoder: (B, 3, R, R) normalised pixels -> (B, 1 + (R/p)^2, width) tokens."""

    def __init__(self, cfg: CLIPVisionConfig = VIT_B_16) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        grid = cfg.input_resolution // cfg.patch_size
        self.conv1 = nn.Conv2d(3, w, kernel_size=cfg.patch_size, stride=cfg.patch_size, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(w))
        self.positional_embedding = nn.Parameter(torch.zeros(grid * grid + 1, w))
        self.ln_pre = _LayerNorm(w)
        self.transformer = _Transformer(w, cfg.layers, cfg.heads)
        self.ln_post = _LayerNorm(w)
        self.proj = nn.Parameter(torch.zeros(w, cfg.output_dim))  # present in the checkpoint, unused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (B, 3, R, R) in the dtype of ``conv1``. Returns: (B, tokens, width), same dtype."""
        x = self.conv1(x.to(self.conv1.weight.dtype))
        x = x.flatten(2).transpose(1, 2)  # (B, grid^2, width)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        x = self.transformer(x.transpose(0, 1)).transpose(0, 1)
        return self.ln_post(x)


def clip_preprocess(x: torch.Tensor, *, size: int = 224, antialias: bool = False) -> torch.Tensor:
    """InterLCM's CLIP input transform of the LQ tensor.

    ``(x + 1) / 2``, bicubic resize so the shorter side is ``size`` (on the float tensor, no clamping), centre crop,
    per-channel CLIP normalisation. ``antialias=False`` reproduces torchvision <= 0.16 (the official pin, torch
    1.13 / torchvision 0.14); ``True`` reproduces torchvision >= 0.17's tensor ``Resize`` default.

    Args:
        x: (B, 3, H, W) float RGB in [-1, 1].

    Returns:
        (B, 3, size, size) float32.
    """
    x01 = (x.float() + 1.0) / 2.0
    h, w = x01.shape[-2:]
    if h <= w:
        nh, nw = size, int(size * w / h)
    else:
        nh, nw = int(size * h / w), size
    if (nh, nw) != (h, w):
        x01 = F.interpolate(x01, size=(nh, nw), mode="bicubic", align_corners=False, antialias=antialias)
    top, left = round((nh - size) / 2.0), round((nw - size) / 2.0)
    x01 = x01[..., top:top + size, left:left + size]
    mean = torch.tensor(CLIP_MEAN, dtype=x01.dtype, device=x01.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=x01.dtype, device=x01.device).view(1, 3, 1, 1)
    return (x01 - mean) / std
