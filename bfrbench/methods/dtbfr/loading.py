"""Strict, safe loading of DT-BFR's checkpoints: ``swinir_gan_v1.pth`` (restorer) and ``iddpm_ffhq512_ema500000.pth``.

Facts from https://github.com/SamsungLabs/DT-BFR at commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd
(``utils/util_net.py::reload_model``, ``sampler.py``, ``trainer.py``) as stated in
../shared/fixtures/dtbfr/README.md and ``layout_*.json`` (not copied):

* Both files are a **flat** state dict (``torch.load(path)`` is the dict itself, no ``params``/``state_dict`` key).
* The official ``reload_model`` looks only at the **first** key: for an unwrapped model, if that key starts with
  ``module.`` the first 7 characters are removed from *every* key (DDP checkpoints); then
  ``load_state_dict(strict=True)``. :func:`official_key_fix` does the same.
* SwinIR files hold the persistent buffers ``relative_position_index`` and (shifted blocks) ``attn_mask``; the
  loaded values are used, as in the official model.

Loading here is strict like the official one, with a :class:`~bfrbench.errors.WeightsError` naming the file and
the first missing/unexpected/mis-shaped keys instead of a traceback. Files are read with
``torch.load(weights_only=True)`` (or safetensors); pickled code only runs with ``allow_pickle=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bfrbench.errors import WeightsError
from bfrbench.methods._checkpoint import check_layout
from bfrbench.methods.dtbfr.swinir import SwinIR, SwinIRConfig

__all__ = [
    "check_layout",
    "expected_layout",
    "load_iddpm",
    "load_into",
    "load_swinir",
    "official_key_fix",
    "read_state_dict",
]


def read_state_dict(path: str | Path, *, allow_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Read a flat ``{name: tensor}`` checkpoint (``.pth`` via ``weights_only=True``, or ``.safetensors``).

    ``path`` may also be a weights-registry name (resolved and checksum-verified).

    Raises:
        MissingWeightsError: no such file. WeightsError: unsafe/unreadable file, or not a flat tensor dict.
    """
    from bfrbench.weights import load_checkpoint

    obj: Any = load_checkpoint(str(path), map_location="cpu", allow_pickle=allow_pickle)
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        kind = type(obj).__name__
        hint = f" with keys {sorted(obj)[:5]}" if isinstance(obj, Mapping) else ""
        raise WeightsError(f"{path}: expected a flat state dict (names -> tensors) as DT-BFR saves it, got {kind}"
                           f"{hint}")
    return {str(k): v for k, v in obj.items()}


def official_key_fix(sd: Mapping[str, torch.Tensor], *, wrapped: bool = False) -> dict[str, torch.Tensor]:
    """The official ``reload_model`` prefix rule, decided on the **first** key only.

    Unwrapped model (``wrapped=False``): if the first key starts with ``module.``, drop the first 7 characters
    of every key. DDP-wrapped model: if the first key lacks ``module.``, prepend it to every key.
    """
    keys = list(sd)
    if not keys:
        return {}
    first = keys[0]
    if not wrapped and first.startswith("module."):
        return {k[7:]: v for k, v in sd.items()}
    if wrapped and not first.startswith("module."):
        return {"module." + k: v for k, v in sd.items()}
    return dict(sd)


def expected_layout(model: nn.Module) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """``{key: (shape, dtype)}`` of ``model.state_dict()`` (works on meta-device models: nothing allocated)."""
    return {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}


def load_into(model: nn.Module, sd: Mapping[str, torch.Tensor], *, path: str, what: str) -> nn.Module:
    """Apply the official prefix rule, check the layout strictly, convert dtypes, ``load_state_dict(strict)``."""
    sd = official_key_fix(sd)
    expected = expected_layout(model)
    check_layout(path, sd, {k: shape for k, (shape, _) in expected.items()}, f"{what} checkpoint",
                 "Check the file and the architecture config.")
    fixed = {}
    for k, v in sd.items():
        want = expected[k][1]
        if v.is_floating_point() != want.is_floating_point:
            raise WeightsError(f"{path}: key {k} has dtype {v.dtype}, expected {want}")
        fixed[k] = v.to(want)
    model.load_state_dict(fixed, strict=True)
    return model


def load_swinir(path: str | Path, cfg: SwinIRConfig | None = None, *, device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32, allow_pickle: bool = False) -> SwinIR:
    """Build :class:`SwinIR` (default: the official ``swinir_gan.yaml`` config) and load ``path`` strictly.

    Args:
        path: ``swinir_gan_v1.pth`` (registry name ``dtbfr-swinir-gan-v1``), a fine-tuned ``model_*.pth`` (with or
            without ``module.``), or a safetensors file with the official key names.
        cfg: architecture; must match the file.
        device, dtype: where the returned model lives (buffers such as ``attn_mask`` follow ``dtype``).

    Returns:
        The model in eval mode.
    """
    model = SwinIR(cfg or SwinIRConfig())
    load_into(model, read_state_dict(path, allow_pickle=allow_pickle), path=str(path), what="SwinIR")
    return model.to(device=device, dtype=dtype).eval()


def load_iddpm(path: str | Path, cfg: Any = None, *, device: str | torch.device = "cpu",
               dtype: torch.dtype = torch.float32, allow_pickle: bool = False) -> nn.Module:
    """Build the improved-DDPM UNet (default: ``iddpm_ffhq512`` config) and load ``path`` strictly.

    ``path``: ``iddpm_ffhq512_ema500000.pth`` (registry ``dtbfr-diffusion-prior``) or a safetensors file with the
    official key names. ``dtype`` is the weight dtype; GroupNorm runs in float32 whatever it is.
    """
    from bfrbench.methods.dtbfr.iddpm import IDDPMConfig, IDDPMUNet

    model = IDDPMUNet(cfg or IDDPMConfig())
    load_into(model, read_state_dict(path, allow_pickle=allow_pickle), path=str(path), what="iDDPM UNet")
    return model.to(device=device, dtype=dtype).eval()
