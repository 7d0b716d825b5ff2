"""What each training stage optimises: the trainable network, the frozen ones it needs, and its loss.

All losses are ours (the paper's were not reachable); each is the plain choice for its module:

* ``autoencoder``: L1(G(Q(E(HQ))), HQ) + VQ codebook/commitment + ``perceptual_weight`` * LPIPS(VGG)
  + ``adversarial_weight`` * hinge GAN loss of a PatchGAN discriminator (VQGAN's recipe, fixed weight instead of
  VQGAN's adaptive one, switched on after ``adversarial_start`` iterations). Trained on HQ only (as VQGAN /
  CodeFormer stage 1). The discriminator is the stage's auxiliary network (own AdamW, checkpointed, not needed
  for inference).
* ``prior``: denoising score matching on the VP SDE: ``|| eps_theta(alpha z0 + sigma eps, t, E(LQ)) - eps ||^2``
  with ``z0 = Q(E(HQ))`` and ``t ~ U[t_eps, 1]``; autoencoder frozen.
* ``irn``: ``1 - cos(IRN(LQ), FR(HQ))``; FR frozen.
* ``mask``: ``ID(G(z - step * M * g)) + fidelity_weight * L1(G(z - step * M * g), HQ) + sparsity_weight * mean(M)``
  with ``z = E(LQ)``, ``g`` the (constant) FR-distance gradient at ``z`` toward ``FR(HQ)``, ``M`` the soft mask;
  autoencoder and FR frozen.

``noise_seed`` feeds one CPU ``torch.Generator`` for the stage's own randomness (diffusion time and noise), so a
loss evaluated twice on the same batch and seed is the same number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F

from bfrbench.errors import ConfigError
from bfrbench.methods.clrface.autoencoder import VQAutoencoder
from bfrbench.methods.clrface.config import CLRFaceConfig
from bfrbench.methods.clrface.pipeline import build_network, load_state
from bfrbench.methods.clrface.score import VPSDE

__all__ = ["LossFn", "StageSpec", "build_stage"]

LossFn = Callable[[torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class StageSpec:
    """A stage's trainable ``module``, its ``loss(hq, lq, noise_seed) -> (loss, logs)`` and log column names.

    ``aux``/``aux_loss``: an auxiliary network trained in alternation (the autoencoder's discriminator):
    ``aux_loss(hq)`` is called after each main step and returns its loss (or None when inactive).
    ``iteration`` is set by the training loop before each step.
    """

    name: str
    module: nn.Module
    loss: LossFn
    columns: tuple[str, ...]
    fr_path: str | None = None
    aux: nn.Module | None = None
    aux_loss: Callable[[torch.Tensor], torch.Tensor | None] | None = None
    iteration: int = 0


class PatchDiscriminator(nn.Module):
    """PatchGAN (pix2pix / VQGAN): (B, 3, H, W) in [-1, 1] -> (B, 1, H/8 - 2, W/8 - 2) logits.

    ours: VQGAN's ``NLayerDiscriminator`` shape (3 strided 4x4 convs, LeakyReLU 0.2) with GroupNorm instead of
    BatchNorm (batch statistics would make results depend on the DDP split).
    """

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        from bfrbench.methods.clrface._blocks import norm

        c = channels
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 4, 2, 1), norm(2 * c, groups), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 4 * c, 4, 2, 1), norm(4 * c, groups), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * c, 4 * c, 4, 1, 1), norm(4 * c, groups), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * c, 1, 4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _frozen(cfg: CLRFaceConfig, run: Path, stage: str, device: torch.device, needed_by: str) -> nn.Module:
    from bfrbench.methods.clrface.weights_format import _read_safetensors, stage_path

    p = stage_path(run, stage)
    if not p.is_file():
        raise ConfigError(f"stage {needed_by!r} needs the trained {stage!r} stage ({p} is missing): run "
                          f"`bfrbench train clrface --stage {stage} --out {run} ...` first")
    net = build_network(cfg, stage)
    load_state(net, _read_safetensors(p)[0], str(p))
    return net.to(device).eval().requires_grad_(False)


def _autoencoder(cfg: CLRFaceConfig, run: Path, device: torch.device, fr_weights: str | None,
                 seed: int) -> StageSpec:
    ae = build_network(cfg, "autoencoder", seed).to(device)
    pw = cfg.train.perceptual_weight
    lp: nn.Module | None = None
    if pw > 0:
        from bfrbench.errors import WeightsError

        try:
            import lpips

            lp = lpips.LPIPS(net="vgg", verbose=False).to(device).eval().requires_grad_(False)
        except Exception as exc:  # noqa: BLE001 - torchvision's VGG download fails offline
            raise WeightsError(f"autoencoder stage: LPIPS(VGG) for perceptual_weight={pw} could not be built "
                               f"({type(exc).__name__}: {exc}); put torchvision's vgg16 file in "
                               "$TORCH_HOME/hub/checkpoints or set train.perceptual_weight to 0") from None

    aw = cfg.train.adversarial_weight
    disc: nn.Module | None = None
    if aw > 0:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed) ^ 0x5EED)
            disc = PatchDiscriminator(cfg.train.disc_channels, cfg.autoencoder.norm_groups).to(device)
    last: dict[str, torch.Tensor] = {}

    def adversarial_on() -> bool:
        return disc is not None and spec.iteration >= cfg.train.adversarial_start

    def loss(hq: torch.Tensor, lq: torch.Tensor, noise_seed: int) -> tuple[torch.Tensor, dict[str, float]]:
        rec, vq = ae(hq)
        l1 = F.l1_loss(rec, hq)
        total = l1 + vq
        logs = {"l1": float(l1.detach()), "vq": float(vq.detach()), "lpips": 0.0, "g_adv": 0.0, "d_loss": 0.0}
        if lp is not None:
            perc = lp(rec.clamp(-1, 1), hq).mean()
            total = total + pw * perc
            logs["lpips"] = float(perc.detach())
        last["rec"] = rec.detach()
        if adversarial_on():
            assert disc is not None
            disc.requires_grad_(False)
            g_adv = -disc(rec).mean()
            disc.requires_grad_(True)
            total = total + aw * g_adv
            logs["g_adv"] = float(g_adv.detach())
        return total, logs

    def disc_loss(hq: torch.Tensor) -> torch.Tensor | None:
        if not adversarial_on():
            return None
        assert disc is not None
        return 0.5 * (F.relu(1.0 - disc(hq.float())).mean() + F.relu(1.0 + disc(last["rec"].float())).mean())

    spec = StageSpec("autoencoder", ae, loss, ("l1", "vq", "lpips", "g_adv", "d_loss"), aux=disc,
                     aux_loss=disc_loss if disc is not None else None)
    return spec


def _prior(cfg: CLRFaceConfig, run: Path, device: torch.device, fr_weights: str | None,
           seed: int) -> StageSpec:
    ae = cast(VQAutoencoder, _frozen(cfg, run, "autoencoder", device, "prior"))
    net = build_network(cfg, "prior", seed).to(device)
    sde = VPSDE(cfg.score.beta_min, cfg.score.beta_max, cfg.score.t_eps)

    def loss(hq: torch.Tensor, lq: torch.Tensor, noise_seed: int) -> tuple[torch.Tensor, dict[str, float]]:
        with torch.no_grad():
            z0 = ae.quantize(ae.encode(hq))
            cond = ae.encode(lq)
        gen = torch.Generator().manual_seed(int(noise_seed))
        b = z0.shape[0]
        t = sde.t_eps + (1.0 - sde.t_eps) * torch.rand((b,), generator=gen)
        eps = torch.randn(tuple(z0.shape), generator=gen)
        t, eps = t.to(device), eps.to(device)
        pred = net(sde.perturb(z0, t, eps), t, cond)
        mse = F.mse_loss(pred.float(), eps)
        return mse, {"eps_mse": float(mse.detach())}

    return StageSpec("prior", net, loss, ("eps_mse",))


def _irn(cfg: CLRFaceConfig, run: Path, device: torch.device, fr_weights: str | None,
         seed: int) -> StageSpec:
    from bfrbench.methods.clrface.face_recognition import build_fr, gray_resize

    fr, fr_path = build_fr(cfg.fr, fr_weights)
    fr = fr.to(device)
    irn = build_network(cfg, "irn", seed).to(device)

    def loss(hq: torch.Tensor, lq: torch.Tensor, noise_seed: int) -> tuple[torch.Tensor, dict[str, float]]:
        with torch.no_grad():
            target = fr(gray_resize(hq, fr.input_size)).float()
        cos = F.cosine_similarity(irn(lq).float(), target, dim=1)
        d = (1.0 - cos).mean()
        return d, {"id_distance": float(d.detach())}

    return StageSpec("irn", irn, loss, ("id_distance",), fr_path)


def _mask(cfg: CLRFaceConfig, run: Path, device: torch.device, fr_weights: str | None,
          seed: int) -> StageSpec:
    from bfrbench.methods.clrface.face_recognition import (
        build_fr,
        gray_resize,
        identity_distance,
    )
    from bfrbench.methods.clrface.guidance import identity_gradient

    ae = cast(VQAutoencoder, _frozen(cfg, run, "autoencoder", device, "mask"))
    fr, fr_path = build_fr(cfg.fr, fr_weights)
    fr = fr.to(device)
    mask = build_network(cfg, "mask", seed).to(device)
    mc = cfg.mask

    def loss(hq: torch.Tensor, lq: torch.Tensor, noise_seed: int) -> tuple[torch.Tensor, dict[str, float]]:
        with torch.no_grad():
            z = ae.encode(lq)
            target = fr(gray_resize(hq, fr.input_size)).float()
        g = identity_gradient(z, ae.decode, fr, target).detach()
        m = mask.soft()  # type: ignore[operator]
        img = ae.decode(z - mc.step_size * m * g).clamp(-1, 1)
        idd = identity_distance(fr, img, target).mean()
        fid = F.l1_loss(img, hq)
        sparsity = m.mean()
        total = idd + mc.fidelity_weight * fid + mc.sparsity_weight * sparsity
        return total, {"id_distance": float(idd.detach()), "l1": float(fid.detach()), "mask_mean": float(sparsity.detach())}

    return StageSpec("mask", mask, loss, ("id_distance", "l1", "mask_mean"), fr_path)


_BUILDERS: dict[str, Callable[[CLRFaceConfig, Path, torch.device, str | None, int], StageSpec]] = {
    "autoencoder": _autoencoder, "prior": _prior, "irn": _irn, "mask": _mask}


def build_stage(stage: str, cfg: CLRFaceConfig, run: str | Path, device: Any = "cpu",
                fr_weights: str | None = None, init_seed: int = 0) -> StageSpec:
    """The :class:`StageSpec` of ``stage`` (frozen inputs loaded from ``run``; trainable initialised from
    ``init_seed``)."""
    if stage not in _BUILDERS:
        raise ConfigError(f"unknown clrface stage {stage!r}; stages: {', '.join(_BUILDERS)}")
    return _BUILDERS[stage](cfg, Path(run), torch.device(device), fr_weights, init_seed)
