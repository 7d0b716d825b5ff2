"""DT-BFR fine-tuning losses: L1 + LPIPS-VGG + vanilla GAN, weighted as the official SwinIR trainer does.

Source: SamsungLabs/DT-BFR commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd, ``configs/main/swinir_gan.yaml``
(``train.loss``: l1_loss 1.0, l2_loss 0.0, lpips 0.1, reduction mean; ``train.gan_opt``: GANLoss vanilla,
real 1.0, fake 0.0, loss_weight 0.1) and ``trainer.py::TrainerSR.compute_loss`` with
``basicsr/losses/gan_loss.py::GANLoss``. Facts restated (no code copied):

* pixel term: ``l1 * mean|pred - target|`` over the micro-batch (``reduction: mean``);
* perceptual term: ``lpips * sum_b LPIPS_vgg(pred_b, target_b)``, the ``lpips`` package's ``LPIPS(net='vgg')``
  (version 0.1, eval mode, so its dropout is off) called with ``normalize=True`` (inputs in [0, 1] mapped to
  [-1, 1]). The per-image distances are **summed** over the micro-batch, not averaged;
* adversarial term for the generator: ``gan * BCEWithLogits(D(pred), 1)`` averaged over every logit;
* discriminator: ``BCEWithLogits(D(real), 1)`` and ``BCEWithLogits(D(pred.detach()), 0)``, weight 1 (GANLoss
  applies ``loss_weight`` to the generator only).

LPIPS-VGG needs torchvision's ImageNet VGG16; it is resolved through the weights registry
(``torchvision-vgg16``) like :mod:`bfrbench.metrics.lpips`, or read from an explicit file (tests pass a
random backbone saved in torchvision layout).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch.nn import functional as F

from bfrbench.errors import ConfigError

__all__ = ["LossWeights", "OFFICIAL_WEIGHTS", "pixel_l1", "lpips_sum", "gan_bce", "build_lpips_vgg"]


@dataclass(frozen=True)
class LossWeights:
    """Loss weights of the generator objective (``configs/main/swinir_gan.yaml``)."""

    l1: float = 1.0
    lpips: float = 0.1
    gan: float = 0.1

    def __post_init__(self) -> None:
        for k, v in asdict(self).items():
            if not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"loss weight {k} must be a number >= 0, got {v!r}")

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


OFFICIAL_WEIGHTS = LossWeights()


def pixel_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over every element. pred, target: (B, 3, H, W) float in [0, 1]. Returns a scalar."""
    return F.l1_loss(pred, target, reduction="mean")


def lpips_sum(model: Any, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum over the batch of LPIPS distances, inputs in [0, 1] (``normalize=True``). Returns a scalar."""
    dist: torch.Tensor = model(pred, target, normalize=True)  # (B, 1, 1, 1)
    return dist.sum()


def gan_bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Vanilla GAN loss: BCE-with-logits against an all-ones (real) or all-zeros (fake) target, mean over logits."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def build_lpips_vgg(backbone: str | None, device: Any = "cpu") -> Any:
    """A fresh, frozen ``lpips.LPIPS(net='vgg', version='0.1')`` in eval mode for training.

    Args:
        backbone: torchvision VGG16 checkpoint (``features.<i>.*`` keys) or a weights-registry name;
            None: the registered ``torchvision-vgg16`` (downloaded on first use, checksum verified).
        device: torch device.

    Returns:
        The LPIPS module; every parameter has ``requires_grad=False`` (gradients still flow to its inputs).
    """
    from pathlib import Path

    from bfrbench import weights as W
    from bfrbench.errors import RegistryError
    from bfrbench.metrics.lpips import BACKBONE_WEIGHTS, build_lpips

    if backbone is None:
        path = W.resolve(BACKBONE_WEIGHTS["vgg"])
    else:
        try:
            path = W.resolve(backbone) if backbone in W.all_weights() else Path(backbone)
        except RegistryError:
            path = Path(backbone)
    if not Path(path).is_file():
        raise ConfigError(f"LPIPS-VGG backbone {backbone!r}: file {path} not found")
    model = build_lpips.__wrapped__("vgg", str(path), "cpu")  # a private copy (build_lpips is cached)
    model.eval().requires_grad_(False)
    return model.to(device)
