"""VQFR's identity metric ("Deg.") and its cosine: variants ``deg:vqfr`` and ``ids:vqfr``.

Source: TencentARC/VQFR ``metric_paper/calculate_cos_dist.py`` (commit 239c77a78152473eca83270c40be083bb0ae0f4a),
network ``resnet_face18(use_se=False)`` of ronghuaiyang/arcface-pytorch ``models/resnet.py`` with
``config/config.py`` (``backbone='resnet18'``, ``use_se=False``, input (1, 128, 128); commit
47ace80b128042cd8d2efd408f55c5a3e156b032), weights ``resnet18_110.pth`` (saved from ``DataParallel``: keys
start with ``module.``).

Per pair (restored, GT), as the script does:

1. each image read as 8-bit grayscale by OpenCV (``cv2.imread(path, 0)``; here the decoded RGB image is
   re-encoded as PNG and decoded with ``IMREAD_GRAYSCALE``, OpenCV's own path for a PNG file), resized to
   128x128 with ``INTER_LINEAR`` (whole 512 image, no crop), float32 (x - 127.5) / 127.5, shape (1, 128, 128);
2. both through the network (eval mode) -> 512-d features;
3. cos = x1 . x2 / (|x1| |x2|); Deg. = arccos(cos) / pi * 180.
4. Pairs under 1 degree are "almost identical to original": the script leaves them out of the mean and prints
   their count. ``deg:vqfr`` stores every per-image angle; its summary mean leaves those pairs out and
   summary.json reports ``identical_count`` (the leaderboard recomputes plain means from per-image values).

Architecture (``ResNetFace`` with ``IRBlock``, layers [2, 2, 2, 2]): conv3x3(1->64) - BN - PReLU - maxpool 2;
4 stages of IR blocks (BN0 - conv3x3 - BN1 - PReLU - conv3x3(stride) - BN2, + shortcut (1x1 conv + BN when
the shape changes), then the same PReLU) with 64/128/256/512 channels, strides 1/2/2/2; BN4; dropout (identity
in eval); flatten 512*8*8; fc5 -> 512; BN5 (1-d).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bfrbench.errors import ConfigError, WeightsError
from bfrbench.metrics._base import ImageItem, PairMetric, Shared

__all__ = ["build_resnet_face18", "load_resnet_face18", "vqfr_gray128", "VQFREmbedder", "vqfr_angles", "cos_deg",
           "WEIGHT_NAME", "IDENTICAL_DEGREES"]

WEIGHT_NAME = "arcface-pytorch-resnet18_110"
IDENTICAL_DEGREES = 1.0


def build_resnet_face18(width: int = 64) -> Any:
    """arcface-pytorch ``resnet_face18(use_se=False)`` as a torch module (``width`` 64 = the real network;
    smaller widths keep the key layout for tiny tests). Input (N, 1, 128, 128) float32 -> (N, 8 * width) features.
    """
    import torch
    from torch import nn

    class IRBlock(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.bn0 = nn.BatchNorm2d(cin)
            self.conv1 = nn.Conv2d(cin, cin, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cin)
            self.prelu = nn.PReLU()
            self.conv2 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample: nn.Module | None = (
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                if stride != 1 or cin != cout else None)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(self.bn0(x))))))
            res = x if self.downsample is None else self.downsample(x)
            return self.prelu(out + res)  # the same PReLU again, as IRBlock.forward

    class ResNetFace18(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w = width
            self.conv1 = nn.Conv2d(1, w, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(w)
            self.prelu = nn.PReLU()
            self.maxpool = nn.MaxPool2d(2, 2)

            def stage(cin: int, cout: int, stride: int) -> nn.Sequential:
                return nn.Sequential(IRBlock(cin, cout, stride), IRBlock(cout, cout, 1))

            self.layer1 = stage(w, w, 1)
            self.layer2 = stage(w, 2 * w, 2)
            self.layer3 = stage(2 * w, 4 * w, 2)
            self.layer4 = stage(4 * w, 8 * w, 2)
            self.bn4 = nn.BatchNorm2d(8 * w)
            self.dropout = nn.Dropout()
            self.fc5 = nn.Linear(8 * w * 8 * 8, 8 * w)
            self.bn5 = nn.BatchNorm1d(8 * w)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.maxpool(self.prelu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            x = self.dropout(self.bn4(x)).flatten(1)
            return self.bn5(self.fc5(x))

    return ResNetFace18()


def load_resnet_face18(state: dict[str, Any], *, source: str = WEIGHT_NAME) -> Any:
    """The network in eval mode with ``state`` loaded strictly (``module.`` prefixes of DataParallel removed);
    the width is read from ``conv1.weight`` (64 in ``resnet18_110.pth``; tiny test checkpoints use less).

    Raises:
        WeightsError: missing or unexpected keys or wrong shapes (names the checkpoint ``source``).
    """
    sd = {(k[7:] if k.startswith("module.") else k): v for k, v in state.items()}
    if not isinstance(state, dict) or "conv1.weight" not in sd:
        raise WeightsError(f"{source}: not an arcface-pytorch resnet_face18 state dict (no conv1.weight)")
    net = build_resnet_face18(int(sd["conv1.weight"].shape[0]))
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{source}: not an arcface-pytorch resnet_face18 (use_se=False) state dict: "
                           f"{str(exc).splitlines()[0]} ...") from None
    return net.eval()


def vqfr_gray128(image: np.ndarray) -> np.ndarray:
    """(1, 128, 128) float32 network input of an RGB uint8 (H, W, 3) image, as ``load_image`` of the script."""
    import cv2

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise ConfigError("deg:vqfr: could not encode the image as PNG")
    gray = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise ConfigError("deg:vqfr: could not decode the PNG-encoded image as grayscale")
    gray = cv2.resize(gray, (128, 128), interpolation=cv2.INTER_LINEAR)
    x = gray[None].astype(np.float32)
    x -= np.float32(127.5)
    x /= np.float32(127.5)
    return x


class VQFREmbedder:
    """resnet_face18 features of images (float32 (N, D)); ``net`` from :func:`load_resnet_face18`."""

    def __init__(self, net: Any, *, device: str = "cpu", batch_size: int = 8) -> None:
        self.net = net.to(device)
        self.device = device
        self.batch_size = batch_size

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        import torch

        out = []
        for s in range(0, len(images), self.batch_size):
            x = torch.from_numpy(np.stack([vqfr_gray128(im) for im in images[s:s + self.batch_size]]))
            with torch.no_grad():
                out.append(self.net(x.to(self.device)).float().cpu().numpy())
        return np.concatenate(out).astype(np.float32)


def vqfr_angles(e_restored: np.ndarray, e_gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cosine, degrees) per row of two (N, D) float32 feature arrays, in float32 as the script's numpy code."""
    e_restored, e_gt = np.asarray(e_restored, np.float32), np.asarray(e_gt, np.float32)
    cos = np.array([np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)) for a, b in zip(e_gt, e_restored)],
                   dtype=np.float32)
    with np.errstate(invalid="ignore"):
        deg = np.arccos(cos).astype(np.float64) / np.pi * 180.0
    return cos.astype(np.float64), deg


_NETS: dict[tuple[str, str], VQFREmbedder] = {}


def _embedder(device: str, batch_size: int) -> tuple[VQFREmbedder, str]:
    from bfrbench.weights import expected_sha256, load_checkpoint, resolve

    key = (device, str(batch_size))
    if key not in _NETS:
        resolve(WEIGHT_NAME)  # verifies (or records, trust on first use) the SHA-256
        _NETS[key] = VQFREmbedder(load_resnet_face18(load_checkpoint(WEIGHT_NAME)), device=device,
                                  batch_size=batch_size)
    return _NETS[key], str(expected_sha256(WEIGHT_NAME))


def cos_deg(metric: PairMetric, restored: list[ImageItem], hq: list[ImageItem],
            shared: Shared) -> tuple[np.ndarray, np.ndarray]:
    """(cosine, degrees) float64 (N,) of restored/HQ pairs with the registered resnet_face18 weights; the
    features go through the shared feature cache (keyed by the weights' SHA-256)."""
    emb, sha = _embedder(metric.device, metric.batch_size)
    ident = f"embed/vqfr-resnet_face18/{sha}/gray128/v1"
    er = np.stack(shared.get(ident, restored, emb.embed))
    eh = np.stack(shared.get(ident, hq, emb.embed))
    return vqfr_angles(er, eh)
