"""Every hyper-parameter of the CLR-Face reimplementation, in one JSON-serialisable dataclass tree.

Paper: Suin & Chellappa, "CLR-Face: Conditional Latent Refinement for Blind Face Restoration Using
Score-Based Diffusion Models", IJCAI 2024, arXiv:2402.06106. Only the abstract (and secondary summaries) were
readable here; the paper body (architectures, SDE settings, losses, training schedule) was not. Every field
below therefore says ``paper:`` (stated in the abstract / a summary of the paper) or ``ours:`` (chosen here,
with the reason). docs/methods/clrface.md has the same list as a table.

* ``paper:`` a VQGAN autoencoder whose latent is less compressed than CodeFormer's: downsampling factor 4
  (a secondary summary, themoonlight.io review of 2402.06106: "downsampling by a factor of 4 ... compared to
  ... 32"); a diffusion prior over the clean latent conditioned on the degraded image's latent; an Identity
  Recovery Network; a learnable latent mask gating face-recognition gradients.
* ``ours:`` all sizes, the SDE (VP), the sampler (DDIM-style on the VP SDE's discretisation), losses,
  learning rates, schedules and the 128x128 grey ArcFace input (GFPGAN's ``arcface_resnet18``).

``CLRFaceConfig.to_dict()`` / ``from_dict()`` round-trip through JSON; ``tiny()`` is the test configuration
(64-pixel internals, a few thousand parameters per network).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from bfrbench.errors import ConfigError

__all__ = [
    "FORMAT_VERSION",
    "STAGES",
    "AutoencoderConfig",
    "CLRFaceConfig",
    "FRConfig",
    "IRNConfig",
    "MaskConfig",
    "SamplerConfig",
    "ScoreConfig",
    "StageTrainConfig",
    "TrainConfig",
]

FORMAT_VERSION = 1
#: training stages, in the order they are normally run
STAGES: tuple[str, ...] = ("autoencoder", "prior", "irn", "mask")


@dataclass
class AutoencoderConfig:
    """VQGAN-style autoencoder (paper: VQGAN with f=4; ours: every size below, LDM VQ-f4-like)."""

    base_channels: int = 128            # ours: LDM VQ-f4 width
    channel_mult: tuple[int, ...] = (1, 2, 4)  # paper: f = 2 ** (len - 1) = 4
    num_res_blocks: int = 2             # ours
    latent_channels: int = 4            # ours: small so the score network works on few channels (LDM f4 uses 3)
    codebook_size: int = 8192           # ours: LDM VQ-f4's n_embed
    commitment_beta: float = 0.25       # ours: VQ-VAE / VQGAN default beta
    norm_groups: int = 32               # ours
    attention: bool = False             # ours: no middle self-attention, as LDM's VQ-f4 (attn_resolutions: []):
                                        # at f=4 the middle block has 128x128 = 16k positions (quadratic cost)

    @property
    def factor(self) -> int:
        return 2 ** (len(self.channel_mult) - 1)


@dataclass
class ScoreConfig:
    """Conditional score network and VP SDE (paper: score-based prior conditioned on the LQ latent; ours: rest)."""

    base_channels: int = 128
    channel_mult: tuple[int, ...] = (1, 2, 3, 4)
    num_res_blocks: int = 2
    attention_levels: tuple[int, ...] = (3,)   # ours: attention at the coarsest level (16x16 for 512 px)
    norm_groups: int = 32
    beta_min: float = 0.1               # ours: VP SDE of Song et al. 2021 (ICLR), their defaults
    beta_max: float = 20.0
    t_eps: float = 1e-3                 # ours: smallest diffusion time (Song et al.)


@dataclass
class FRConfig:
    """Face-recognition network for the identity gradient (paper: "a face-recognition network"; ours: which).

    ours: GFPGAN's ``ResNetArcFace`` (IRBlock, layers 2-2-2-2, no SE; 128x128 grey input in [-1, 1]; 512-d),
    registered as ``arcface-resnet18-gfpgan``; ``weights=None`` builds it with seeded random weights
    (tests only: the identity gradient is then meaningless).
    """

    widths: tuple[int, ...] = (64, 128, 256, 512)
    layers: tuple[int, ...] = (2, 2, 2, 2)
    input_size: int = 128
    embedding: int = 512
    weights: str | None = "arcface-resnet18-gfpgan"
    random_seed: int = 0


@dataclass
class IRNConfig:
    """Identity Recovery Network (paper: exists, trained separately; ours: LQ image -> FR embedding regressor)."""

    base_channels: int = 64
    channel_mult: tuple[int, ...] = (1, 2, 4, 8, 8)
    num_res_blocks: int = 2
    norm_groups: int = 32
    input_size: int = 256               # ours: the IRN sees the LQ resized to this side (identity is coarse)


@dataclass
class MaskConfig:
    """Learnable latent mask (paper: learnable, selects identity-related latent features; ours: parametrisation)."""

    init_logit: float = 2.0             # ours: start with every feature selected (sigmoid(2) = 0.88); the
                                        # objective prunes those whose identity step costs fidelity
    temperature: float = 1.0            # ours
    sparsity_weight: float = 0.1        # ours: keeps the subset small ("leaving the other features untouched")
    fidelity_weight: float = 1.0        # ours: L1 to HQ after the masked identity step
    step_size: float = 1.0              # ours: identity step used while learning the mask


@dataclass
class SamplerConfig:
    """Reverse process (ours: DDIM-style steps on the VP SDE; paper: not reachable)."""

    steps: int = 50
    eta: float = 0.0                    # 0: deterministic given the initial noise
    guidance: float = 0.05              # ours: identity-gradient step size on the x0 estimate
    guidance_until: float = 0.0         # ours: guide while t > this (0: every step)
    start_t: float = 1.0                # ours: start from pure noise (t=1)
    project_x0: bool = True             # ours: project each x0 estimate onto the unit sphere of the latent
    quantize_output: bool = False       # ours: snap the final latent to the codebook before decoding; off by
                                        # default because snapping erases the (small) identity step


@dataclass
class StageTrainConfig:
    """Optimiser settings of one stage (ours: AdamW with linear warm-up; paper: not reachable)."""

    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup: int = 500
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 1.0


@dataclass
class TrainConfig:
    """Training settings shared by the stages (ours)."""

    batch_size: int = 8
    ckpt_every: int = 1000
    log_every: int = 50
    perceptual_weight: float = 1.0      # ours: LPIPS(VGG) in the autoencoder loss (needs lpips' VGG download)
    adversarial_weight: float = 0.1     # ours: hinge GAN term of the autoencoder (VQGAN), fixed weight
    adversarial_start: int = 30000      # ours: discriminator switched on late, as VQGAN's disc_start
    disc_channels: int = 64             # ours: PatchGAN width (VQGAN's ndf)
    autoencoder: StageTrainConfig = field(default_factory=lambda: StageTrainConfig(lr=4.5e-6 * 8))
    prior: StageTrainConfig = field(default_factory=lambda: StageTrainConfig(lr=1e-4))
    irn: StageTrainConfig = field(default_factory=lambda: StageTrainConfig(lr=1e-4))
    mask: StageTrainConfig = field(default_factory=lambda: StageTrainConfig(lr=1e-2, warmup=0))
    discriminator: StageTrainConfig = field(default_factory=lambda: StageTrainConfig(lr=4.5e-6 * 8, warmup=0))


@dataclass
class CLRFaceConfig:
    """The whole method: sizes of every network, the SDE, the sampler and training settings."""

    image_size: int = 512               # ours: 512x512 faces, the BFR standard (not in what was readable)
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    fr: FRConfig = field(default_factory=FRConfig)
    irn: IRNConfig = field(default_factory=IRNConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def latent_size(self) -> int:
        return self.image_size // self.autoencoder.factor

    def validate(self) -> CLRFaceConfig:
        """Raise ConfigError on inconsistent sizes; returns self."""
        f = self.autoencoder.factor
        if self.image_size % f:
            raise ConfigError(f"clrface config: image_size {self.image_size} must be a multiple of the "
                              f"autoencoder factor {f}")
        down = 2 ** (len(self.score.channel_mult) - 1)
        if self.latent_size % down:
            raise ConfigError(f"clrface config: latent side {self.latent_size} must be divisible by the score "
                              f"network's downsampling {down}")
        if self.fr.input_size % 16:
            raise ConfigError(f"clrface config: fr.input_size must be a multiple of 16, got {self.fr.input_size}")
        if not 1 <= self.sampler.steps <= 10000:
            raise ConfigError(f"clrface config: sampler.steps must be in [1, 10000], got {self.sampler.steps}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CLRFaceConfig:
        """Rebuild from :meth:`to_dict` output; unknown keys are a ConfigError naming them."""
        return _build(cls, data, "config").validate()

    @classmethod
    def tiny(cls) -> CLRFaceConfig:
        """Test configuration: 64-pixel internals, tiny widths, random FR network, few sampler steps."""
        return cls(
            image_size=64,
            autoencoder=AutoencoderConfig(base_channels=8, channel_mult=(1, 2, 4), num_res_blocks=1,
                                          latent_channels=4, codebook_size=64, norm_groups=4, attention=True),
            score=ScoreConfig(base_channels=16, channel_mult=(1, 2), num_res_blocks=1, attention_levels=(1,),
                              norm_groups=8),
            fr=FRConfig(widths=(8, 16, 16, 32), layers=(1, 1, 1, 1), input_size=32, embedding=32, weights=None),
            irn=IRNConfig(base_channels=8, channel_mult=(1, 2, 2), num_res_blocks=1, norm_groups=4, input_size=32),
            mask=MaskConfig(step_size=1.0),
            sampler=SamplerConfig(steps=4, guidance=0.5),
            train=TrainConfig(batch_size=2, ckpt_every=2, log_every=1, perceptual_weight=0.0,
                              adversarial_weight=0.1, adversarial_start=1, disc_channels=8,
                              discriminator=StageTrainConfig(lr=2e-3, warmup=0),
                              autoencoder=StageTrainConfig(lr=2e-3, warmup=0),
                              prior=StageTrainConfig(lr=2e-3, warmup=0),
                              irn=StageTrainConfig(lr=2e-3, warmup=0),
                              mask=StageTrainConfig(lr=5e-2, warmup=0)),
        )


def _build(cls: Any, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"clrface {where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"clrface {where}: unknown key(s) {unknown}; accepted: {sorted(fields)}")
    kwargs: dict[str, Any] = {}
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    for k, v in data.items():
        sub = _SUBCONFIGS.get(str(hints[k]))
        if sub is not None:
            kwargs[k] = _build(sub, v, f"{where}.{k}")
        elif isinstance(v, list):
            kwargs[k] = tuple(v)
        else:
            kwargs[k] = v
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"clrface {where}: {exc}") from None


_SUBCONFIGS: dict[str, Any] = {c.__name__: c for c in (AutoencoderConfig, ScoreConfig, FRConfig, IRNConfig,
                                                         MaskConfig, SamplerConfig, StageTrainConfig,
                                                         TrainConfig)}
