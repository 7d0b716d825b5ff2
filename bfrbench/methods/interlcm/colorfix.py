"""Colour correction of the restored face towards the LQ input (InterLCM's ``--colorfix_type``).

Source: InterLCM (github.com/sen-mao/InterLCM commit 2940f43402d7e49cd8ef522c37dfbbb5f4522b15),
``scripts/wavelet_color_fix.py`` (from StableSR), restated in ../shared/fixtures/interlcm/README.md section 3.8.
Written here from that description.

* ``wavelet`` (the paper's setting): high frequencies of the restored image + low frequencies of the LQ image,
  from a 5-level dilated 3x3 binomial ("a trous") decomposition with replicate padding.
* ``adain``: per-channel mean/std transfer (std from the unbiased variance + 1e-5).
* ``none``: the raw decoder output.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch.nn import functional as F

__all__ = ["COLOR_FIXES", "ColorFix", "adain_color_fix", "color_fix", "wavelet_color_fix", "wavelet_decompose"]

ColorFix = Literal["wavelet", "adain", "none"]
COLOR_FIXES: tuple[str, ...] = ("wavelet", "adain", "none")


def _blur(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Depthwise ``[[1,2,1],[2,4,2],[1,2,1]]/16`` with dilation ``radius`` after replicate padding by ``radius``."""
    k1 = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device)
    kernel = (k1[:, None] * k1[None, :] / 16.0).expand(x.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(x, (radius,) * 4, mode="replicate"), kernel, groups=x.shape[1], dilation=radius)


def wavelet_decompose(x: torch.Tensor, levels: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Split (B, C, H, W) into (high, low) with ``x == high + low`` (up to rounding); radii 1, 2, 4, ... ."""
    high = torch.zeros_like(x)
    cur = x
    for level in range(levels):
        low = _blur(cur, 2 ** level)
        high = high + (cur - low)
        cur = low
    return high, cur


def wavelet_color_fix(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """High frequencies of ``content`` (restored) + low frequencies of ``style`` (LQ); both (B, 3, H, W) float."""
    return wavelet_decompose(content)[0] + wavelet_decompose(style)[1]


def adain_color_fix(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per image and channel: ``(c - mean_c) / std_c * std_s + mean_s``; std = sqrt(unbiased var + eps)."""
    def stats(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = t.reshape(t.shape[0], t.shape[1], -1)
        return flat.mean(dim=2)[..., None, None], (flat.var(dim=2) + eps).sqrt()[..., None, None]

    cm, cs = stats(content)
    sm, ss = stats(style)
    return (content - cm) / cs * ss + sm


def color_fix(kind: str, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Apply ``kind`` (one of :data:`COLOR_FIXES`)."""
    if kind == "wavelet":
        return wavelet_color_fix(content, style)
    if kind == "adain":
        return adain_color_fix(content, style)
    if kind == "none":
        return content
    raise ValueError(f"color_fix must be one of {', '.join(COLOR_FIXES)}, got {kind!r}")
