"""LPIPS (Zhang et al., CVPR 2018) through the ``lpips`` package 0.1.4 (github.com/richzhang/PerceptualSimilarity).

The network is ``lpips.LPIPS(net=..., version="0.1")``: the package's backbone wrapper and its learned
linear heads (``weights/v0.1/{vgg,alex}.pth``, shipped in the wheel). The ImageNet backbone (torchvision
VGG16 / AlexNet) is *not* fetched by torchvision here: it is resolved through bfrbench's weights registry
(``torchvision-vgg16`` / ``torchvision-alexnet``, download.pytorch.org files) and loaded into the
package's slices (``features.<i>`` of the torchvision checkpoint -> ``slice<k>.<i>``). Inputs: RGB uint8
mapped to [-1, 1] (x / 127.5 - 1) inside, as ``lpips`` expects. Lower is better; range [0, ~1].
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.metrics._base import ImageItem, PairMetric, Shared
from bfrbench.metrics._stable import NETWORK_DIGITS
from bfrbench.metrics.psnr_ssim import _cached_pairs

__all__ = ["LPIPS", "build_lpips", "lpips_distances", "BACKBONE_WEIGHTS"]

BACKBONE_WEIGHTS = {"vgg": "torchvision-vgg16", "alex": "torchvision-alexnet"}


@lru_cache(maxsize=4)
def build_lpips(net: str, backbone_path: str, device: str = "cpu") -> Any:
    """An ``lpips.LPIPS`` model with the backbone weights from ``backbone_path`` (a torchvision state dict)."""
    import lpips as lpips_pkg
    import torch

    model = lpips_pkg.LPIPS(net=net, version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    state = torch.load(backbone_path, map_location="cpu", weights_only=True)
    target = model.net.state_dict()
    new = {}
    for key in target:
        _, idx, param = key.split(".", 2)  # slice<k>.<i>.<weight|bias>
        src = f"features.{idx}.{param}"
        if src not in state:
            raise ConfigError(f"{backbone_path}: not a torchvision {net} checkpoint (missing {src!r})")
        new[key] = state[src]
    model.net.load_state_dict(new)
    return model.eval().to(device)


def lpips_distances(model: Any, a: list[np.ndarray], b: list[np.ndarray], *, device: str = "cpu",
                    batch_size: int = 8) -> np.ndarray:
    """(N,) float64 distances of an ``lpips.LPIPS`` model between RGB uint8 (H, W, 3) pairs, in batches."""
    import torch

    out = []
    for s in range(0, len(a), batch_size):
        x = torch.from_numpy(np.stack(a[s:s + batch_size])).permute(0, 3, 1, 2).float() / 127.5 - 1
        y = torch.from_numpy(np.stack(b[s:s + batch_size])).permute(0, 3, 1, 2).float() / 127.5 - 1
        with torch.inference_mode():
            d = model(x.to(device), y.to(device))
        out.append(d.reshape(-1).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


class LPIPS(PairMetric):
    """Learned perceptual image patch similarity (v0.1 linear heads)."""
    stored_digits: ClassVar[int | dict[str, int] | None] = NETWORK_DIGITS  # network forward: not bit-stable

    name: ClassVar[str] = "lpips"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float | None, float | None]] = (0.0, 1.0)
    variants: ClassVar[dict[str, str]] = {
        "vgg": "VGG16 backbone + v0.1 linear heads (default)",
        "alex": "AlexNet backbone + v0.1 linear heads",
    }
    default_variant: ClassVar[str] = "vgg"
    variant_weights: ClassVar[dict[str, tuple[str, ...]]] = {"vgg": ("torchvision-vgg16",),
                                                             "alex": ("torchvision-alexnet",)}
    reference: ClassVar[str] = "lpips 0.1.4 LPIPS(net, version='0.1') with torchvision ImageNet backbones"
    paper: ClassVar[str] = "Zhang, Isola, Efros, Shechtman, Wang, CVPR 2018"

    def __init__(self, variant: str | None = None, *, device: str = "cpu", batch_size: int = 8,
                 backbone_path: str | Path | None = None) -> None:
        super().__init__(variant, device=device, batch_size=batch_size)
        self.backbone_path = str(backbone_path) if backbone_path is not None else None

    def _model(self) -> Any:
        path = self.backbone_path
        if path is None:
            from bfrbench.weights import resolve

            path = str(resolve(BACKBONE_WEIGHTS[self.variant]))
        return build_lpips(self.variant, path, self.device)

    def distances(self, a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
        """(N,) float64 LPIPS of RGB uint8 (H, W, 3) pairs."""
        return lpips_distances(self._model(), a, b, device=self.device, batch_size=self.batch_size)

    def cache_id(self) -> str:
        extra = f"/custom-backbone:{self.backbone_path}" if self.backbone_path else ""
        return super().cache_id() + extra

    def score_pairs(self, restored: list[ImageItem], hq: list[ImageItem], shared: Shared) -> tuple[np.ndarray, list[str | None]]:
        vals = _cached_pairs(shared, self.cache_id(), restored, hq, self.distances)
        return vals, [None] * len(vals)
