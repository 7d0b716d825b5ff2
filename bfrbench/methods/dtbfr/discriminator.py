"""U-Net discriminator with spectral normalisation, as DT-BFR fine-tunes SwinIR against.

Source: SamsungLabs/DT-BFR commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd, ``trainer.py`` builds
``basicsr/archs/discriminator_arch.py::UNetDiscriminatorSN(3, num_feat=64, skip_connection=True)`` (the
Real-ESRGAN discriminator, Wang et al. ICCVW 2021, Sec. 4.2). Written from the architecture facts, not copied:

* ``conv0``: 3x3 conv (bias) in -> F; ``conv1..3``: 4x4 stride-2 convs (no bias) F -> 2F -> 4F -> 8F;
* ``conv4..6``: 3x3 convs (no bias) after a x2 bilinear upsample (``align_corners=False``) 8F -> 4F -> 2F -> F,
  each output plus the encoder feature of the same size when ``skip_connection``;
* ``conv7``, ``conv8``: 3x3 F -> F (no bias); ``conv9``: 3x3 F -> 1 (bias), the per-pixel logit.
* LeakyReLU 0.2 after every conv but ``conv9``; ``conv1..conv8`` are spectrally normalised with PyTorch's
  ``torch.nn.utils.spectral_norm`` (dim 0, one power iteration per forward in train mode, eps 1e-12), so the
  state dict holds ``convK.weight_orig`` plus the buffers ``convK.weight_u`` [out] and ``convK.weight_v``
  [in*kh*kw] (the layout in ``layout_swinir.json``'s ``discriminator`` entry).

The official fine-tuning keeps the discriminator in train mode throughout, so every forward updates
``weight_u``/``weight_v`` (three forwards per micro-batch); :mod:`bfrbench.methods.dtbfr.train` does the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from bfrbench.errors import ConfigError

__all__ = ["UNetDiscriminatorSN", "load_discriminator_state"]

_SN_LAYERS = tuple(f"conv{i}" for i in range(1, 9))


class UNetDiscriminatorSN(nn.Module):
    """Per-pixel real/fake logits of an image.

    Args:
        num_in_ch: input channels (3).
        num_feat: base width F (official 64; the fine-tuning fixture uses 8).
        skip_connection: add encoder features to the decoder (official True).

    Input (B, num_in_ch, H, W) float with H, W multiples of 8 (images in [0, 1] in DT-BFR);
    output (B, 1, H, W) logits of the same dtype.
    """

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64, skip_connection: bool = True) -> None:
        super().__init__()
        if num_in_ch < 1 or num_feat < 1:
            raise ConfigError(f"num_in_ch and num_feat must be >= 1, got {num_in_ch}, {num_feat}")
        self.num_in_ch, self.num_feat, self.skip_connection = num_in_ch, num_feat, skip_connection
        sn = nn.utils.spectral_norm
        f = num_feat
        self.conv0 = nn.Conv2d(num_in_ch, f, 3, 1, 1)
        self.conv1 = sn(nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False))
        self.conv2 = sn(nn.Conv2d(2 * f, 4 * f, 4, 2, 1, bias=False))
        self.conv3 = sn(nn.Conv2d(4 * f, 8 * f, 4, 2, 1, bias=False))
        self.conv4 = sn(nn.Conv2d(8 * f, 4 * f, 3, 1, 1, bias=False))
        self.conv5 = sn(nn.Conv2d(4 * f, 2 * f, 3, 1, 1, bias=False))
        self.conv6 = sn(nn.Conv2d(2 * f, f, 3, 1, 1, bias=False))
        self.conv7 = sn(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv8 = sn(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(f, 1, 3, 1, 1)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-able)."""
        return {"num_in_ch": self.num_in_ch, "num_feat": self.num_feat, "skip_connection": self.skip_connection}

    @staticmethod
    def _act(x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, negative_slope=0.2)

    @staticmethod
    def _up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e0 = self._act(self.conv0(x))
        e1 = self._act(self.conv1(e0))
        e2 = self._act(self.conv2(e1))
        e3 = self._act(self.conv3(e2))
        d = self._act(self.conv4(self._up(e3)))
        if self.skip_connection:
            d = d + e2
        d = self._act(self.conv5(self._up(d)))
        if self.skip_connection:
            d = d + e1
        d = self._act(self.conv6(self._up(d)))
        if self.skip_connection:
            d = d + e0
        d = self._act(self.conv7(d))
        d = self._act(self.conv8(d))
        logits: torch.Tensor = self.conv9(d)
        return logits


def load_discriminator_state(net: UNetDiscriminatorSN, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Strictly load a discriminator state dict (official key layout; a DDP ``module.`` prefix is removed).

    Raises:
        ConfigError: missing/unexpected keys or shape mismatches, naming ``source``.
    """
    state = dict(state)
    if state and next(iter(state)).startswith("module."):
        state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    bad = sorted(k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape))
    if missing or extra or bad:
        raise ConfigError(f"{source}: not a UNetDiscriminatorSN(num_feat={net.num_feat}) state: "
                          f"missing {missing[:4]}, unexpected {extra[:4]}, wrong shape {bad[:4]}")
    net.load_state_dict(state, strict=True)
