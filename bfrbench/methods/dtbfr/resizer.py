"""DT-BFR's low-pass filter: the official cubic, antialiased ``resizer.py::Resizer`` as dense 1-D matrices.

The pseudo-target loop keeps the low frequencies of the base output with ``x <- x - U(D(x)) + U(D(ref_t))``,
where D shrinks by 1/N and U enlarges by N with Assaf Shocher's ``Resizer`` (``resizer.py`` of
https://github.com/SamsungLabs/DT-BFR at commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd; defaults: cubic kernel,
antialiasing on). It is **not** ResizeRight, whose border weights differ by up to 0.05. The weights follow
../shared/fixtures/dtbfr/README.md "The low-pass filter D/U" (written from that description, not copied):

* cubic kernel, a = -0.5; downscaling by s < 1 uses ``s * k(s x)`` with support 4/s, upscaling ``k`` with support 4;
* output o (1-based) is centred at ``c = o/s + (1 - 1/s)/2`` in 1-based input coordinates; candidate taps
  ``j = floor(c - width/2) - 1 + m`` for m = 0 .. ceil(width)+1 (0-based) with weight ``k_s(c - j - 1)``,
  normalised to sum 1 **before** out-of-range taps are mirrored (edge repeated: ``[0..L-1, L-1..0]``);
* weights are built in float64, used in float32; D acts on width then height, U on height then width.

The filter is separable, so each axis is one dense matrix product: ``D_x = D @ X @ D^T`` per channel.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from bfrbench.errors import ConfigError

__all__ = ["LowPass", "cubic", "resize_matrix"]


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic kernel with a = -0.5 (float64)."""
    ax = np.abs(x)
    ax2, ax3 = ax ** 2, ax ** 3
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2)))


def resize_matrix(in_len: int, scale: float) -> np.ndarray:
    """Dense (ceil(in_len*scale), in_len) float64 matrix of the official Resizer along one axis.

    Args:
        in_len: input length L.
        scale: 1/N (antialiased downscale) or N (upscale).
    """
    if in_len < 1 or scale <= 0:
        raise ConfigError(f"resize_matrix needs in_len >= 1 and scale > 0, got {in_len}, {scale}")
    out_len = math.ceil(in_len * scale)
    if scale < 1:
        def kern(x: np.ndarray) -> np.ndarray:
            return scale * cubic(scale * x)
        width = 4.0 / scale
    else:
        kern, width = cubic, 4.0
    o = np.arange(1, out_len + 1, dtype=np.float64)
    centre = o / scale + 0.5 * (1 - 1 / scale)
    first = np.floor(centre - width / 2) - 1
    taps = first[:, None] + np.arange(math.ceil(width) + 2)[None, :]  # (out, K), 0-based
    w = kern(centre[:, None] - taps - 1)
    w = w / w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    idx = mirror[np.mod(taps.astype(np.int64), 2 * in_len)]
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(mat, (np.repeat(np.arange(out_len), taps.shape[1]), idx.reshape(-1)), w.reshape(-1))
    return mat


class LowPass(nn.Module):
    """``D`` (L -> L/N) and ``U`` (L/N -> L) of the official filter for square L x L images.

    ``down(x)``: (B, C, L, L) -> (B, C, L/N, L/N); ``up(y)``: back to (B, C, L, L); ``lowpass(x) = up(down(x))``.
    The matrices are float32 buffers (non-persistent); inputs may be float32/16/bf16 (computed in their dtype).
    """

    D: torch.Tensor
    U: torch.Tensor

    def __init__(self, size: int, factor: int) -> None:
        super().__init__()
        if factor < 1 or size % factor:
            raise ConfigError(f"low-pass factor N={factor} must divide the image size {size}")
        self.size, self.factor = size, factor
        self.register_buffer("D", torch.from_numpy(resize_matrix(size, 1.0 / factor)).float(), persistent=False)
        self.register_buffer("U", torch.from_numpy(resize_matrix(size // factor, float(factor))).float(),
                             persistent=False)

    def _check(self, x: torch.Tensor, n: int) -> None:
        if x.shape[-2:] != (n, n):
            raise ConfigError(f"LowPass({self.size}, N={self.factor}) expects {n}x{n} images, got "
                              f"{tuple(x.shape[-2:])}")

    def down(self, x: torch.Tensor) -> torch.Tensor:
        """Width first, then height (the official axis order)."""
        self._check(x, self.size)
        d = self.D.to(x.dtype)
        return torch.matmul(d, torch.matmul(x, d.T))

    def up(self, y: torch.Tensor) -> torch.Tensor:
        """Height first, then width."""
        self._check(y, self.size // self.factor)
        u = self.U.to(y.dtype)
        return torch.matmul(torch.matmul(u, y), u.T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))
