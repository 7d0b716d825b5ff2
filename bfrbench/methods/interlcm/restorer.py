"""The ``interlcm`` restorer: InterLCM (Li et al., ICLR 2025), native, seeded per image and batched.

Official code: https://github.com/sen-mao/InterLCM (commit 2940f43402d7e49cd8ef522c37dfbbb5f4522b15),
``inference_InterLCM.py`` with ``--has_aligned``. What is identical and what differs: docs/methods/interlcm.md.

Weights (all through the weights registry unless a file/folder is given):

* ``interlcm-{visual,spatial}-encoder-{3,1}step``: the released encoders (``params_ema``); ``steps=4`` uses the
  3-step pair, ``steps=2`` the 1-step pair (the official script pairs them the same way);
* ``interlcm-clip-vit-b16``: OpenAI's ViT-B/16 archive;
* ``lcm-dreamshaper-v7-*``: UNet, VAE and scheduler files of the Hugging Face repository
  SimianLuo/LCM_Dreamshaper_v7 at a pinned revision; ``sd15-unet-config``: the SD-1.5 UNet config the Spatial
  Encoder is built from.

Randomness: image ``k`` uses ``torch.Generator('cpu').manual_seed(seeds[k])`` and draws one (1, 4, h, w) normal
tensor per injected noise (N-1 of them), on CPU, then moved to the device; a batch therefore gives each image the
noise it gets alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from bfrbench.errors import BfrbenchError, ConfigError, MethodError
from bfrbench.methods._base import FACE_SIZE, Restorer

__all__ = ["ENCODER_WEIGHTS", "LCM_FILES", "InterLCM"]

#: files of a diffusers LCM pipeline snapshot InterLCM needs (path in the repository -> registry entry)
LCM_FILES: dict[str, str] = {
    "unet/config.json": "lcm-dreamshaper-v7-unet-config",
    "unet/diffusion_pytorch_model.safetensors": "lcm-dreamshaper-v7-unet",
    "vae/config.json": "lcm-dreamshaper-v7-vae-config",
    "vae/diffusion_pytorch_model.safetensors": "lcm-dreamshaper-v7-vae",
    "scheduler/scheduler_config.json": "lcm-dreamshaper-v7-scheduler-config",
}
SD15_UNET_CONFIG = "sd15-unet-config"
CLIP_WEIGHTS = "interlcm-clip-vit-b16"
#: steps -> (visual encoder entry, spatial encoder entry)
ENCODER_WEIGHTS: dict[int, tuple[str, str]] = {
    4: ("interlcm-visual-encoder-3step", "interlcm-spatial-encoder-3step"),
    2: ("interlcm-visual-encoder-1step", "interlcm-spatial-encoder-1step"),
}


class InterLCM(Restorer):
    """InterLCM: the LQ image as an intermediate LCM state, CLIP/Visual-Encoder prompt, ControlNet Spatial Encoder.

    Args:
        steps: LCM inference steps: 4 (timesteps 999, 759, 499, 259; the 3-step weights, the paper's setting) or 2
            (999, 499; the 1-step weights).
        color_fix: ``wavelet`` (the paper's setting), ``adain`` or ``none``.
        visual_encoder: Visual Encoder file (``.pth`` with ``params_ema``, or safetensors) or registry name; None: the
            registered one for ``steps`` (variant weights, e.g. ``visual_encoder_colorization_1step.pth``, go here).
        spatial_encoder: Spatial Encoder file or registry name; None: the registered one for ``steps``.
        clip: OpenAI CLIP checkpoint (``ViT-B-16.pt`` or a state dict) or registry name; None: ``interlcm-clip-vit-b16``.
        lcm: folder of a diffusers LCM pipeline (``unet/``, ``vae/``, ``scheduler/`` as in LCM_Dreamshaper_v7); None:
            the registered ``lcm-dreamshaper-v7-*`` files.
        sd_unet_config: the SD-1.5 UNet ``config.json`` the Spatial Encoder is built from; None: ``sd15-unet-config``.
        arch: JSON with ``visual_encoder`` / ``clip_vit`` constructor arguments (tiny test models); None: full size.
        clip_antialias: antialias the CLIP bicubic resize (False: torchvision <= 0.16 as pinned by the official repo).
        size: side the pipeline works at (official: 512, hard-coded). Faces of another size are resized to it with
            ``cv2.resize(INTER_LINEAR)``, as the official script does for aligned inputs, and results are resized
            back to 512 the same way. Tests use 64, the size of the official tiny fixture runs.
        batch_invariant: True (default): inside a batch the networks run image by image, so every output is
            byte-identical to restoring the image alone (bfrbench's reproducibility rule); False: one batched call
            per network (faster on GPU; equal to the batch-1 result up to float re-association, about 1 grey level).
        guidance_scale: LCM guidance embedding scale (official: 8.0, i.e. w = 7).
        gray_fix: faces detected as gray get the official post-processing (gray output with the input's colour
            statistics; see :mod:`.gray`); skipped, as officially, when ``visual_encoder`` names a colorization model.
        allow_pickle: allow full pickle loading of trusted checkpoints that ``weights_only`` cannot read.
        device, dtype, batch_size: see :class:`Restorer`. fp16/bf16 cast CLIP, Visual Encoder, UNet and ControlNet
            (and the VAE unless its config sets ``force_upcast`` for fp16); scheduler arithmetic stays float32.
    """

    name: ClassVar[str] = "interlcm"
    paper: ClassVar[str] = ("Li et al., InterLCM: Low-Quality Images as Intermediate States of Latent Consistency "
                            "Models for Effective Blind Face Restoration, ICLR 2025")
    code_url: ClassVar[str] = "https://github.com/sen-mao/InterLCM"
    license: ClassVar[str] = "weights CC BY-NC 4.0 (InterLCM); LCM_Dreamshaper_v7 and SD-1.5: see their model cards"
    weights: ClassVar[tuple[str, ...]] = (*ENCODER_WEIGHTS[4], CLIP_WEIGHTS, *LCM_FILES.values(), SD15_UNET_CONFIG)
    stochastic: ClassVar[bool] = True
    default_steps: ClassVar[int | None] = 4
    default_batch_size: ClassVar[int] = 4
    version: ClassVar[str] = "1"

    def __init__(
        self,
        *,
        steps: Literal[4, 2] = 4,
        color_fix: Literal["wavelet", "adain", "none"] = "wavelet",
        visual_encoder: str | None = None,
        spatial_encoder: str | None = None,
        clip: str | None = None,
        lcm: str | None = None,
        sd_unet_config: str | None = None,
        arch: str | None = None,
        clip_antialias: bool = False,
        size: int = 512,
        batch_invariant: bool = True,
        guidance_scale: float = 8.0,
        gray_fix: bool = True,
        allow_pickle: bool = False,
        device: str = "cpu",
        dtype: str = "fp32",
        batch_size: int = 4,
    ) -> None:
        super().__init__(device=device, dtype=dtype, batch_size=batch_size)
        if steps not in ENCODER_WEIGHTS:
            raise ConfigError(f"steps must be 4 (3-step weights) or 2 (1-step weights), got {steps!r}")
        if color_fix not in ("wavelet", "adain", "none"):
            raise ConfigError(f"color_fix must be one of wavelet, adain, none, got {color_fix!r}")
        if lcm is not None and not Path(lcm).is_dir():
            raise ConfigError(f"lcm={lcm!r}: not a folder (expected a diffusers pipeline with unet/, vae/, scheduler/)")
        self.steps = steps
        self.color_fix = color_fix
        self.visual_encoder = visual_encoder
        self.spatial_encoder = spatial_encoder
        self.clip = clip
        self.lcm = lcm
        self.sd_unet_config = sd_unet_config
        self.arch = arch
        if not isinstance(size, int) or size < 16 or size % 8:
            raise ConfigError(f"size must be a multiple of 8 (the VAE factor) >= 16, got {size!r}")
        self.clip_antialias = bool(clip_antialias)
        self.size = size
        self.batch_invariant = bool(batch_invariant)
        self.guidance_scale = float(guidance_scale)
        self.gray_fix = bool(gray_fix)
        self.allow_pickle = allow_pickle
        self._nets: Any = None
        self._files: dict[str, Path] = {}
        self._hashes: dict[str, str | None] | None = None

    def _config(self) -> dict[str, Any]:
        return {"steps": self.steps, "color_fix": self.color_fix, "visual_encoder": self.visual_encoder,
                "spatial_encoder": self.spatial_encoder, "clip": self.clip, "lcm": self.lcm,
                "sd_unet_config": self.sd_unet_config, "arch": self.arch, "clip_antialias": self.clip_antialias,
                "size": self.size, "batch_invariant": self.batch_invariant,
                "guidance_scale": self.guidance_scale, "gray_fix": self.gray_fix, "allow_pickle": self.allow_pickle}

    # -- weights ---------------------------------------------------------------------------------------------
    def resolve_files(self) -> dict[str, Path]:
        """Local path of every file, keyed by its registry name (or the role for user files); verified if registered."""
        from bfrbench import weights as W

        def one(value: str | None, default: str) -> tuple[str, Path]:
            if value is None:
                return default, W.resolve(default)
            if value in W.all_weights():
                return value, W.resolve(value)
            p = Path(value)
            if not p.is_file():
                raise ConfigError(f"{value!r}: neither a file nor a registered weight name (for {default})")
            return default, p

        ve_name, se_name = ENCODER_WEIGHTS[self.steps]
        files = dict([one(self.visual_encoder, ve_name), one(self.spatial_encoder, se_name),
                      one(self.clip, CLIP_WEIGHTS), one(self.sd_unet_config, SD15_UNET_CONFIG)])
        for rel, entry in LCM_FILES.items():
            if self.lcm is None:
                files[entry] = W.resolve(entry)
            else:
                p = Path(self.lcm) / rel
                if not p.is_file():
                    raise ConfigError(f"lcm={self.lcm!r}: missing {rel} (a diffusers LCM pipeline snapshot is expected)")
                files[entry] = p
        return files

    def networks(self) -> Any:
        """The loaded :class:`~bfrbench.methods.interlcm.pipeline.InterLCMNetworks` (built on first use)."""
        if self._nets is None:
            from bfrbench.methods.interlcm.build import build_networks

            self._files = self.resolve_files()
            self._nets = build_networks(self._files, steps=self.steps, arch=self.arch, device=self.torch_device(),
                                        dtype=self.torch_dtype(), allow_pickle=self.allow_pickle)
        return self._nets

    def weight_hashes(self) -> dict[str, str | None]:
        if self._hashes is None:
            from bfrbench.weights import weight_hashes

            if not self._files:
                try:
                    self._files = self.resolve_files()
                except BfrbenchError:
                    return {name: None for name in self.weights}
            self._hashes = weight_hashes(self._files)  # registered files: their verified digest, others hashed
        return dict(self._hashes)

    # -- work -----------------------------------------------------------------------------------------------
    def restore(
        self,
        lq: np.ndarray,
        *,
        refs: Sequence[Sequence[np.ndarray]] | None = None,
        seeds: Sequence[int] | None = None,
        context: Sequence[dict[str, Any]] | None = None,
    ) -> np.ndarray:
        """Restore a batch (see :class:`Restorer`); references are not used.

        Args:
            lq: (B, 512, 512, 3) uint8 RGB aligned faces.
            seeds: per-image seeds (None: 0 for every image).

        Returns:
            (B, 512, 512, 3) uint8 RGB.
        """
        if not isinstance(lq, np.ndarray) or lq.dtype != np.uint8 or lq.ndim != 4 or lq.shape[1:] != (FACE_SIZE, FACE_SIZE, 3):
            got = f"{lq.dtype} {lq.shape}" if isinstance(lq, np.ndarray) else type(lq).__name__
            raise MethodError(f"interlcm: lq must be (B, {FACE_SIZE}, {FACE_SIZE}, 3) uint8, got {got}")
        seed_list = [int(s) for s in seeds] if seeds is not None else [0] * lq.shape[0]
        if len(seed_list) != lq.shape[0]:
            raise MethodError(f"interlcm: got {len(seed_list)} seeds for {lq.shape[0]} images")
        out = [self.restore_chunk(lq[i:i + self.batch_size], seed_list[i:i + self.batch_size])
               for i in range(0, lq.shape[0], self.batch_size)]
        return np.concatenate(out)

    def restore_chunk(self, lq: np.ndarray, seeds: Sequence[int]) -> np.ndarray:
        """One chunk: (B, H, W, 3) uint8 and B seeds -> (B, H, W, 3) uint8 (no input checks)."""
        import cv2

        from bfrbench.methods.interlcm.pipeline import (
            run_pipeline,
            seeded_noise,
            to_model_input,
            to_uint8,
        )

        nets = self.networks()
        s = self.size
        x = lq if lq.shape[1:3] == (s, s) else np.stack([cv2.resize(im, (s, s), interpolation=cv2.INTER_LINEAR)
                                                         for im in lq])
        groups = [[i] for i in range(len(x))] if self.batch_invariant else [list(range(len(x)))]
        outs = []
        for g in groups:
            img = run_pipeline(nets, to_model_input(x[g]), seeded_noise([seeds[i] for i in g], (4, s // 8, s // 8)),
                               color=self.color_fix, antialias=self.clip_antialias, guidance_scale=self.guidance_scale)
            outs.append(to_uint8(img))
        out = np.concatenate(outs)
        if out.shape[1:3] != lq.shape[1:3]:
            out = np.stack([cv2.resize(o, (lq.shape[2], lq.shape[1]), interpolation=cv2.INTER_LINEAR) for o in out])
        if self.gray_fix and "colorization" not in (self.visual_encoder or ""):
            from bfrbench.methods.interlcm.gray import gray_color_transfer, is_gray

            out = np.stack([gray_color_transfer(o, q) if is_gray(q) else o for o, q in zip(out, lq)])
        return out
