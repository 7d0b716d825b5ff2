"""Configuration of a DT-BFR fine-tuning run (the official values are the defaults).

Source of the defaults: SamsungLabs/DT-BFR commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd,
``configs/main/swinir_gan.yaml`` (lr 2e-5 -> 5e-6 cosine, batch 16, micro-batch 4, 20k iterations, weight decay 0,
L1 1.0 + LPIPS 0.1 + GAN 0.1, ``UNetDiscriminatorSN(3, 64, skip_connection=True)``, save_freq 2500),
``train.py`` (seed 10000) and ``models/swinir.py`` (``drop_path_rate`` default 0.1, active in training).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from bfrbench.errors import ConfigError
from bfrbench.methods.dtbfr.losses import LossWeights

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of stage 3 (JSON-able; recorded in the run folder).

    Attributes:
        iterations: optimiser steps (official 20,000).
        batch_size: images per step over all ranks (official 16).
        micro_batch: images per forward/backward pass on one rank (official 4).
        lr, lr_min: G's cosine schedule end points (official 2e-5, 5e-6); D uses ``lr`` constantly.
        weight_decay: AdamW weight decay of both networks (official 0).
        seed: run seed: D's init, the data order and stochastic depth derive from it (official 10000).
        l1, lpips, gan: loss weights (official 1.0, 0.1, 0.1).
        disc_num_feat: discriminator width (official 64).
        drop_path_rate: SwinIR stochastic depth while training (official 0.1; 0 makes a step deterministic).
        d_grad_leak: reproduce the official D-gradient leak (quirk 1 of the fixture README).
        train_size: resize every training image to this side (None: as stored, official; tiny CPU runs use 64).
        train_dtype: ``fp32`` (official) or ``bf16`` (autocast forwards).
        save_every: checkpoint period in iterations (official save_freq 2500); the last iteration always saves.
        keep_checkpoints: how many checkpoints to keep (oldest removed).
        io_threads: threads decoding PNGs for a batch.
    """

    iterations: int = 20000
    batch_size: int = 16
    micro_batch: int = 4
    lr: float = 2e-5
    lr_min: float = 5e-6
    weight_decay: float = 0.0
    seed: int = 10000
    l1: float = 1.0
    lpips: float = 0.1
    gan: float = 0.1
    disc_num_feat: int = 64
    drop_path_rate: float = 0.1
    d_grad_leak: bool = True
    train_size: int | None = None
    train_dtype: Literal["fp32", "bf16"] = "fp32"
    save_every: int = 2500
    keep_checkpoints: int = 2
    io_threads: int = 4

    def __post_init__(self) -> None:
        for name in ("iterations", "batch_size", "micro_batch", "disc_num_feat", "save_every", "keep_checkpoints",
                     "io_threads"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {v!r}")
        if not (self.lr > 0 and 0 <= self.lr_min <= self.lr):
            raise ConfigError(f"need lr > 0 and 0 <= lr_min <= lr, got lr={self.lr}, lr_min={self.lr_min}")
        if not 0.0 <= self.drop_path_rate < 1.0:
            raise ConfigError(f"drop_path_rate must be in [0, 1), got {self.drop_path_rate}")
        if self.train_size is not None and (self.train_size < 8 or self.train_size % 8):
            raise ConfigError(f"train_size must be a multiple of 8 (SwinIR unshuffles by 8), got {self.train_size}")
        if self.train_dtype not in ("fp32", "bf16"):
            raise ConfigError(f"train_dtype must be fp32 or bf16 (fp16 training would need loss scaling), "
                              f"got {self.train_dtype!r}")
        self.loss_weights()  # validates the weights

    def loss_weights(self) -> LossWeights:
        return LossWeights(l1=self.l1, lpips=self.lpips, gan=self.gan)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown training option(s) {unknown}; accepted: {sorted(known)}")
        return cls(**d)
