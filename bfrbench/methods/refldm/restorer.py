"""The ``refldm`` restorer: ReF-LDM (Hsiao et al., NeurIPS 2024), native and batched.

Official code: https://github.com/ChiWeiHsiao/ref-ldm (commit af6690c19fdc6421802fd7996510bcfef259bfd1),
``inference.py``. What is identical and what differs is documented in docs/methods/refldm.md.

Per image: LQ (512, 512, 3) uint8 and its references in stored order (K of them, the runner's ``--refs``).
Steps: normalise to [-1, 1]; encode the LQ and the references (as one wide image, like the official code);
CacheKV reference pass once per image; DDIM with CFG; decode; truncate to uint8.

Batching: images of one call are processed in chunks of ``batch_size``. Inside a chunk, references of all
images go through the VQGAN grouped by reference count (the wide-image encoding needs equal widths) and
through the reference pass together; the main UNet pass runs all images at once with the reference K/V padded
to the largest count and masked, so every image's result equals its batch-1 result up to float
re-association (tested).

Randomness: image ``i`` uses ``torch.Generator('cpu').manual_seed(seeds[i])``; ``x_T`` is its first
``randn((1, 8, h, w))`` and each DDIM step draws one more ``randn`` of that shape (also when eta = 0), on CPU, then
moved to the device. With seed 2024 this is the official code's CPU stream (``torch.manual_seed(2024)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from bfrbench.errors import BfrbenchError, ConfigError, MethodError
from bfrbench.methods._base import FACE_SIZE, BatchPartialError, Restorer

__all__ = ["RefLDM", "normalize_image"]


def normalize_image(img: np.ndarray, size: int) -> Any:
    """Official ``read_and_normalize_image`` on an array.

    Args:
        img: (H, W, 3) uint8 RGB.
        size: target side; resized with PIL's default ``Image.resize`` filter (bicubic) only when the size differs.

    Returns:
        (1, 3, size, size) float32 torch tensor in [-1, 1] (``u8 / 127.5 - 1``).
    """
    import torch

    if img.shape[:2] != (size, size):
        from PIL import Image

        img = np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BICUBIC))
    t = torch.from_numpy(np.array(img, dtype=np.uint8, copy=True)).permute(2, 0, 1)[None].float()
    return t / 127.5 - 1.0


def _check_image(img: Any, what: str) -> str | None:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        desc = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        return f"{what} must be an (H, W, 3) uint8 RGB array, got {desc}"
    if min(img.shape[:2]) < 8:
        return f"{what} is too small: {img.shape}"
    return None


class RefLDM(Restorer):
    """ReF-LDM with CacheKV references, DDIM and classifier-free guidance.

    Args:
        weights: refldm.ckpt-layout file (``.ckpt``/``.pt``/``.safetensors``) or a weights-registry name; None:
            the registered ``refldm-unet`` (and ``refldm-vqgan`` when present), resolved from the cache.
        vqgan_weights: vqgan.ckpt-layout file or registry name (needed only when ``weights`` has no VQGAN).
        config: JSON architecture config (official LatentDiffusion params, e.g. the fixtures' tiny config);
            None: the official full-size ``configs/refldm.yaml``.
        steps: DDIM steps (official README 50; the paper's evaluation 100).
        schedule: ``uniform_trailing`` (official default) or ``uniform`` (paper).
        cfg_scale: classifier-free guidance scale (1.0 disables the unconditional branch).
        eta: DDIM eta (0: deterministic given x_T).
        refs: use at most the first ``refs`` references given (None: all the runner passes; see ``--refs``).
        null_refs: images without references are sampled with the CFG null condition made of this many all-zero
            reference latents in both branches (default 5, the training reference count); 0: plain
            self-attention.
        size: side the model works at; faces (and references) are resized to it with PIL bicubic like the official
            ``read_and_normalize_image`` and outputs are resized back to 512 bicubically. None: the config's
            ``image_size`` (512 for the official model, so nothing is resized; 128 for the fixtures' tiny config).
        attention: ``einsum`` (the official formulation: explicit attention weights, float32 softmax), ``sdpa``
            (``torch.nn.functional.scaled_dot_product_attention``: fused kernels, much less memory on GPU, equal up
            to float re-association) or ``auto`` (sdpa on CUDA, einsum elsewhere).
        use_ema: sample with the EMA UNet weights (official inference does).
        allow_pickle: allow full pickle loading of trusted checkpoints that ``weights_only`` cannot read.
        device, dtype, batch_size: see :class:`Restorer`; fp16/bf16 cast the networks (norms, softmax and the DDIM
            arithmetic stay float32).
    """

    name: ClassVar[str] = "refldm"
    paper: ClassVar[str] = "Hsiao et al., ReF-LDM: A Latent Diffusion Model for Reference-based Face Image Restoration, NeurIPS 2024"
    code_url: ClassVar[str] = "https://github.com/ChiWeiHsiao/ref-ldm"
    license: ClassVar[str] = "code: see official repo; weights: non-commercial"
    weights: ClassVar[tuple[str, ...]] = ("refldm-unet", "refldm-vqgan")
    needs_refs: ClassVar[bool] = False
    uses_refs: ClassVar[bool] = True
    max_refs: ClassVar[int] = 8
    stochastic: ClassVar[bool] = True
    default_steps: ClassVar[int | None] = 50
    default_batch_size: ClassVar[int] = 4
    version: ClassVar[str] = "1"

    def __init__(
        self,
        *,
        weights: str | None = None,
        vqgan_weights: str | None = None,
        config: str | None = None,
        steps: int = 50,
        schedule: Literal["uniform_trailing", "uniform"] = "uniform_trailing",
        cfg_scale: float = 1.5,
        eta: float = 0.0,
        refs: int | None = None,
        null_refs: int = 5,
        size: int | None = None,
        attention: Literal["auto", "einsum", "sdpa"] = "auto",
        use_ema: bool = True,
        allow_pickle: bool = False,
        device: str = "cpu",
        dtype: str = "fp32",
        batch_size: int = 4,
    ) -> None:
        super().__init__(device=device, dtype=dtype, batch_size=batch_size)
        from bfrbench.methods.refldm.ddim import SCHEDULES

        if schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
        if not isinstance(steps, int) or not 1 <= steps <= 1000:
            raise ConfigError(f"steps must be an integer in [1, 1000], got {steps!r}")
        if eta < 0:
            raise ConfigError(f"eta must be >= 0, got {eta}")
        if refs is not None and refs < 0:
            raise ConfigError(f"refs must be >= 0 or None, got {refs}")
        if size is not None and (size < 8 or size % 8):
            raise ConfigError(f"size must be a positive multiple of 8 (the VQGAN factor), got {size}")
        if attention not in ("auto", "einsum", "sdpa"):
            raise ConfigError(f"attention must be one of auto, einsum, sdpa, got {attention!r}")
        if null_refs < 0:
            raise ConfigError(f"null_refs must be >= 0, got {null_refs}")
        self.weights_path = weights
        self.vqgan_weights = vqgan_weights
        self.config_path = config
        self.steps = steps
        self.schedule = schedule
        self.cfg_scale = float(cfg_scale)
        self.eta = float(eta)
        self.refs = refs
        self.null_refs = null_refs
        self.size = size
        self.attention = attention
        self.use_ema = use_ema
        self.allow_pickle = allow_pickle
        self._model: Any = None
        self._size = size or 0
        self._files: dict[str, Path] = {}
        self._hashes: dict[str, str | None] | None = None
        self.notes: list[str] = []

    def _config(self) -> dict[str, Any]:
        return {
            "weights": self.weights_path, "vqgan_weights": self.vqgan_weights, "config": self.config_path,
            "steps": self.steps, "schedule": self.schedule, "cfg_scale": self.cfg_scale, "eta": self.eta,
            "refs": self.refs, "null_refs": self.null_refs, "size": self.size, "attention": self.attention,
            "use_ema": self.use_ema, "allow_pickle": self.allow_pickle,
        }

    # -- weights ---------------------------------------------------------------------------------------------
    def _resolve(self) -> dict[str, Path]:
        from bfrbench import weights as W
        from bfrbench.errors import RegistryError

        def one(value: str | None, name: str, required: bool) -> Path | None:
            if value is None:
                if not required and not W.is_present(name):
                    return None
                return W.resolve(name)
            try:
                return W.resolve(value) if value in W.all_weights() else Path(value)
            except RegistryError:
                return Path(value)

        files: dict[str, Path] = {}
        main = one(self.weights_path, "refldm-unet", True)
        assert main is not None
        files["refldm-unet"] = main
        # the registered VQGAN is picked up only alongside the registered refldm.ckpt, never for a user's own file
        vq = None
        if self.vqgan_weights is not None or self.weights_path is None:
            vq = one(self.vqgan_weights, "refldm-vqgan", self.vqgan_weights is not None)
        if vq is not None:
            files["refldm-vqgan"] = vq
        return files

    def model(self) -> Any:
        """The loaded :class:`~bfrbench.methods.refldm.model.RefLDMModel` (built on first use)."""
        if self._model is None:
            from bfrbench.methods.refldm.loading import load_model
            from bfrbench.methods.refldm.model import RefLDMConfig, load_config

            cfg = load_config(self.config_path) if self.config_path else RefLDMConfig()
            self._files = self._resolve()
            model, self.notes = load_model(cfg, self._files["refldm-unet"], self._files.get("refldm-vqgan"),
                                           use_ema=self.use_ema, allow_pickle=self.allow_pickle)
            dev = self.torch_device()
            self._model = model.to(device=dev, dtype=self.torch_dtype())
            backend = self.attention if self.attention != "auto" else ("sdpa" if dev.type == "cuda" else "einsum")
            self._model.unet.set_attention_backend(backend)
            self._size = self.size or cfg.image_size
        return self._model

    def weight_hashes(self) -> dict[str, str | None]:
        if self._hashes is None:
            from bfrbench.weights import weight_hashes

            if not self._files:
                try:
                    self._files = self._resolve()
                except BfrbenchError:
                    return {name: None for name in self.weights}
            # a registered file was verified by resolve(): its digest is reused instead of re-reading GBs
            self._hashes = weight_hashes(self._files)
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
        """Restore a batch (see :class:`Restorer`); images without references use the null condition.

        Args:
            lq: (B, 512, 512, 3) uint8.
            refs: per image, its references (H, W, 3) uint8 in order (resized bicubically to 512 if needed).
            seeds: per image seed (None: 2024 for every image, the official seed).

        Returns:
            (B, 512, 512, 3) uint8.

        Raises:
            MethodError: bad batch shape; BatchPartialError: some images had unusable references.
        """
        if not isinstance(lq, np.ndarray) or lq.dtype != np.uint8 or lq.ndim != 4 or lq.shape[1:] != (FACE_SIZE, FACE_SIZE, 3):
            got = f"{lq.dtype} {lq.shape}" if isinstance(lq, np.ndarray) else type(lq).__name__
            raise MethodError(f"refldm: lq must be (B, {FACE_SIZE}, {FACE_SIZE}, 3) uint8, got {got}")
        b = lq.shape[0]
        refs_list = [list(r) for r in refs] if refs is not None else [[] for _ in range(b)]
        if len(refs_list) != b:
            raise MethodError(f"refldm: got {len(refs_list)} reference lists for {b} images")
        seed_list = [int(s) for s in seeds] if seeds is not None else [2024] * b
        if len(seed_list) != b:
            raise MethodError(f"refldm: got {len(seed_list)} seeds for {b} images")
        if self.refs is not None:
            refs_list = [r[: self.refs] for r in refs_list]
        reasons: list[str | None] = [None] * b
        for i, rl in enumerate(refs_list):
            for j, r in enumerate(rl):
                reasons[i] = reasons[i] or _check_image(r, f"reference {j} of image {i}")
        ok = [i for i in range(b) if reasons[i] is None]
        outputs: list[np.ndarray | None] = [None] * b
        for start in range(0, len(ok), self.batch_size):
            idx = ok[start:start + self.batch_size]
            res = self.restore_tensors(lq[idx], [refs_list[i] for i in idx], [seed_list[i] for i in idx])
            for k, i in enumerate(idx):
                outputs[i] = res[k]
        if len(ok) < b:
            raise BatchPartialError("refldm: some images have unusable references", outputs, reasons)
        return np.stack([o for o in outputs if o is not None])

    def restore_tensors(self, lq: np.ndarray, refs: list[list[np.ndarray]], seeds: list[int]) -> np.ndarray:
        """One chunk: (B, H, W, 3) uint8 LQ, per-image reference lists, seeds -> (B, H, W, 3) uint8 (no checks)."""
        import torch

        from bfrbench.methods.refldm.ddim import ddim_coefficients, initial_noise
        from bfrbench.methods.refldm.model import to_uint8

        m = self.model()
        size = self._size
        with torch.inference_mode():
            x_lq = torch.cat([normalize_image(img, size) for img in lq])
            z_lq = m.vqgan.encode(x_lq.to(m.device))
            _, c, h, w = z_lq.shape
            cond_kv: list[Any] = [None] * len(lq)
            by_count: dict[int, list[int]] = {}
            for i, rl in enumerate(refs):
                by_count.setdefault(len(rl), []).append(i)
            for n, members in sorted(by_count.items()):
                if n == 0:
                    for i in members:
                        cond_kv[i] = [m.null_kv(h, w)] * self.null_refs
                    continue
                wide = torch.cat([torch.cat([normalize_image(r, size) for r in refs[i]], dim=-1) for i in members])
                lat = m.encode_refs(wide, n)  # (len(members) * n, C, h, w)
                kv = m.reference_kv(lat)
                for k, i in enumerate(members):
                    cond_kv[i] = kv[k * n:(k + 1) * n]
            null_counts = [len(rl) if rl else self.null_refs for rl in refs]
            gens = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
            x_T = initial_noise(gens, (c, h, w))
            coeffs = ddim_coefficients(self.steps, self.schedule, self.eta, m.acp)
            z = m.sample(z_lq, cond_kv, null_counts, x_T, coeffs, cfg_scale=self.cfg_scale, generators=gens)
            out = to_uint8(m.decode(z))
        if out.shape[1:3] != lq.shape[1:3]:
            from PIL import Image

            hw = (lq.shape[2], lq.shape[1])
            out = np.stack([np.asarray(Image.fromarray(o).resize(hw, Image.Resampling.BICUBIC)) for o in out])
        return out
