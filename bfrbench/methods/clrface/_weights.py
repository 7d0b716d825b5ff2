"""Weight files the CLR-Face reimplementation uses (catalogue module of :mod:`bfrbench.weights`).

CLR-Face itself has no published checkpoint (train one: docs/methods/clrface.md). The identity guidance needs a
differentiable face-recognition network: GFPGAN's ArcFace ResNet-18 (release v0.1.0 of TencentARC/GFPGAN, linked
from its README's training section). GFPGAN publishes no SHA-256: the first verified download records one.
"""

from __future__ import annotations

from bfrbench.weights import WeightFile

WEIGHTS: list[WeightFile] = [
    WeightFile(
        name="arcface-resnet18-gfpgan", filename="arcface_resnet18.pth",
        urls=("https://github.com/TencentARC/GFPGAN/releases/download/v0.1.0/arcface_resnet18.pth",),
        license="Apache-2.0 (GFPGAN repository); see its README",
        source="ArcFace ResNet-18 (IRBlock, 128x128 grey input) from GFPGAN (Wang et al., CVPR 2021), used by "
               "clrface for the identity gradient",
        note="SHA-256 not published by GFPGAN (the first verified download records it); a torch state dict "
             "(keys may carry a 'module.' prefix) that loads with weights_only=True"),
]
