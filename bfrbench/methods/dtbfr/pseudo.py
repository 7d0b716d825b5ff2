"""DT-BFR stage 2: pseudo-targets from a face diffusion prior with low-frequency consistency.

The loop restates ``sampler.py::DifIRSampler.sample_func_ir_aligned`` and
``models/gaussian_diffusion.py::p_sample_loop_progressive`` (with ``filter_dict``) of
https://github.com/SamsungLabs/DT-BFR at commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd, as run by
``generate_pseudo_targets.py`` / ``scripts/generate_targets_*.sh`` (``--started_timesteps 150
--reg_end_timesteps 90 --apply_filter --down_N N``, respacing "250"), following
../shared/fixtures/dtbfr/README.md "Pseudo-target generation" (not copied):

1. ``base = clamp(SwinIR(lq), 0, 1)`` (official SwinIR path) or the already restored image (general path, e.g.
   CodeFormer outputs); ``x0 = (base - 0.5) / 0.5``.
2. ``x = q_sample(x0, start)`` (respaced index ``start`` = 150), then ancestral steps for t = start-1 ... 0
   (the off-by-one inherited from DifFace: noised to 150, denoised as if at 149).
3. After each step with ``t >= reg_end`` (90): ``x <- x - U(D(x)) + U(D(q_sample(x0, t-1)))`` with the official
   cubic antialiased resizer (:mod:`bfrbench.methods.dtbfr.resizer`), factor N = 16 (SwinIR) or 8 (CodeFormer).
4. Output ``clamp(x * 0.5 + 0.5, 0, 1)``, saved as ``round(255 x)`` uint8 PNG.

Noise: per draw, in the official order (start q_sample; then per step the p_sample noise, followed by the
q_sample noise while ``t >= reg_end``). Each image draws from its own CPU ``torch.Generator`` seeded with
``bfrbench.rng.item_seed(seed, id, "dtbfr-pseudo")``, so a batch's noise is the concatenation of per-image draws
and outputs do not depend on batch size, worker count or device of the draw. (The official script draws on CUDA
from one global generator seeded 20000; those numbers cannot be reproduced, so fixtures replay saved noise.)

:func:`generate_pseudo_targets` runs this over a folder or test set, sharded over dask workers through
:func:`bfrbench.distributed.run_tasks`, resumable per image. Protocol in docs/methods/dtbfr.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from bfrbench.errors import ConfigError
from bfrbench.methods.dtbfr.diffusion import SpacedDiffusion, respaced_schedule
from bfrbench.methods.dtbfr.resizer import LowPass

__all__ = [
    "NoiseFn",
    "PseudoTargetConfig",
    "PseudoTargetSampler",
    "generate_pseudo_targets",
    "per_image_noise",
    "pseudo_target_loop",
    "to_uint8",
]

NoiseFn = Callable[[torch.Tensor], torch.Tensor]
"""Returns standard-normal noise shaped like its argument (float32, on its device); called once per draw."""

NOISE_STREAM = "dtbfr-pseudo"


@dataclass(frozen=True)
class PseudoTargetConfig:
    """Hyper-parameters of the pseudo-target loop (defaults: the official SwinIR script).

    Args:
        steps: timestep respacing of the 1000-step prior (official "250").
        start: respaced index the base output is noised to (official 150; denoising starts at ``start - 1``).
        reg_end: low-pass replacement after steps ``t >= reg_end`` (official 90).
        down_N: low-pass factor N (official 16 for SwinIR, 8 for CodeFormer / already restored bases).
        image_size: side of the square images the prior works on (512).
        apply_filter: the official ``--apply_filter`` (on in both official scripts).
        num_diffusion_steps: length of the base linear schedule (1000).
    """

    steps: int = 250
    start: int = 150
    reg_end: int = 90
    down_N: int = 16
    image_size: int = 512
    apply_filter: bool = True
    num_diffusion_steps: int = 1000

    def __post_init__(self) -> None:
        if not 0 < self.start < self.steps <= self.num_diffusion_steps:
            raise ConfigError(f"need 0 < start < steps <= {self.num_diffusion_steps}, got start={self.start}, "
                              f"steps={self.steps} (the official check: started_timesteps < timestep_respacing)")
        if not 0 <= self.reg_end <= self.start:
            raise ConfigError(f"reg_end must be in [0, start={self.start}], got {self.reg_end}")
        if self.down_N < 1 or self.image_size % self.down_N:
            raise ConfigError(f"down_N={self.down_N} must divide image_size={self.image_size}")

    def to_dict(self) -> dict[str, int | bool]:
        return asdict(self)


def per_image_noise(generators: Sequence[torch.Generator], device: torch.device | str) -> NoiseFn:
    """A :data:`NoiseFn` whose row i comes from ``generators[i]`` (CPU, float32), then moved to ``device``."""
    def draw(like: torch.Tensor) -> torch.Tensor:
        if like.shape[0] != len(generators):
            raise ConfigError(f"noise for a batch of {like.shape[0]} with {len(generators)} generators")
        rows = [torch.randn(tuple(like.shape[1:]), generator=g, dtype=torch.float32) for g in generators]
        return torch.stack(rows).to(device)
    return draw


def _batch_t(i: int, like: torch.Tensor) -> torch.Tensor:
    return torch.full((like.shape[0],), i, dtype=torch.int64, device=like.device)


@torch.no_grad()
def pseudo_target_loop(
    x0: torch.Tensor,
    unet: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    diffusion: SpacedDiffusion,
    lowpass: LowPass | None,
    cfg: PseudoTargetConfig,
    noise: NoiseFn,
    trace: dict[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Steps 2-3 of the module docstring.

    Args:
        x0: (B, 3, S, S) float32 reference in [-1, 1] (the normalised base output).
        unet: ``unet(x, original_steps) -> (B, 6, S, S)``.
        diffusion: the respaced diffusion (``cfg.steps``).
        lowpass: D/U filter, or None when ``cfg.apply_filter`` is off.
        noise: draws, in the official order.
        trace: if given, filled with the fixture's tensor names (``init.*``, ``stepTT.*``).

    Returns:
        (B, 3, S, S) float32 final sample in [-1, 1]-scale (not clamped).
    """
    x0 = x0.float()
    q = noise(x0)
    x = diffusion.q_sample(x0, _batch_t(cfg.start, x0), q)
    if trace is not None:
        trace["init.q_noise"], trace["init.x_start_t"] = q, x
    for i in range(cfg.start - 1, -1, -1):
        t = _batch_t(i, x)
        out = diffusion.p_mean_variance(unet, x, t)
        z = noise(x)
        x = diffusion.p_sample_from(out, t, z)
        if trace is not None:
            pre = f"step{i:02d}."
            trace.update({pre + "model_out": out.model_out, pre + "pred_xstart": out.pred_xstart,
                          pre + "mean": out.mean, pre + "log_variance": out.log_variance, pre + "p_noise": z,
                          pre + "sample_before_lowpass": x})
        if cfg.apply_filter and lowpass is not None and i >= cfg.reg_end:
            qn = noise(x0)
            ref = diffusion.q_sample(x0, t - 1, qn)  # t - 1 = -1 would wrap like the official numpy lookup
            low_x, low_ref = lowpass(x), lowpass(ref)
            x = x - low_x + low_ref
            if trace is not None:
                trace.update({pre + "q_noise": qn, pre + "ref_noisy": ref, pre + "lowpass_of_sample": low_x,
                              pre + "lowpass_of_ref_noisy": low_ref, pre + "sample_after_lowpass": x})
    return x


def to_uint8(img01: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) float in [0, 1] -> (B, H, W, 3) uint8 with ``round(255 x)`` (half to even, float32)."""
    return (img01.float().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu()


class PseudoTargetSampler(nn.Module):
    """The prior UNet, the respaced diffusion, the low-pass filter and (optionally) the SwinIR restorer.

    ``forward(images01, noise, restore=...)``: (B, 3, S, S) float in [0, 1] -> pseudo-targets (B, 3, S, S) in
    [0, 1] float32. With ``restore=True`` the images are LQ inputs and go through ``restorer`` first (official
    SwinIR path, no rounding between the restorer and the prior); otherwise they are already restored.
    """

    def __init__(self, unet: nn.Module, cfg: PseudoTargetConfig, restorer: nn.Module | None = None) -> None:
        super().__init__()
        self.unet, self.restorer, self.cfg = unet, restorer, cfg
        self.diffusion = SpacedDiffusion(respaced_schedule(cfg.steps, cfg.num_diffusion_steps))
        self.lowpass = LowPass(cfg.image_size, cfg.down_N) if cfg.apply_filter else None

    def base(self, images01: torch.Tensor, restore: bool) -> torch.Tensor:
        """The official ``im_hq``: ``clamp(restorer(lq), 0, 1)`` or the input itself, float32."""
        if not restore:
            return images01.float().clamp(0, 1)
        if self.restorer is None:
            raise ConfigError("restore=True needs a restorer (SwinIR weights)")
        dtype = next(self.restorer.parameters()).dtype
        return self.restorer(images01.to(dtype)).float().clamp(0, 1)

    @torch.no_grad()
    def forward(self, images01: torch.Tensor, noise: NoiseFn, *, restore: bool = False,
                trace: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        s = self.cfg.image_size
        if images01.shape[-2:] != (s, s):
            raise ConfigError(f"pseudo-targets need {s}x{s} images (the prior's size), got "
                              f"{tuple(images01.shape[-2:])}; align/resize the faces first")
        base = self.base(images01, restore)
        x0 = (base - 0.5) / 0.5
        if trace is not None:
            trace["ir_output"], trace["ref_img"] = base, x0
        final = pseudo_target_loop(x0, self.unet, self.diffusion, self.lowpass, self.cfg, noise, trace)
        if trace is not None:
            trace["final_sample_minus1_1"] = final
        return (final * 0.5 + 0.5).clamp(0, 1)


def generate_pseudo_targets(*args: object, **kwargs: object) -> object:
    """Stage 2 over a folder or test set; see :func:`bfrbench.methods.dtbfr.pseudo_run.generate_pseudo_targets`."""
    from bfrbench.methods.dtbfr.pseudo_run import generate_pseudo_targets as run

    return run(*args, **kwargs)  # type: ignore[arg-type]
