"""Shared conventions of the degradation ops: image layout, dtype conversions, the final rounding.

Working images are float32 arrays (H, W, 3) in RGB order with values in [0, 1], like BasicSR's working
images (which are BGR; every op here that depends on channel order converts explicitly, see each op).

* ``to_float32``: uint8 -> float32 ``v / 255`` (BasicSR ``imfrombytes(..., float32=True)``:
  ``img.astype(np.float32) / 255.``).
* ``quantize``: float32 -> uint8 ``clip(round(v * 255), 0, 255)`` with round-half-to-even in float32,
  the final "round and clip" of GFPGAN's ``FFHQDegradationDataset`` (``torch.clamp((x * 255).round(), 0, 255)``)
  and of DifFace's ``face_degradation``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_float_image", "check_uint8_image", "quantize", "to_float32"]


def check_uint8_image(img: np.ndarray, what: str = "image") -> None:
    """Raise ValueError unless ``img`` is uint8 (H, W, 3)."""
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        desc = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise ValueError(f"{what}: expected RGB uint8 (H, W, 3), got {desc}")


def check_float_image(img: np.ndarray, what: str = "image") -> None:
    """Raise ValueError unless ``img`` is float32 (H, W, 3)."""
    if not isinstance(img, np.ndarray) or img.dtype != np.float32 or img.ndim != 3 or img.shape[2] != 3:
        desc = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise ValueError(f"{what}: expected RGB float32 (H, W, 3) in [0, 1], got {desc}")


def to_float32(img: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> float32 (H, W, 3) in [0, 1] as ``img.astype(float32) / 255``."""
    check_uint8_image(img)
    return img.astype(np.float32) / 255.0


def quantize(img: np.ndarray) -> np.ndarray:
    """float32 (H, W, 3) -> uint8: ``clip(round_half_even(img * 255), 0, 255)`` computed in float32."""
    check_float_image(img)
    return np.clip((img * 255.0).round(), 0, 255).astype(np.uint8)
