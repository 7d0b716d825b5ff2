"""The Restorer interface every restoration method implements.

A restorer maps a batch of 512x512 FFHQ-aligned LQ faces (RGB uint8, shape (B, 512, 512, 3)) to restored
faces of the same shape and dtype. Reference-based methods also receive, per image, a list of HQ reference
faces (each (512, 512, 3) uint8, in their stored order). Stochastic methods receive one integer seed per
image (derived by the runner from (run seed, image id)) and must draw all randomness from generators
seeded with it, so results do not depend on batch composition.

Constructor keyword arguments are the configuration (typed, JSON-serialisable); ``device``, ``dtype`` and
``batch_size`` are always among them so CPU tests exercise the GPU code path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from bfrbench.errors import ConfigError

DType = Literal["fp32", "fp16", "bf16"]
DTYPES: tuple[str, ...] = ("fp32", "fp16", "bf16")

__all__ = ["Restorer", "DTYPES", "DType"]


class Restorer:
    """Base class of restoration methods.

    Class attributes (metadata shown by ``bfrbench methods list``):
        name: registry name.
        paper: citation (venue, year).
        code_url: official code.
        license: license of code/weights.
        weights: names of entries in the weights registry it needs.
        needs_refs: True when reference images are required (False: optional or unused).
        uses_refs: True when the method can use reference images at all.
        max_refs: how many references it can use (0 when none).
        stochastic: True when outputs depend on the seed.
        default_steps: sampling steps by default (None for feed-forward methods).
        version: bumped whenever outputs for the same inputs change.
    """

    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    code_url: ClassVar[str] = ""
    license: ClassVar[str] = ""
    weights: ClassVar[tuple[str, ...]] = ()
    needs_refs: ClassVar[bool] = False
    uses_refs: ClassVar[bool] = False
    max_refs: ClassVar[int] = 0
    stochastic: ClassVar[bool] = False
    default_steps: ClassVar[int | None] = None
    version: ClassVar[str] = "1"

    def __init__(self, *, device: str = "cpu", dtype: str = "fp32", batch_size: int = 1) -> None:
        if dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size

    # -- configuration ----------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-able dict (subclasses add theirs via ``_config``)."""
        return {"device": self.device, "dtype": self.dtype, "batch_size": self.batch_size, **self._config()}

    def _config(self) -> dict[str, Any]:
        return {}

    def torch_dtype(self) -> Any:
        import torch

        return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[self.dtype]

    def weight_hashes(self) -> dict[str, str | None]:
        """SHA-256 of each weight file actually loaded (for run.json); override when weights are custom."""
        return {}

    # -- work -------------------------------------------------------------------------------
    def restore(
        self,
        lq: np.ndarray,
        *,
        refs: Sequence[Sequence[np.ndarray]] | None = None,
        seeds: Sequence[int] | None = None,
        context: Sequence[dict[str, Any]] | None = None,
    ) -> np.ndarray:
        """Restore a batch.

        Args:
            lq: (B, 512, 512, 3) uint8 RGB LQ faces.
            refs: per image, a list of (512, 512, 3) uint8 reference faces (may be empty), or None.
            seeds: per image, an integer seed (always given by the runner).
            context: per image, the test-set manifest row (e.g. ``scale`` for the bicubic baseline).

        Returns:
            (B, 512, 512, 3) uint8 RGB restored faces.
        """
        raise NotImplementedError
