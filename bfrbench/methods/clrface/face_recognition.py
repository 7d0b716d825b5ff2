"""Differentiable face-recognition network for the identity gradient: GFPGAN's ArcFace ResNet-18 layout.

paper: gradients "from a face-recognition network" are added to the masked latent features (abstract); which
network was not reachable. ours: the ``ResNetArcFace`` of GFPGAN (TencentARC/GFPGAN,
``gfpgan/archs/arcface_arch.py`` at commit 996d1e3df972438bfffa87993f0f21d242125bdf; IRBlock, layers 2-2-2-2,
``use_se=False`` as in ``options/train_gfpgan_v1.yml``), because it is a torch network with a direct public
checkpoint (``arcface_resnet18.pth``, GFPGAN release v0.1.0, registered here as ``arcface-resnet18-gfpgan``)
that BFR methods already use for identity losses. The bfrbench identity *metrics* use insightface ONNX or dlib,
which are not differentiable torch models.

Layout (parameter names match the checkpoint, so it loads strictly): ``conv1`` 3x3 (1 -> w0), ``bn1``,
``prelu``, 2x2 max-pool, four stages of IRBlocks (``bn0, conv1, bn1, prelu, conv2, bn2`` and a 1x1-conv +
BN ``downsample`` when the stride or width changes), ``bn4``, dropout, ``fc5`` (w3 * (s/16)^2 -> 512), ``bn5``.
Input: GFPGAN's ``gray_resize_for_identity``: grey = 0.2989 R + 0.5870 G + 0.1140 B of the [-1, 1] image,
bilinearly resized (``align_corners=False``) to 128x128. Written from that description, not copied.

``FRConfig(widths=..., layers=..., input_size=...)`` shrinks the same layout for tests (random weights).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from bfrbench.errors import WeightsError
from bfrbench.methods.clrface.config import FRConfig

__all__ = ["ResNetArcFace", "build_fr", "gray_resize", "identity_distance", "init_seeded_"]


class _IRBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn0 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cin, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.prelu = nn.PReLU()
        self.conv2 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(self.bn0(x))))))
        res = self.downsample(x) if self.downsample is not None else x
        return self.prelu(out + res)


class ResNetArcFace(nn.Module):
    """(B, 1, s, s) grey in [-1, 1] -> (B, embedding) identity features (not normalised)."""

    def __init__(self, cfg: FRConfig) -> None:
        super().__init__()
        w = list(cfg.widths)
        self.conv1 = nn.Conv2d(1, w[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w[0])
        self.prelu = nn.PReLU()
        self.maxpool = nn.MaxPool2d(2, 2)
        cin = w[0]
        for i, (c, n) in enumerate(zip(w, cfg.layers)):
            blocks = []
            for j in range(n):
                blocks.append(_IRBlock(cin, c, 2 if (j == 0 and i > 0) else 1))
                cin = c
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.bn4 = nn.BatchNorm2d(cin)
        self.dropout = nn.Dropout()
        side = cfg.input_size // 16
        self.fc5 = nn.Linear(cin * side * side, cfg.embedding)
        self.bn5 = nn.BatchNorm1d(cfg.embedding)
        self.input_size = cfg.input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.prelu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        x = self.dropout(self.bn4(x)).flatten(1)
        return self.bn5(self.fc5(x))


def gray_resize(img: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 3, H, W) RGB in [-1, 1] -> (B, 1, size, size) grey, bilinear, align_corners=False (GFPGAN)."""
    g = 0.2989 * img[:, 0] + 0.5870 * img[:, 1] + 0.1140 * img[:, 2]
    return F.interpolate(g[:, None], (size, size), mode="bilinear", align_corners=False)


def identity_distance(fr: ResNetArcFace, img: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image cosine distance ``1 - cos(FR(img), target)``: img (B, 3, H, W) in [-1, 1], target (B, D) -> (B,)."""
    dtype = next(fr.parameters()).dtype
    emb = fr(gray_resize(img.float(), fr.input_size).to(dtype))
    return 1.0 - F.cosine_similarity(emb.float(), target.float(), dim=1)


def init_seeded_(module: nn.Module, seed: int) -> nn.Module:
    """Deterministic random weights from ``torch.Generator().manual_seed(seed)`` (no global RNG): conv/linear
    weights ~ N(0, 1/fan_in), biases 0, norm scales 1 and shifts 0, PReLU slopes 0.25. For tests only."""
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.ndim >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)
            elif name.endswith("prelu.weight"):
                p.fill_(0.25)
            elif name.endswith("weight"):
                p.fill_(1.0)
            else:
                p.zero_()
    return module


def build_fr(cfg: FRConfig, weights_override: str | None = None) -> tuple[ResNetArcFace, str | None]:
    """The frozen FR network in eval mode and the path of its weights (None: seeded random, tests only).

    ``cfg.weights`` (or ``weights_override``) is a weights-registry name or a file (``.pth`` via
    ``torch.load(weights_only=True)`` or ``.safetensors``); a ``module.`` prefix (DataParallel) is stripped and the
    state dict must match exactly.

    Raises:
        MissingWeightsError: a registered file is not downloaded (message says how).
        WeightsError: the file's keys or shapes do not match the configured layout.
    """
    from bfrbench.weights import all_weights, load_checkpoint, resolve

    net = ResNetArcFace(cfg)
    ref = weights_override or cfg.weights
    path: str | None = None
    if ref is None:
        init_seeded_(net, cfg.random_seed)
    else:
        p = resolve(ref) if ref in all_weights() else Path(ref)
        path = str(p)
        sd = load_checkpoint(p)
        if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
            sd = sd["state_dict"]
        if not isinstance(sd, dict):
            raise WeightsError(f"{p}: expected a state dict of tensors, got {type(sd).__name__}")
        sd = {(k.removeprefix("module.")): v for k, v in sd.items()}
        try:
            net.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[:3]
            raise WeightsError(f"{p}: not a ResNetArcFace checkpoint for widths {list(cfg.widths)}, layers "
                               f"{list(cfg.layers)}, input {cfg.input_size}: {' '.join(first)}") from None
    net.eval()
    for q in net.parameters():
        q.requires_grad_(False)
    return net, path
