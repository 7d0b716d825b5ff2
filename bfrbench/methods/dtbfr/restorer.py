"""The ``dtbfr`` restorer: a DT-BFR fine-tuned SwinIR (inference is the restorer alone), native and batched.

Source: SamsungLabs/DT-BFR commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd, ``run_swinir.py`` with
``sampler.py::DifIRSampler.restore_func_ir_aligned``: the aligned 512x512 LQ face (RGB, /255) goes through
SwinIR, the output is clamped to [0, 1] and saved as ``round(255 * y)`` uint8. No diffusion at test time.

Which weights (first match):

* ``run=RUN``: a fine-tuning run of ``bfrbench finetune dtbfr`` (``RUN/model.json``: the fine-tuned weights, their
  SHA-256 and the SwinIR architecture; the file is verified before use);
* ``weights=FILE|NAME`` with ``config=``: any SwinIR checkpoint in the official layout (default: the registered
  pre-trained ``dtbfr-swinir-gan-v1``, i.e. the model *before* fine-tuning); ``config`` is ``gan-v1``
  (``configs/main/swinir_gan.yaml``), ``tiny`` (the fixtures' test model) or a JSON file of SwinIR constructor
  arguments.

``size`` lets CPU tests work at a smaller side (faces are resized with INTER_AREA, outputs back with bicubic);
None (default) runs at 512 like the official script. fp16/bf16 cast the network; the clamp and rounding are done
in float32.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bfrbench.errors import ArtifactError, BfrbenchError, ConfigError, MethodError
from bfrbench.methods._base import FACE_SIZE, Restorer

__all__ = ["DTBFR", "MODEL_RECORD", "read_model_record", "swinir_config_from"]

MODEL_RECORD = "model.json"
DEFAULT_WEIGHTS = "dtbfr-swinir-gan-v1"


def read_model_record(run: str | Path) -> dict[str, Any]:
    """``RUN/model.json`` of a fine-tuning run, with ``weights`` made absolute and its SHA-256 verified.

    Raises:
        ArtifactError: missing/unreadable record, missing weights file or checksum mismatch.
    """
    from bfrbench.io import sha256_file

    path = Path(run) / MODEL_RECORD
    if not path.is_file():
        raise ArtifactError(f"{run}: no {MODEL_RECORD}; is this a finished `bfrbench finetune dtbfr` run? "
                            "(rerun the command to finish it)")
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
        weights = Path(run) / rec["weights"]
        digest, cfg = rec["weights_sha256"], dict(rec["swinir_config"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path}: not a DT-BFR model record ({exc})") from exc
    if not weights.is_file():
        raise ArtifactError(f"{path}: weights file {weights} is missing")
    if sha256_file(weights) != digest:
        raise ArtifactError(f"{weights}: SHA-256 differs from {path}; the file was changed or is incomplete")
    return {**rec, "weights": str(weights), "swinir_config": cfg}


def swinir_config_from(config: str | dict[str, Any] | None) -> Any:
    """A :class:`~bfrbench.methods.dtbfr.swinir.SwinIRConfig` from a preset name, a JSON file or a dict.

    A JSON file may hold the constructor arguments directly or under ``"swinir"`` (a fine-tuning model config).
    """
    from bfrbench.methods.dtbfr.swinir import SwinIRConfig, swinir_config

    if config is None or config in ("gan-v1", "tiny"):
        return swinir_config(config or "gan-v1")  # type: ignore[arg-type]
    if isinstance(config, dict):
        d = config
    else:
        p = Path(config)
        if not p.is_file():
            raise ConfigError(f"SwinIR config {config!r}: not 'gan-v1', 'tiny' or an existing JSON file")
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"{p}: not valid JSON ({exc})") from exc
    if isinstance(d.get("swinir"), dict):
        d = d["swinir"]
    return SwinIRConfig.from_dict(dict(d))


class DTBFR(Restorer):
    """DT-BFR: SwinIR fine-tuned on pseudo-targets from a diffusion prior (inference = SwinIR alone).

    Args:
        run: folder of a finished ``bfrbench finetune dtbfr`` run (its ``model.json``).
        weights: SwinIR checkpoint file or weights-registry name (ignored with ``run``); None: the pre-trained
            ``dtbfr-swinir-gan-v1``.
        config: SwinIR architecture for ``weights``: ``gan-v1`` (default), ``tiny`` or a JSON file.
        size: working side (None: 512, official); faces are resized to it and results back to 512.
        allow_pickle: allow full pickle loading of a trusted ``.pth`` that ``weights_only`` cannot read.
        device, dtype, batch_size: see :class:`Restorer`.
    """

    name: ClassVar[str] = "dtbfr"
    paper: ClassVar[str] = ("Kuai et al., Towards Unsupervised Blind Face Restoration using Diffusion Prior, "
                            "WACV 2025")
    code_url: ClassVar[str] = "https://github.com/SamsungLabs/DT-BFR"
    license: ClassVar[str] = "see SamsungLabs/DT-BFR LICENSE (research use)"
    weights: ClassVar[tuple[str, ...]] = (DEFAULT_WEIGHTS,)
    stochastic: ClassVar[bool] = False
    default_batch_size: ClassVar[int] = 4
    version: ClassVar[str] = "1"

    def __init__(self, *, run: str | None = None, weights: str | None = None, config: str | None = None,
                 size: int | None = None, allow_pickle: bool = False, device: str = "cpu", dtype: str = "fp32",
                 batch_size: int = 4) -> None:
        super().__init__(device=device, dtype=dtype, batch_size=batch_size)
        if size is not None and (size < 8 or size % 8):
            raise ConfigError(f"size must be a positive multiple of 8 (SwinIR unshuffles by 8), got {size}")
        if run is not None and (weights is not None or config is not None):
            raise ConfigError("give either run=RUN or weights=/config=, not both")
        self.run, self.weights_path, self.config_path = run, weights, config
        self.size, self.allow_pickle = size, allow_pickle
        self._model: Any = None
        self._file: Path | None = None
        self._hash: str | None = None

    def _config(self) -> dict[str, Any]:
        return {"run": self.run, "weights": self.weights_path, "config": self.config_path, "size": self.size,
                "allow_pickle": self.allow_pickle}

    def _resolve(self) -> tuple[Path, Any, str | None]:
        """(weights file, SwinIRConfig, known SHA-256 or None)."""
        from bfrbench import weights as W
        from bfrbench.errors import RegistryError

        if self.run is not None:
            rec = read_model_record(self.run)
            return Path(rec["weights"]), swinir_config_from(rec["swinir_config"]), rec["weights_sha256"]
        value = self.weights_path or DEFAULT_WEIGHTS
        try:
            path = W.resolve(value) if value in W.all_weights() else Path(value)
        except RegistryError:
            path = Path(value)
        known = W.expected_sha256(value) if value in W.all_weights() else None
        return path, swinir_config_from(self.config_path), known

    def model(self) -> Any:
        """The loaded SwinIR in eval mode on the device, in the run dtype (built on first use)."""
        if self._model is None:
            from bfrbench.methods.dtbfr.loading import load_swinir

            path, cfg, known = self._resolve()
            self._file, self._hash = path, known
            self._model = load_swinir(path, cfg, device=self.torch_device(), dtype=self.torch_dtype(),
                                      allow_pickle=self.allow_pickle)
        return self._model

    def weight_hashes(self) -> dict[str, str | None]:
        from bfrbench.io import sha256_file

        try:
            if self._file is None:
                self._file, _, self._hash = self._resolve()
            if self._hash is None:
                self._hash = sha256_file(self._file)
        except (BfrbenchError, OSError):
            return {"swinir": None}
        return {"swinir": self._hash}

    def restore(self, lq: np.ndarray, *, refs: Sequence[Sequence[np.ndarray]] | None = None,
                seeds: Sequence[int] | None = None, context: Sequence[dict[str, Any]] | None = None) -> np.ndarray:
        """(B, 512, 512, 3) uint8 LQ faces -> (B, 512, 512, 3) uint8 restored, in chunks of ``batch_size``."""
        shape = (FACE_SIZE, FACE_SIZE, 3)
        if not isinstance(lq, np.ndarray) or lq.dtype != np.uint8 or lq.ndim != 4 or lq.shape[1:] != shape:
            got = f"{lq.dtype} {lq.shape}" if isinstance(lq, np.ndarray) else type(lq).__name__
            raise MethodError(f"dtbfr: lq must be (B, {FACE_SIZE}, {FACE_SIZE}, 3) uint8, got {got}")
        return np.concatenate([self.restore_chunk(lq[s:s + self.batch_size])
                               for s in range(0, len(lq), self.batch_size)])

    def restore_chunk(self, lq: np.ndarray) -> np.ndarray:
        """One forward: (b, H, W, 3) uint8 -> (b, H, W, 3) uint8 (``clamp(SwinIR(x / 255), 0, 1)``, rounded)."""
        import cv2
        import torch

        m = self.model()
        imgs = lq if self.size is None else np.stack(
            [cv2.resize(x, (self.size, self.size), interpolation=cv2.INTER_AREA) for x in lq])
        x = torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2).float() / 255.0
        dev, dt = self.torch_device(), self.torch_dtype()
        # fp16/bf16: weights cast to the dtype and the forward under autocast, which keeps every matmul's operands
        # in one dtype where SwinIR mixes a float32 softmax with half-precision values
        amp = torch.autocast(dev.type, dtype=dt) if dt != torch.float32 else contextlib.nullcontext()
        with torch.inference_mode(), amp:
            y = m(x.to(device=dev, dtype=dt)).float().clamp_(0.0, 1.0)
        out: np.ndarray = (y * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        if self.size is not None:
            out = np.stack([cv2.resize(o, (lq.shape[2], lq.shape[1]), interpolation=cv2.INTER_CUBIC) for o in out])
        return out
