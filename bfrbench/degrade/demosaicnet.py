"""DemosaicNet (Gharbi et al., "Deep Joint Demosaicking and Denoising", SIGGRAPH Asia 2016), Bayer model.

Our implementation of the released Bayer network with the official parameter names, so the released
``bayer.pth`` loads strictly. Source of the layout: the ``demosaicnet`` package 0.0.14 (PyPI, MIT; Michaël
Gharbi), ``demosaicnet/modules.py`` ``BayerDemosaick``, vendored unchanged for Bayer input by
SamsungLabs/DT-BFR at commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd (``data_prep/demosaicnet``), which
builds it with ``BayerDemosaick(pad=1, tetra=False)``. The weight file is the same in both places
(SHA-256 a90f45c3...d7ff8d7, registered as ``demosaicnet-bayer``).

Architecture (input: a 3-channel RGB mosaic (N, 3, H, W), H and W even, values in [0, 1]):

* ``main_processor``: ``pack_mosaic`` Conv2d(3, 4, 2, stride 2), then ``conv1..conv15`` Conv2d 3x3 (4->64,
  64->64 ..., last 64->128), each followed by ReLU; padding 1 when ``pad`` (DT-BFR) else 0.
* ``filters, masks = f[:, :64], f[:, 64:]``; ``residual_predictor`` Conv2d(64, 12, 1) on ``filters * masks``.
* ``upsampler`` ConvTranspose2d(12, 3, 2, stride 2, groups 3) back to full resolution.
* the mosaic, centre-cropped to the upsampled size, is concatenated with it (6 channels) and
  ``fullres_processor`` = ``post_conv`` Conv2d(6, 64, 3) + ReLU + ``output`` Conv2d(64, 3, 1) gives RGB.

DT-BFR feeds the black-level-normalised 3-channel mosaic in RGB order (float32) and clips the output to [0, 1].
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bfrbench.errors import ArtifactError

__all__ = ["BayerDemosaicNet", "demosaicnet_demosaic", "load_demosaicnet"]


class BayerDemosaicNet(nn.Module):
    """The Bayer DemosaicNet. ``depth``/``width`` default to the released model (15, 64)."""

    def __init__(self, depth: int = 15, width: int = 64, pad: bool = True) -> None:
        super().__init__()
        self.depth, self.width, self.pad = depth, width, pad
        p = 1 if pad else 0
        layers: OrderedDict[str, nn.Module] = OrderedDict(pack_mosaic=nn.Conv2d(3, 4, 2, stride=2))
        for i in range(depth):
            n_in = 4 if i == 0 else width
            n_out = 2 * width if i == depth - 1 else width
            layers[f"conv{i + 1}"] = nn.Conv2d(n_in, n_out, 3, padding=p)
            layers[f"relu{i + 1}"] = nn.ReLU(inplace=True)
        self.main_processor = nn.Sequential(layers)
        self.residual_predictor = nn.Conv2d(width, 12, 1)
        self.upsampler = nn.ConvTranspose2d(12, 3, 2, stride=2, groups=3)
        self.fullres_processor = nn.Sequential(OrderedDict(
            post_conv=nn.Conv2d(6, width, 3, padding=p), post_relu=nn.ReLU(inplace=True),
            output=nn.Conv2d(width, 3, 1)))

    def forward(self, mosaic: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) RGB mosaic -> (N, 3, H', W') RGB (H' = H with ``pad``; smaller without)."""
        feats = self.main_processor(mosaic)
        filtered = feats[:, : self.width] * feats[:, self.width: 2 * self.width]
        up = self.upsampler(self.residual_predictor(filtered))
        dh, dw = mosaic.shape[-2] - up.shape[-2], mosaic.shape[-1] - up.shape[-1]
        top, left = dh // 2, dw // 2
        cropped = mosaic[..., top: mosaic.shape[-2] - (dh - top), left: mosaic.shape[-1] - (dw - left)]
        return self.fullres_processor(torch.cat([cropped, up], 1))


_CACHE: dict[tuple[str, str], BayerDemosaicNet] = {}
_LOCK = threading.Lock()


def load_demosaicnet(path: str | Path, *, device: str = "cpu", pad: bool = True) -> BayerDemosaicNet:
    """Build the network and load a state dict strictly (``weights_only=True``); cached per (path, device).

    Raises:
        ArtifactError: unreadable file, or keys/shapes that do not match the Bayer layout.
    """
    key = (str(Path(path).resolve()), f"{device}|{pad}")
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        try:
            sd = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any load failure is a bad file
            raise ArtifactError(f"{path}: cannot read DemosaicNet weights: {exc}") from None
        if not isinstance(sd, dict):
            raise ArtifactError(f"{path}: expected a state dict, got {type(sd).__name__}")
        width = int(sd["residual_predictor.weight"].shape[1]) if "residual_predictor.weight" in sd else 64
        depth = sum(1 for k in sd if k.startswith("main_processor.conv") and k.endswith(".weight"))
        net = BayerDemosaicNet(depth=depth or 15, width=width, pad=pad)
        try:
            net.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            raise ArtifactError(f"{path}: not a Bayer DemosaicNet state dict: {exc}") from None
        net = net.eval().to(device)
        _CACHE[key] = net
        return net


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def demosaicnet_demosaic(mosaic: np.ndarray, net: BayerDemosaicNet, *, device: str = "cpu",
                         dtype: torch.dtype = torch.float32, threads: int = 1) -> np.ndarray:
    """Demosaic a 3-channel mosaic as ``generate_LQ_from_HQ.demosaic(..., 'demosaicnet', 'GRBG')``.

    Args:
        mosaic: (H, W, 3) float RGB 3-channel mosaic in [0, 1] (H, W even).
        net: from :func:`load_demosaicnet`.
        device, dtype: where and in which precision the network runs (official: float32).
        threads: torch CPU threads during the forward (1 keeps outputs identical whatever the caller's
            thread count).
    Returns:
        float32 (H, W, 3) RGB clipped to [0, 1].
    """
    if mosaic.ndim != 3 or mosaic.shape[2] != 3 or mosaic.shape[0] % 2 or mosaic.shape[1] % 2:
        raise ValueError(f"DemosaicNet needs an (H, W, 3) mosaic with even H and W, got {mosaic.shape}")
    x = torch.from_numpy(np.ascontiguousarray(np.transpose(mosaic, (2, 0, 1)).astype(np.float32))).unsqueeze(0)
    if next(net.parameters()).dtype != dtype:  # never convert the (cached, shared) float32 net in place
        net = copy.deepcopy(net).to(dtype=dtype)
    with torch.no_grad(), _torch_threads(threads):
        y = net(x.to(device=device, dtype=dtype))
    out: np.ndarray = y.squeeze(0).float().cpu().numpy().transpose((1, 2, 0)).clip(0, 1)
    return out.astype(np.float32)
