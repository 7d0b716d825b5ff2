"""One DT-BFR fine-tuning step (SwinIR + UNet discriminator), with micro-batch gradient accumulation.

Source: SamsungLabs/DT-BFR commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd, ``trainer.py::TrainerSR.training_step``
(GAN branch), ``TrainerSR.setup_optimizaton`` and ``configs/main/swinir_gan.yaml``; facts listed in
``../shared/fixtures/dtbfr/README.md`` ("Fine-tuning"). Re-stated, not copied:

* Batch ``B`` (16), micro-batch ``m`` (4): ``A = ceil(B / m)`` accumulation passes. Gradients are zeroed once.
* Discriminator parameters get ``requires_grad=False`` **once** before the micro-batch loop and ``True`` again
  inside it (after the generator's backward), so from the second micro-batch on the generator's adversarial loss
  also deposits gradient in D (official quirk 1; ``d_grad_leak=False`` switches it off, not official).
* Per micro-batch ``j``: ``pred = G(lq_j)``;
  ``L_G = (w_l1 * mean|pred - gt_j| + w_lpips * sum LPIPS(pred, gt_j) + w_gan * BCE(D(pred), 1)) / A``, backward;
  ``BCE(D(real_j), 1) / A`` backward; ``BCE(D(pred.detach()), 0) / A`` backward. ``real_j`` is the same slice of
  the clean-face batch (the official ``gan_clean`` loader), or of the pseudo-targets when no clean set is given
  (the official code path without ``gan_clean``).
* D stays in train mode: each of its three forwards runs one spectral-norm power iteration.
* Then one AdamW step for G and one for D (both lr 2e-5, weight decay 0, betas (0.9, 0.999), eps 1e-8). G's lr
  follows ``CosineAnnealingLR(T_max=iterations, eta_min=5e-6)`` stepped after each iteration; D has no scheduler.

Multi-process data parallel (:mod:`bfrbench.methods.dtbfr.loop`): every rank runs this step on its share of the
batch and the accumulated gradients are averaged over ranks before the optimiser steps (what DDP's all-reduce
does); ``grad_hook`` is where that happens.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from bfrbench.errors import ConfigError
from bfrbench.methods.dtbfr.losses import OFFICIAL_WEIGHTS, LossWeights, gan_bce, lpips_sum, pixel_l1

__all__ = ["StepResult", "training_step", "make_optimizers", "OFFICIAL_TRAIN"]

#: Official fine-tuning hyper-parameters (configs/main/swinir_gan.yaml; seed from train.py's --seed default).
OFFICIAL_TRAIN: dict[str, Any] = {"lr": 2e-5, "lr_min": 5e-6, "batch_size": 16, "micro_batch": 4,
                                  "iterations": 20000, "weight_decay": 0.0, "seed": 10000,
                                  "disc_num_feat": 64, "drop_path_rate": 0.1}


@dataclass
class StepResult:
    """Per micro-batch loss values (floats, before division by the accumulation count).

    Keys: ``l1`` (w_l1 * mean L1), ``lpips`` (w_lpips * summed LPIPS; absent when its weight is 0), ``gan``
    (w_gan * generator BCE), ``l_d_real``, ``l_d_fake`` (discriminator BCEs, weight 1).
    """

    micro: list[dict[str, float]] = field(default_factory=list)

    def mean(self) -> dict[str, float]:
        """Each loss averaged over the micro-batches."""
        keys = self.micro[0].keys() if self.micro else ()
        return {k: sum(m[k] for m in self.micro) / len(self.micro) for k in keys}


def _forward_g_loss(G: nn.Module, D: nn.Module, lq: torch.Tensor, gt: torch.Tensor, w: LossWeights,
                    lpips_model: Any, rec: dict[str, float],
                    on_d_logits: Callable[[torch.Tensor], None] | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Generator forward and its total loss (not yet divided by the accumulation count)."""
    pred = G(lq)
    loss = pixel_l1(pred, gt) * w.l1
    rec["l1"] = float(loss.detach())
    if w.lpips != 0.0:
        if lpips_model is None:
            raise ConfigError("the LPIPS loss weight is non-zero but no LPIPS model was given")
        l_lp = lpips_sum(lpips_model, pred, gt) * w.lpips
        rec["lpips"] = float(l_lp.detach())
        loss = loss + l_lp
    logits = D(pred)
    if on_d_logits is not None:
        on_d_logits(logits.detach())
    l_gan = gan_bce(logits, True) * w.gan
    rec["gan"] = float(l_gan.detach())
    return pred, loss + l_gan


def training_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    lq: torch.Tensor,
    gt: torch.Tensor,
    real: torch.Tensor | None,
    *,
    micro_batch: int = 4,
    weights: LossWeights = OFFICIAL_WEIGHTS,
    lpips_model: Any = None,
    d_grad_leak: bool = True,
    autocast_dtype: torch.dtype | None = None,
    grad_hook: Callable[[nn.Module, nn.Module], None] | None = None,
    on_d_logits: Callable[[torch.Tensor], None] | None = None,
    on_pred: Callable[[torch.Tensor], None] | None = None,
) -> StepResult:
    """Run one optimisation step of G and D on a batch (both modules are left in train mode).

    Args:
        G: the restorer (SwinIR), in train mode; maps (b, 3, H, W) [0, 1] to (b, 3, H, W).
        D: :class:`~bfrbench.methods.dtbfr.discriminator.UNetDiscriminatorSN` in train mode.
        opt_g, opt_d: their optimisers (:func:`make_optimizers`).
        lq: (B, 3, H, W) float32 LQ inputs in [0, 1] (this rank's share of the batch).
        gt: (B, 3, H, W) float32 pseudo-targets in [0, 1].
        real: (B, 3, H, W) float32 clean faces for D's "real" term, or None to use ``gt`` (no clean set).
        micro_batch: micro-batch size m (accumulation passes ``ceil(B / m)``).
        weights: loss weights (official 1.0 / 0.1 / 0.1).
        lpips_model: :func:`~bfrbench.methods.dtbfr.losses.build_lpips_vgg` output (needed when ``weights.lpips``).
        d_grad_leak: reproduce the official ``requires_grad`` placement (True) or keep D frozen during every
            generator backward (False).
        autocast_dtype: run forwards under ``torch.autocast`` with this dtype (bf16); None: float32 (official).
        grad_hook: called as ``grad_hook(G, D)`` after accumulation, before the optimiser steps (gradient
            all-reduce for data parallel).
        on_d_logits: called with every discriminator output, in call order (tests).
        on_pred: called with every micro-batch prediction (tests).

    Returns:
        The per micro-batch losses.
    """
    n = int(lq.shape[0])
    if n < 1:
        raise ConfigError("training_step needs at least one image")
    if micro_batch < 1:
        raise ConfigError(f"micro_batch must be >= 1, got {micro_batch}")
    if gt.shape != lq.shape or (real is not None and real.shape[0] < n):
        raise ConfigError(f"batch shapes differ: lq {tuple(lq.shape)}, gt {tuple(gt.shape)}, "
                          f"real {None if real is None else tuple(real.shape)}")
    n_acc = math.ceil(n / micro_batch)
    amp = (torch.autocast(lq.device.type, dtype=autocast_dtype) if autocast_dtype is not None else nullcontext())
    result = StepResult()
    D.requires_grad_(False)
    opt_g.zero_grad()
    opt_d.zero_grad()
    for start in range(0, n, micro_batch):
        sl = slice(start, start + micro_batch)
        rec: dict[str, float] = {}
        if not d_grad_leak:
            D.requires_grad_(False)
        with amp:
            pred, loss = _forward_g_loss(G, D, lq[sl], gt[sl], weights, lpips_model, rec, on_d_logits)
        if on_pred is not None:
            on_pred(pred.detach())
        (loss / n_acc).backward()
        D.requires_grad_(True)
        real_j = (gt[sl] if real is None else real[sl]).detach()
        with amp:
            logits_real = D(real_j)
            l_real = gan_bce(logits_real.float(), True)
        if on_d_logits is not None:
            on_d_logits(logits_real.detach())
        (l_real / n_acc).backward()
        with amp:
            logits_fake = D(pred.detach().clone())
            l_fake = gan_bce(logits_fake.float(), False)
        if on_d_logits is not None:
            on_d_logits(logits_fake.detach())
        (l_fake / n_acc).backward()
        rec["l_d_real"], rec["l_d_fake"] = float(l_real.detach()), float(l_fake.detach())
        result.micro.append(rec)
    if grad_hook is not None:
        grad_hook(G, D)
    opt_g.step()
    opt_d.step()
    return result


def make_optimizers(G: nn.Module, D: nn.Module, *, lr: float = 2e-5, lr_min: float = 5e-6, iterations: int = 20000,
                    weight_decay: float = 0.0) -> tuple[torch.optim.AdamW, torch.optim.AdamW, Any]:
    """AdamW for G and D (default betas/eps) and G's cosine schedule, as ``TrainerSR.setup_optimizaton``.

    Returns:
        ``(opt_g, opt_d, sched_g)``; ``sched_g`` is ``CosineAnnealingLR(opt_g, T_max=iterations, eta_min=lr_min)``,
        to be stepped once after every iteration (lr_k = lr_min + (lr - lr_min)(1 + cos(pi k / T)) / 2).
    """
    if iterations < 1:
        raise ConfigError(f"iterations must be >= 1, got {iterations}")
    if not (lr > 0 and 0 <= lr_min <= lr):
        raise ConfigError(f"need lr > 0 and 0 <= lr_min <= lr, got lr={lr}, lr_min={lr_min}")
    opt_g = torch.optim.AdamW(G.parameters(), lr=lr, weight_decay=weight_decay)
    opt_d = torch.optim.AdamW(D.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt_g, T_max=iterations, eta_min=lr_min)
    return opt_g, opt_d, sched
