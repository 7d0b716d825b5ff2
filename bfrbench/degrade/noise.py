"""Additive Gaussian noise with the standard deviation in 0-255 units, BasicSR semantics.

BasicSR ``generate_gaussian_noise`` / ``add_gaussian_noise(img, sigma, clip=True, rounds=False)``:
``noise = float32(randn(h, w, 3)) * sigma / 255``; ``out = clip(img + noise, 0, 1)`` (float32, no rounding).
Gray noise draws one (h, w) field and repeats it on the 3 channels.

Channel order: BasicSR works on BGR images, so its noise field's channel 0 lands on blue. Here images are
RGB, and the field is drawn in the same (h, w, 3) layout and added reversed (``noise[..., ::-1]``), so the
same generator state gives the same pixels as the BGR reference. The normal draws come from the
``np.random.Generator`` passed in (``rng.standard_normal`` in float64, then cast to float32).
"""

from __future__ import annotations

import numpy as np

from bfrbench.degrade._base import check_float_image

__all__ = ["add_gaussian_noise", "gaussian_noise_field"]


def gaussian_noise_field(shape: tuple[int, int], sigma: float, rng: np.random.Generator, *,
                         gray: bool = False) -> np.ndarray:
    """Noise in BasicSR's (BGR) channel layout: float32 (h, w, 3) with std ``sigma / 255``."""
    h, w = shape
    if gray:
        g = rng.standard_normal((h, w)).astype(np.float32) * sigma / 255.0
        return np.repeat(g[:, :, None], 3, axis=2)
    return rng.standard_normal((h, w, 3)).astype(np.float32) * sigma / 255.0


def add_gaussian_noise(img: np.ndarray, sigma: float, rng: np.random.Generator, *, gray: bool = False,
                       clip: bool = True) -> np.ndarray:
    """Add N(0, (sigma/255)^2) noise to a float32 RGB (H, W, 3) image in [0, 1]; clip to [0, 1].

    Args:
        img: float32 (H, W, 3), RGB, [0, 1].
        sigma: standard deviation in 0-255 units (>= 0).
        rng: source of the normal draws (H*W*3 of them, or H*W when ``gray``).
        gray: same noise on all channels.
        clip: clip the result to [0, 1] (BasicSR default).
    Returns:
        float32 (H, W, 3).
    """
    check_float_image(img, "add_gaussian_noise")
    if sigma < 0:
        raise ValueError(f"noise sigma must be >= 0, got {sigma}")
    noise = gaussian_noise_field(img.shape[:2], sigma, rng, gray=gray)
    out = img + noise[:, :, ::-1]
    return np.clip(out, 0, 1) if clip else out
