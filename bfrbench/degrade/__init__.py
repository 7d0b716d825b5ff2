"""Degradation library: pure image ops with explicit random generators, and the recipe engine.

Ops (one file per family) match BasicSR ``basicsr/data/degradations.py`` and GFPGAN's
``FFHQDegradationDataset`` for the same parameters; docs/degradations.md gives each exact definition.

* :mod:`~bfrbench.degrade.kernels`: Gaussian (iso/aniso), generalized, plateau and sinc kernels.
* :mod:`~bfrbench.degrade.blur`, :mod:`~bfrbench.degrade.resize`, :mod:`~bfrbench.degrade.noise`,
  :mod:`~bfrbench.degrade.jpeg`, :mod:`~bfrbench.degrade.color`: the ops on float32 RGB images in [0, 1].
* :mod:`~bfrbench.degrade.recipe`: YAML recipes (``include:``, ``version``), presets in datasets_build/presets.
"""

from bfrbench.degrade._base import quantize, to_float32
from bfrbench.degrade.blur import blur
from bfrbench.degrade.color import color_shift, grayscale
from bfrbench.degrade.jpeg import jpeg_compress
from bfrbench.degrade.kernels import (
    circular_lowpass_kernel,
    gaussian_kernel,
    generalized_gaussian_kernel,
    kernel_from_params,
    plateau_kernel,
)
from bfrbench.degrade.noise import add_gaussian_noise
from bfrbench.degrade.recipe import Recipe, list_presets, load_recipe
from bfrbench.degrade.resize import downsample, resize_to
from bfrbench.degrade.steps import DEGRADATIONS, Step

__all__ = [
    "DEGRADATIONS",
    "Recipe",
    "Step",
    "add_gaussian_noise",
    "blur",
    "circular_lowpass_kernel",
    "color_shift",
    "downsample",
    "gaussian_kernel",
    "generalized_gaussian_kernel",
    "grayscale",
    "jpeg_compress",
    "kernel_from_params",
    "list_presets",
    "load_recipe",
    "plateau_kernel",
    "quantize",
    "resize_to",
    "to_float32",
]
