"""ReF-LDM as one module: VQGAN conditioning, the CacheKV reference pass and CFG-guided DDIM sampling.

Follows the inference path of the official ``inference.py`` / ``LatentDiffusion`` (``use_cache_kv=True``) of
https://github.com/ChiWeiHsiao/ref-ldm at commit af6690c19fdc6421802fd7996510bcfef259bfd1, described in
../shared/fixtures/refldm/README.md section 4 (not copied):

* ``z_lq = quant_conv(encoder(lq))``; the references of one image are normalised one by one, concatenated
  along width into one wide image and encoded **at once** (``z_ref`` (1, 8, h, w*N)), then split along width.
  The wide encoding is what the official code does; a reference's latent therefore depends on the others.
* The UNet input is ``[z_t, z_lq]`` along channels. The reference pass (``[z_ref_j, 0]`` at t = 0) runs once per
  image; its K/V are reused at every step (exact, since that pass does not depend on the step).
* CFG null condition: ``z_ref * 0``, i.e. N all-zero reference latents whose K/V are still appended. Their K/V do
  not depend on the image, so they are computed once per latent size and shared.
* Batched CFG rows are ``[uncond rows..., cond rows...]``, as the official ``cat([uc, c])`` for batch 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bfrbench.errors import ConfigError
from bfrbench.methods.refldm.ddim import (
    DDIMCoefficients,
    DDIMTrace,
    NoiseFn,
    alphas_cumprod,
    ddim_sample,
)
from bfrbench.methods.refldm.unet import (
    FULL_UNET_CONFIG,
    UNet,
    UNetConfig,
    stack_ref_kv,
)
from bfrbench.methods.refldm.vqgan import FULL_VQGAN_CONFIG, VQGAN, VQGANConfig

__all__ = ["KV", "RefLDMConfig", "RefLDMModel", "load_config", "to_uint8"]

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per attention layer (k, v), each (heads, ch, T) for one reference


@dataclass(frozen=True)
class RefLDMConfig:
    """Architecture and diffusion schedule. Defaults: the official full-size ``configs/refldm.yaml``."""

    unet: UNetConfig = FULL_UNET_CONFIG
    vqgan: VQGANConfig = FULL_VQGAN_CONFIG
    linear_start: float = 0.0015
    linear_end: float = 0.0155
    timesteps: int = 1000
    image_size: int = 512
    source: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "unet": self.unet.to_dict(),
            "vqgan": self.vqgan.to_dict(),
            "linear_start": self.linear_start,
            "linear_end": self.linear_end,
            "timesteps": self.timesteps,
            "image_size": self.image_size,
        }


def _tuple(v: Any) -> tuple[int, ...]:
    return tuple(int(x) for x in v)


def load_config(path: str | Path) -> RefLDMConfig:
    """Read an official-style LatentDiffusion constructor config from JSON.

    Accepts ``{"config": {"target": ..., "params": {...}}}`` (as in the fixtures' ``tiny_refldm_config.json``),
    the inner ``{"target", "params"}`` dict, or ``{"model": {...}}`` (the layout of ``configs/refldm.yaml``
    converted to JSON).

    Raises:
        ConfigError: unreadable file or a missing/unsupported field (named in the message).
    """
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{p}: cannot read a ReF-LDM config JSON ({exc})") from exc
    node = raw.get("config", raw.get("model", raw)) if isinstance(raw, dict) else None
    if not isinstance(node, dict) or "params" not in node:
        raise ConfigError(f"{p}: expected a LatentDiffusion config with 'params' (optionally under 'config')")
    prm = node["params"]
    try:
        up = prm["unet_config"]["params"]
        fs = prm["first_stage_config"]["params"]
        dd = fs["ddconfig"]
        if up.get("use_spatial_transformer") or up.get("use_scale_shift_norm") or up.get("resblock_updown"):
            raise ConfigError(f"{p}: spatial transformer / scale-shift norm / resblock up-down are not used by "
                              "ReF-LDM and not supported")
        if not prm.get("use_cache_kv", True):
            raise ConfigError(f"{p}: use_cache_kv=false is not supported (ReF-LDM always uses CacheKV)")
        unet = UNetConfig(
            in_channels=int(up["in_channels"]),
            out_channels=int(up["out_channels"]),
            model_channels=int(up["model_channels"]),
            attention_resolutions=_tuple(up["attention_resolutions"]),
            num_res_blocks=int(up["num_res_blocks"]),
            channel_mult=_tuple(up["channel_mult"]),
            num_head_channels=int(up.get("num_head_channels", -1)),
            num_heads=int(up.get("num_heads", -1)),
        )
        vq = VQGANConfig(
            ch=int(dd["ch"]),
            ch_mult=_tuple(dd["ch_mult"]),
            num_res_blocks=int(dd["num_res_blocks"]),
            attn_resolutions=_tuple(dd["attn_resolutions"]),
            in_channels=int(dd["in_channels"]),
            out_ch=int(dd["out_ch"]),
            resolution=int(dd["resolution"]),
            z_channels=int(dd["z_channels"]),
            embed_dim=int(fs["embed_dim"]),
            n_embed=int(fs["n_embed"]),
            double_z=bool(dd.get("double_z", False)),
        )
        return RefLDMConfig(
            unet=unet,
            vqgan=vq,
            linear_start=float(prm.get("linear_start", 0.0015)),
            linear_end=float(prm.get("linear_end", 0.0155)),
            timesteps=int(prm.get("timesteps", 1000)),
            image_size=int(dd["resolution"]),
            source={"path": str(p)},
        )
    except KeyError as exc:
        raise ConfigError(f"{p}: missing field {exc} in the ReF-LDM config") from exc


class RefLDMModel(nn.Module):
    """UNet (``unet``) + VQGAN (``vqgan``) + the float32 ``alphas_cumprod`` schedule."""

    def __init__(self, cfg: RefLDMConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or RefLDMConfig()
        self.unet = UNet(self.cfg.unet)
        self.vqgan = VQGAN(self.cfg.vqgan)
        self.acp: np.ndarray = alphas_cumprod(self.cfg.linear_start, self.cfg.linear_end, self.cfg.timesteps)
        self._null_kv: dict[tuple[int, int], KV] = {}

    @property
    def device(self) -> torch.device:
        return self.unet.time_embed[0].weight.device

    @property
    def latent_channels(self) -> int:
        return self.cfg.vqgan.embed_dim

    # -- conditioning --------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode_refs(self, refs: torch.Tensor, n: int) -> torch.Tensor:
        """Encode each row's references as one wide image.

        Args:
            refs: (B, 3, H, W*n) float in [-1, 1] (the n references of a row side by side, in order).
            n: references per row.

        Returns:
            (B*n, C, h, w) float32 latents, row-major (row b's reference j at b*n + j).
        """
        z = self.vqgan.encode(refs.to(self.device))  # (B, C, h, w*n)
        chunks = z.chunk(n, dim=-1)
        return torch.stack(chunks, dim=1).reshape(-1, z.shape[1], z.shape[2], z.shape[3] // n)

    @torch.no_grad()
    def reference_kv(self, ref_latents: torch.Tensor) -> list[KV]:
        """CacheKV reference pass on R latents (R, C, h, w) -> per reference, per layer (k, v) (heads, ch, T)."""
        kv = self.unet.reference_kv(ref_latents.to(self.device))
        r = ref_latents.shape[0]
        out: list[KV] = [[] for _ in range(r)]
        for k, v in kv:
            ks, vs = k.chunk(r, dim=0), v.chunk(r, dim=0)
            for j in range(r):
                out[j].append((ks[j], vs[j]))
        return out

    @torch.no_grad()
    def null_kv(self, h: int, w: int) -> KV:
        """K/V of one all-zero reference latent (the CFG null condition), cached per latent size."""
        key = (h, w)
        if key not in self._null_kv:
            zeros = torch.zeros(1, self.latent_channels, h, w, device=self.device)
            self._null_kv[key] = self.reference_kv(zeros)[0]
        return self._null_kv[key]

    # -- sampling ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        z_lq: torch.Tensor,
        cond_kv: list[list[KV]],
        null_counts: list[int],
        x_T: torch.Tensor,
        coeffs: DDIMCoefficients,
        *,
        cfg_scale: float = 1.5,
        generators: list[torch.Generator] | None = None,
        noise_fn: NoiseFn | None = None,
        trace: DDIMTrace | None = None,
    ) -> torch.Tensor:
        """Guided DDIM sampling of a batch.

        Args:
            z_lq: (B, C, h, w) float32 LQ latents.
            cond_kv: per image, its references' K/V (from :meth:`reference_kv`), possibly empty.
            null_counts: per image, how many all-zero references the CFG null condition has (the official code:
                as many as the image's references).
            x_T: (B, C, h, w) float32 initial noise.
            coeffs: DDIM coefficients.
            cfg_scale: guidance scale s; 1.0 evaluates only the conditional branch, as the official sampler.
            generators / noise_fn / trace: see :func:`ddim_sample`; ``trace.eps_uncond``/``eps_cond`` are filled too.

        Returns:
            (B, C, h, w) float32 final latent.
        """
        dev = self.device
        z_lq = z_lq.to(dev).float()
        b, _, h, w = z_lq.shape
        use_cfg = cfg_scale != 1.0
        rows: list[list[KV]] = []
        if use_cfg:
            nk = self.null_kv(h, w)
            rows += [[nk] * n for n in null_counts]
        rows += list(cond_kv)
        ref = stack_ref_kv(rows) if any(len(r) for r in rows) else None
        c_in = torch.cat([z_lq, z_lq]) if use_cfg else z_lq

        def eps_fn(x: torch.Tensor, t: torch.Tensor, i: int) -> torch.Tensor:
            x_in = torch.cat([x, x]) if use_cfg else x
            t_in = torch.cat([t, t]) if use_cfg else t
            e, _ = self.unet(torch.cat([x_in, c_in], dim=1), t_in, ref)
            e = e.float()
            if not use_cfg:
                if trace is not None:
                    trace.eps_cond.append(e.detach().cpu().clone())
                return e
            e_u, e_c = e.chunk(2)
            if trace is not None:
                trace.eps_uncond.append(e_u.detach().cpu().clone())
                trace.eps_cond.append(e_c.detach().cpu().clone())
            return e_u + cfg_scale * (e_c - e_u)

        if x_T.shape[0] != b:
            raise ConfigError(f"x_T has batch {x_T.shape[0]}, expected {b}")
        return ddim_sample(eps_fn, x_T.to(dev), coeffs, generators=generators, noise_fn=noise_fn, trace=trace)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Final latent (B, C, h, w) -> image (B, 3, h*f, w*f) float32 (quantize, post_quant_conv, decoder)."""
        return self.vqgan.decode(z.to(self.device))


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """Decoded (B, 3, H, W) float -> (B, H, W, 3) uint8 as the official code: ``((x+1)/2).clamp(0,1)*255`` truncated."""
    x = ((img.float() + 1.0) / 2.0).clamp(0.0, 1.0)
    return (x * 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
