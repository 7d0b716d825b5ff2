"""Identity Recovery Network (IRN).

paper: "we train a separate Identity Recovery Network and use its output to constrain the reverse diffusion
process" (abstract). Its architecture, input, output and loss were not reachable.

ours: the IRN regresses the identity the face-recognition network would see on the *clean* face from the
*degraded* face: ``IRN(LQ) ~ FR(HQ)``. It is a residual CNN (strided levels, global average pooling, linear head to
the FR embedding size) trained with the cosine distance ``1 - cos(IRN(LQ), FR(HQ))`` while FR stays frozen.
At inference its output is the identity target of the guided reverse step (guidance.py): the guidance pulls
``FR(decode(z0_hat))`` towards ``IRN(LQ)``. Why this form: the guidance needs an identity target that exists at
test time (no HQ), and regressing the FR embedding directly is the smallest network that provides one; an
image-to-image IRN would need a second decoder and its output would only be used through FR anyway.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from bfrbench.methods.clrface._blocks import Downsample, ResBlock, norm
from bfrbench.methods.clrface.config import IRNConfig

__all__ = ["IdentityRecoveryNetwork"]


class IdentityRecoveryNetwork(nn.Module):
    """(B, 3, H, W) LQ in [-1, 1] -> (B, embedding) predicted FR embedding of the clean face.

    The input is bilinearly resized to ``cfg.input_size`` first (antialiased when shrinking).
    """

    def __init__(self, cfg: IRNConfig, embedding: int) -> None:
        super().__init__()
        g = cfg.norm_groups
        chs = [cfg.base_channels * m for m in cfg.channel_mult]
        self.input_size = cfg.input_size
        self.conv_in = nn.Conv2d(3, chs[0], 3, padding=1)
        blocks: list[nn.Module] = []
        cin = chs[0]
        for i, c in enumerate(chs):
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResBlock(cin, c, g))
                cin = c
            if i < len(chs) - 1:
                blocks.append(Downsample(c))
        self.body = nn.Sequential(*blocks)
        self.norm_out = norm(cin, g)
        self.head = nn.Linear(cin, embedding)

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        if lq.shape[-1] != self.input_size or lq.shape[-2] != self.input_size:
            lq = F.interpolate(lq.float(), (self.input_size, self.input_size), mode="bilinear", align_corners=False,
                               antialias=lq.shape[-1] > self.input_size).to(lq.dtype)  # float32: no bf16 kernel
        h = F.silu(self.norm_out(self.body(self.conv_in(lq))))
        return self.head(h.mean(dim=(2, 3)))
