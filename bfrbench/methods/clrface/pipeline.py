"""The assembled CLR-Face model: networks built from a config, loaded from the weights format, and inference.

Inference per image (ours where the paper body was not reachable; see the modules named):

1. LQ uint8 (S, S, 3) -> [-1, 1] float32, area-resized to ``image_size`` when S differs (tiny configs).
2. ``c = E(LQ)`` continuous latent (autoencoder.py).
3. Reverse diffusion of the clean latent conditioned on ``c`` (score.py, sampler.py), with the masked
   identity gradient toward ``IRN(LQ)`` when guidance is on (irn.py, mask.py, guidance.py).
4. Normalise each latent position to unit length (the codes' sphere), snap to the codebook (optional), decode, clamp, ``round((x + 1) * 127.5)`` to uint8, bicubic back to S.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from bfrbench.errors import ArtifactError
from bfrbench.methods.clrface.autoencoder import VQAutoencoder
from bfrbench.methods.clrface.config import CLRFaceConfig
from bfrbench.methods.clrface.irn import IdentityRecoveryNetwork
from bfrbench.methods.clrface.mask import LatentMask
from bfrbench.methods.clrface.sampler import Guidance, sample
from bfrbench.methods.clrface.score import VPSDE, ScoreUNet

__all__ = ["CLRFacePipeline", "build_network", "build_networks", "load_state", "to_tensor", "to_uint8"]


def build_network(cfg: CLRFaceConfig, stage: str, init_seed: int | None = None) -> nn.Module:
    """A fresh network of ``stage`` with torch's default initialisation.

    ``init_seed``: draw the initial weights with torch's RNG seeded to it inside ``torch.random.fork_rng`` (the
    global state is restored afterwards), so a training run's initial weights are a function of its seed.
    """
    def make() -> nn.Module:
        if stage == "autoencoder":
            return VQAutoencoder(cfg.autoencoder)
        if stage == "prior":
            return ScoreUNet(cfg.score, cfg.autoencoder.latent_channels)
        if stage == "irn":
            return IdentityRecoveryNetwork(cfg.irn, cfg.fr.embedding)
        if stage == "mask":
            return LatentMask(cfg.mask, cfg.autoencoder.latent_channels, cfg.latent_size)
        raise ArtifactError(f"unknown clrface stage {stage!r}")

    if init_seed is None:
        return make()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(init_seed))
        return make()


def build_networks(cfg: CLRFaceConfig) -> dict[str, nn.Module]:
    """Fresh networks of every stage, keyed by stage name."""
    return {s: build_network(cfg, s) for s in ("autoencoder", "prior", "irn", "mask")}


def load_state(module: nn.Module, state: dict[str, Any], where: str) -> None:
    """Strict load; ArtifactError naming ``where`` on missing/unexpected keys or shape mismatches."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        lines = str(exc).splitlines()
        raise ArtifactError(f"{where}: weights do not match the config: {' '.join(lines[:3])}") from None


def to_tensor(imgs: np.ndarray, size: int) -> torch.Tensor:
    """(B, S, S, 3) uint8 -> (B, 3, size, size) float32 in [-1, 1] (cv2 INTER_AREA resize when S != size)."""
    if imgs.shape[1] != size:
        import cv2

        imgs = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in imgs])
    t = torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2).float()
    return t / 127.5 - 1.0


def to_uint8(x: torch.Tensor, size: int) -> np.ndarray:
    """(B, 3, s, s) in [-1, 1] -> (B, size, size, 3) uint8 (cv2 INTER_CUBIC resize when s != size)."""
    arr = ((x.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    if arr.shape[1] != size:
        import cv2

        arr = np.stack([cv2.resize(a, (size, size), interpolation=cv2.INTER_CUBIC) for a in arr])
    return np.ascontiguousarray(arr)


class CLRFacePipeline:
    """Loaded networks on a device/dtype plus the sampler.

    Args:
        cfg: the run's config.
        states: per-stage state dicts (``autoencoder`` and ``prior`` required).
        device, dtype: where the networks run (sampler arithmetic stays float32).
        fr_weights: override of ``cfg.fr.weights`` (registry name or file).
        guided: build IRN, mask and FR (needs their states).
    """

    def __init__(self, cfg: CLRFaceConfig, states: dict[str, dict[str, Any]], *, device: torch.device,
                 dtype: torch.dtype, fr_weights: str | None = None, guided: bool = True) -> None:
        need = ["autoencoder", "prior"] + (["irn", "mask"] if guided else [])
        missing = [s for s in need if s not in states]
        if missing:
            raise ArtifactError(f"clrface weights lack stage(s) {', '.join(missing)}: train them with "
                                f"`bfrbench train clrface --stage {missing[0]} ...` into the same run folder")
        nets = {s: build_network(cfg, s) for s in need}
        self.cfg, self.device, self.dtype = cfg, device, dtype
        self.sde = VPSDE(cfg.score.beta_min, cfg.score.beta_max, cfg.score.t_eps)
        for s in need:
            load_state(nets[s], states[s], f"clrface stage {s!r}")
            nets[s].eval().requires_grad_(False)
        self.ae: VQAutoencoder = nets["autoencoder"].to(device=device, dtype=dtype)  # type: ignore[assignment]
        self.score: ScoreUNet = nets["prior"].to(device=device, dtype=dtype)  # type: ignore[assignment]
        self.irn: IdentityRecoveryNetwork | None = None
        self.mask: torch.Tensor | None = None
        self.fr: Any = None
        self.fr_path: str | None = None
        if guided:
            from bfrbench.methods.clrface.face_recognition import build_fr

            self.irn = nets["irn"].to(device=device, dtype=dtype)  # type: ignore[assignment]
            self.mask = nets["mask"].hard().to(device=device)  # type: ignore[operator]
            fr, self.fr_path = build_fr(cfg.fr, fr_weights)
            self.fr = fr.to(device=device, dtype=dtype)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """float32 latent -> float32 image (networks in ``self.dtype``)."""
        return self.ae.decode(z.to(self.dtype)).float()

    def restore(self, lq: np.ndarray, seeds: Sequence[int], *, steps: int, eta: float, guidance: float,
                fused: bool = False) -> np.ndarray:
        """(B, S, S, 3) uint8 LQ + one seed per image -> (B, S, S, 3) uint8 restored.

        ``fused=False`` runs the networks image by image, so each result is byte-identical to restoring the image
        alone (CPU and GPU convolution/GEMM kernels change with the batch size, which moves float results by
        ~1e-6 and can flip a rounded pixel); ``fused=True`` evaluates the whole chunk at once (faster on GPU,
        equal up to float re-association).
        """
        if not fused and len(lq) > 1:
            return np.concatenate([self.restore(lq[i:i + 1], [seeds[i]], steps=steps, eta=eta, guidance=guidance)
                                   for i in range(len(lq))])
        cfg = self.cfg
        x = to_tensor(lq, cfg.image_size).to(self.device)
        gens = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]
        with torch.no_grad():
            cond = self.ae.encode(x.to(self.dtype)).float()
            guide = None
            if guidance != 0.0 and self.irn is not None and self.mask is not None and self.fr is not None:
                target = self.irn(x.to(self.dtype)).float()
                guide = Guidance(mask=self.mask, fr=self.fr, target=target, decode=self.decode, strength=guidance,
                                 until=cfg.sampler.guidance_until)

            def eps_fn(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                return self.score(z.to(self.dtype), t, cond.to(self.dtype)).float()

            proj = (lambda v: torch.nn.functional.normalize(v, dim=1)) if cfg.sampler.project_x0 else None
            z0 = sample(eps_fn, self.sde, cond, gens, steps=steps, eta=eta, start=cfg.sampler.start_t, guidance=guide,
                        project=proj)
            z0 = torch.nn.functional.normalize(z0, dim=1)  # the decoder's input space: unit vectors per position
            if cfg.sampler.quantize_output:
                z0 = self.ae.quantize(z0.to(self.dtype)).float()
            out = self.decode(z0)
        return to_uint8(out, lq.shape[1])
