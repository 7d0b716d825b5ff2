"""The ``clrface`` restorer: CLR-Face (Suin & Chellappa, IJCAI 2024), reimplemented, with weights you train.

No official code or weights exist (paper: arXiv:2402.06106); this adapter runs the bfrbench reimplementation
(docs/methods/clrface.md) from a run folder or bundle written by ``bfrbench train clrface``. Without
``weights`` it refuses with a ConfigError that says how to train them.

Per image: seed -> one CPU ``torch.Generator`` (initial latent noise, then one draw per step when eta > 0);
LQ -> E(LQ) -> guided reverse diffusion -> codebook snap -> decode (pipeline.py). ``batch_mode=exact`` (default)
runs the networks image by image inside each chunk so a batch equals its images restored one by one, byte for
byte; ``fused`` runs a chunk at once (faster on GPU, equal up to float re-association).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from bfrbench.errors import ConfigError, MethodError
from bfrbench.methods._base import FACE_SIZE, Restorer

__all__ = ["CLRFace"]

TRAIN_HINT = ("CLR-Face has no published weights: train them with bfrbench, e.g.\n"
              "  for s in autoencoder prior irn mask; do bfrbench train clrface --stage $s --faces FACES_DIR "
              "--recipe gfpgan --out RUN --iters N; done\n"
              "then pass `options` weights=RUN (see docs/methods/clrface.md)")


class CLRFace(Restorer):
    """CLR-Face reimplementation.

    Args:
        weights: run folder (RUN/config.json + RUN/<stage>.safetensors) or a bundle ``.safetensors`` file.
        steps: reverse-diffusion steps (None: the run config's ``sampler.steps``).
        eta: DDIM eta (None: the config's).
        guidance: identity-gradient strength on masked latent features (None: the config's when the run has the
            irn and mask stages, else 0; 0 disables guidance).
        fr_weights: face-recognition weights override (registry name or file; default: the run config's).
        batch_mode: ``exact`` (byte-identical to batch 1) or ``fused``.
        device, dtype, batch_size: see :class:`Restorer`; fp16/bf16 cast the networks (sampler math stays fp32).
    """

    name: ClassVar[str] = "clrface"
    paper: ClassVar[str] = ("Suin & Chellappa, CLR-Face: Conditional Latent Refinement for Blind Face Restoration "
                            "Using Score-Based Diffusion Models, IJCAI 2024 (arXiv:2402.06106); bfrbench "
                            "reimplementation")
    code_url: ClassVar[str] = ""
    license: ClassVar[str] = "bfrbench reimplementation; weights: whatever you trained them on"
    #: registered files it can use: the face-recognition network of the identity guidance (the CLR-Face networks
    #: themselves are trained by the user and passed with ``weights=``)
    weights: ClassVar[tuple[str, ...]] = ("arcface-resnet18-gfpgan",)
    stochastic: ClassVar[bool] = True
    default_steps: ClassVar[int | None] = 50
    default_batch_size: ClassVar[int] = 4
    version: ClassVar[str] = "1"

    def __init__(
        self,
        *,
        weights: str | None = None,
        steps: int | None = None,
        eta: float | None = None,
        guidance: float | None = None,
        fr_weights: str | None = None,
        batch_mode: Literal["exact", "fused"] = "exact",
        device: str = "cpu",
        dtype: str = "fp32",
        batch_size: int = 4,
    ) -> None:
        super().__init__(device=device, dtype=dtype, batch_size=batch_size)
        if not weights:
            raise ConfigError("clrface needs `options` weights=RUN_OR_FILE. " + TRAIN_HINT)
        if not Path(weights).exists():
            raise ConfigError(f"clrface weights {weights!r} do not exist. " + TRAIN_HINT)
        if steps is not None and (not isinstance(steps, int) or not 1 <= steps <= 10000):
            raise ConfigError(f"steps must be an integer in [1, 10000], got {steps!r}")
        if eta is not None and eta < 0:
            raise ConfigError(f"eta must be >= 0, got {eta}")
        if batch_mode not in ("exact", "fused"):
            raise ConfigError(f"batch_mode must be exact or fused, got {batch_mode!r}")
        self.weights_path = str(weights)
        self.steps, self.eta, self.guidance = steps, eta, guidance
        self.fr_weights = fr_weights
        self.batch_mode = batch_mode
        self._pipe: Any = None
        self._strength = 0.0  # resolved in pipeline()
        self._files: dict[str, Path] = {}
        self._hashes: dict[str, str | None] | None = None
        self.notes: list[str] = []

    def _config(self) -> dict[str, Any]:
        return {"weights": self.weights_path, "steps": self.steps, "eta": self.eta, "guidance": self.guidance,
                "fr_weights": self.fr_weights, "batch_mode": self.batch_mode}

    def pipeline(self) -> Any:
        """The loaded :class:`~bfrbench.methods.clrface.pipeline.CLRFacePipeline` (built on first use)."""
        if self._pipe is None:
            from bfrbench.methods.clrface.pipeline import CLRFacePipeline
            from bfrbench.methods.clrface.weights_format import load_weights

            cfg, states, self._files = load_weights(self.weights_path)
            has_guidance = "irn" in states and "mask" in states
            if self.guidance is None:
                self._strength = cfg.sampler.guidance if has_guidance else 0.0
                if not has_guidance:
                    self.notes.append("run has no irn/mask stages: identity guidance off")
            else:
                self._strength = float(self.guidance)
            self._pipe = CLRFacePipeline(cfg, states, device=self.torch_device(), dtype=self.torch_dtype(),
                                         fr_weights=self.fr_weights, guided=self._strength != 0.0)
            if self._pipe.fr_path is None and self._strength != 0.0:
                self.notes.append("face-recognition network has seeded random weights (test config): the identity "
                                  "gradient is meaningless")
        return self._pipe

    def weight_hashes(self) -> dict[str, str | None]:
        if self._hashes is None:
            from bfrbench.io import sha256_file

            pipe = self.pipeline()
            files = {f"clrface-{k}": p for k, p in self._files.items()}
            if pipe.fr_path is not None:
                files["clrface-fr"] = Path(pipe.fr_path)
            self._hashes = {k: sha256_file(p) for k, p in files.items()}
        return dict(self._hashes)

    def restore(
        self,
        lq: np.ndarray,
        *,
        refs: Sequence[Sequence[np.ndarray]] | None = None,
        seeds: Sequence[int] | None = None,
        context: Sequence[dict[str, Any]] | None = None,
    ) -> np.ndarray:
        """(B, 512, 512, 3) uint8 -> (B, 512, 512, 3) uint8; ``seeds`` per image (None: 0 for every image)."""
        if not isinstance(lq, np.ndarray) or lq.dtype != np.uint8 or lq.ndim != 4 or lq.shape[1:] != (FACE_SIZE, FACE_SIZE, 3):
            got = f"{lq.dtype} {lq.shape}" if isinstance(lq, np.ndarray) else type(lq).__name__
            raise MethodError(f"clrface: lq must be (B, {FACE_SIZE}, {FACE_SIZE}, 3) uint8, got {got}")
        seed_list = [int(s) for s in seeds] if seeds is not None else [0] * len(lq)
        if len(seed_list) != len(lq):
            raise MethodError(f"clrface: got {len(seed_list)} seeds for {len(lq)} images")
        pipe = self.pipeline()
        cfg = pipe.cfg
        steps = self.steps or cfg.sampler.steps
        eta = cfg.sampler.eta if self.eta is None else float(self.eta)
        outs = []
        for s in range(0, len(lq), self.batch_size):
            outs.append(pipe.restore(lq[s:s + self.batch_size], seed_list[s:s + self.batch_size], steps=steps,
                                     eta=eta, guidance=self._strength, fused=self.batch_mode == "fused"))
        return np.concatenate(outs)
