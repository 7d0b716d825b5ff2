"""Toy third-party bfrbench methods, registered through the ``bfrbench.methods`` entry-point group.

* ``toy``: stochastic numpy method: ``out = clip(lq + strength * N(0, 1))`` with the noise drawn from a
  generator seeded by the runner's per-image seed, so outputs are reproducible and batch-independent.
* ``toy-torch``: a tiny seeded 3x3 convolution run in the configured torch dtype (fp32/fp16/bf16) on the
  configured device, plus seeded torch noise; exercises the dtype/device code path on CPU.

Test hook: when ``BFRBENCH_TOY_EXIT_AFTER=N`` is set, the process exits abruptly (``os._exit(17)``) when it is
asked to restore its (N+1)-th image, simulating a killed job.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from bfrbench.methods import Restorer

__all__ = ["ToyRestorer", "ToyTorchRestorer"]

_COUNT = {"images": 0}


def _maybe_die(n: int) -> None:
    limit = os.environ.get("BFRBENCH_TOY_EXIT_AFTER")
    if limit is not None and _COUNT["images"] + n > int(limit):
        os._exit(17)
    _COUNT["images"] += n


class ToyRestorer(Restorer):
    """Adds seeded Gaussian noise of standard deviation ``strength`` (0-255 units)."""

    name = "toy"
    paper = "toy plugin (tests)"
    license = "Apache-2.0"
    stochastic = True
    default_steps = 1

    def __init__(self, *, strength: float = 8.0, device: str = "cpu", dtype: str = "fp32", batch_size: int = 1) -> None:
        super().__init__(device=device, dtype=dtype, batch_size=batch_size)
        self.strength = float(strength)

    def _config(self) -> dict[str, Any]:
        return {"strength": self.strength}

    def restore(self, lq: np.ndarray, *, refs: Any = None, seeds: Any = None, context: Any = None) -> np.ndarray:
        _maybe_die(len(lq))
        out = []
        for img, seed in zip(lq, seeds):
            rng = np.random.default_rng(seed)
            noisy = img.astype(np.float64) + self.strength * rng.standard_normal(img.shape)
            out.append(np.clip(np.rint(noisy), 0, 255).astype(np.uint8))
        return np.stack(out)


class ToyTorchRestorer(Restorer):
    """A seeded 3x3 conv (weights from a fixed torch.Generator) in the configured dtype, plus seeded noise."""

    name = "toy-torch"
    paper = "toy plugin (tests)"
    license = "Apache-2.0"
    stochastic = True

    def __init__(self, *, noise: float = 2.0, device: str = "cpu", dtype: str = "fp32", batch_size: int = 1) -> None:
        super().__init__(device=device, dtype=dtype, batch_size=batch_size)
        import torch

        self.noise = float(noise)
        g = torch.Generator().manual_seed(1234)
        eye = torch.zeros(3, 3, 3, 3)
        eye[range(3), range(3), 1, 1] = 1.0
        weight = eye * 0.8 + 0.2 / 27 + 0.01 * torch.randn(3, 3, 3, 3, generator=g)
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(weight)
        self.conv.to(device=self.torch_device(), dtype=self.torch_dtype()).eval()

    def _config(self) -> dict[str, Any]:
        return {"noise": self.noise}

    def restore(self, lq: np.ndarray, *, refs: Any = None, seeds: Any = None, context: Any = None) -> np.ndarray:
        import torch

        dev, dt = self.torch_device(), self.torch_dtype()
        x = torch.from_numpy(lq).permute(0, 3, 1, 2).to(device=dev, dtype=dt) / 255.0
        with torch.no_grad():
            y = self.conv(x)
        noise = torch.stack([
            torch.randn(x.shape[1:], generator=torch.Generator().manual_seed(int(s))) for s in seeds
        ]).to(device=dev, dtype=dt)
        y = (y + self.noise / 255.0 * noise).float().clamp(0, 1)
        return (y * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
