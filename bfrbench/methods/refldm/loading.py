"""Strict, safe loading of the official ReF-LDM checkpoints (``refldm.ckpt``, ``vqgan.ckpt``).

Layouts (from ../shared/fixtures/refldm/README.md section 1 and ``layout_*.json``; official code
https://github.com/ChiWeiHsiao/ref-ldm at commit af6690c19fdc6421802fd7996510bcfef259bfd1, ``inference.py``):

* ``refldm.ckpt``: a **flat** ``LatentDiffusion.state_dict()`` (no ``"state_dict"`` wrapper):
  12 float32 schedule buffers (``betas``, ``alphas_cumprod``, ...), the raw UNet ``model.diffusion_model.*``,
  its EMA copy ``model_ema.*`` (names: ``'model_ema.' + ('diffusion_model.' + name).replace('.', '')`` plus
  ``model_ema.decay`` and ``model_ema.num_updates``), and three aliases of the VQGAN: ``first_stage_model.*``,
  ``cond_stage_model.lq_image.*``, ``cond_stage_model.ref_image.*``.
* ``vqgan.ckpt``: a Lightning checkpoint whose ``"state_dict"`` has the VQGAN keys without prefix, probably
  with training-loss keys ``loss.*`` that are ignored (the official loader uses strict=False).

The official inference samples inside ``ema_scope()``, so the UNet weights used are the ``model_ema.*``
tensors; this loader does the same by default (``use_ema=True``). The official loader applies refldm.ckpt
after vqgan.ckpt, so VQGAN tensors inside refldm.ckpt win, and among the three aliases the
``cond_stage_model.ref_image.*`` copy is applied last; this loader uses that copy and reports when the copies
differ.

Unlike the official ``strict=False``, loading here is strict: every expected key must be present with the
expected shape and no unknown key may appear (only ``loss.*`` in a VQGAN file is ignored). A refldm file may
omit all three VQGAN groups together; then ``vqgan_weights`` is required. Files are read with
``torch.load(weights_only=True)`` or safetensors, never by running pickled code unless ``allow_pickle``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from bfrbench.errors import ConfigError, WeightsError
from bfrbench.methods._checkpoint import check_layout
from bfrbench.methods.refldm.model import RefLDMConfig, RefLDMModel

__all__ = [
    "SCHEDULE_BUFFERS",
    "VQGAN_PREFIXES",
    "check_vqgan_state_dict",
    "ema_name",
    "expected_refldm_layout",
    "expected_vqgan_layout",
    "load_model",
    "read_state_dict",
    "split_refldm_state_dict",
]

SCHEDULE_BUFFERS: tuple[str, ...] = (
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
    "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
)
VQGAN_PREFIXES: tuple[str, ...] = ("first_stage_model.", "cond_stage_model.lq_image.", "cond_stage_model.ref_image.")
UNET_PREFIX = "model.diffusion_model."
EMA_PREFIX = "model_ema."
EMA_EXTRA = {"model_ema.decay": (), "model_ema.num_updates": ()}
IGNORED_VQGAN_PREFIXES = ("loss.",)


def ema_name(param: str) -> str:
    """LitEma buffer name of UNet parameter ``param`` (e.g. ``input_blocks.1.0.in_layers.0.weight``)."""
    return EMA_PREFIX + ("diffusion_model." + param).replace(".", "")


def read_state_dict(path: str | Path, *, allow_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Read a checkpoint file as a flat ``{name: tensor}`` dict (unwrapping a Lightning ``"state_dict"``).

    Raises:
        MissingWeightsError: no such file. WeightsError: unsafe/unreadable file or no tensors in it.
    """
    from bfrbench.weights import load_checkpoint

    obj: Any = load_checkpoint(str(path), map_location="cpu", allow_pickle=allow_pickle)
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path}: expected a state_dict (a mapping of names to tensors), got {type(obj).__name__}")
    return {str(k): v for k, v in obj.items()}


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _meta_model(cfg: RefLDMConfig) -> RefLDMModel:
    with torch.device("meta"):
        return RefLDMModel(cfg)


def expected_vqgan_layout(cfg: RefLDMConfig | None = None, *, model: RefLDMModel | None = None
                          ) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of ``vqgan.ckpt["state_dict"]`` (without ``loss.*``).

    Taken from ``model`` when given, else from a model built on the meta device (nothing allocated).
    """
    return _shapes((model or _meta_model(cfg or RefLDMConfig())).vqgan)


def expected_refldm_layout(cfg: RefLDMConfig | None = None, *, with_vqgan: bool = True,
                           model: RefLDMModel | None = None) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of a flat refldm.ckpt for ``cfg`` (from ``model``, or a meta-device model: no allocation)."""
    cfg = model.cfg if model is not None else (cfg or RefLDMConfig())
    m = model or _meta_model(cfg)
    out: dict[str, tuple[int, ...]] = {b: (cfg.timesteps,) for b in SCHEDULE_BUFFERS}
    for k, shape in _shapes(m.unet).items():
        out[UNET_PREFIX + k] = shape
        out[ema_name(k)] = shape
    out.update(EMA_EXTRA)
    if with_vqgan:
        for k, shape in _shapes(m.vqgan).items():
            for pre in VQGAN_PREFIXES:
                out[pre + k] = shape
    return out


def _check_keys(path: str, sd: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]]) -> None:
    check_layout(path, sd, expected, "ReF-LDM checkpoint", "Check the file and the `options` config=... architecture.")


def check_vqgan_state_dict(sd: Mapping[str, torch.Tensor], cfg: RefLDMConfig, *, path: str = "vqgan",
                           model: RefLDMModel | None = None) -> dict[str, torch.Tensor]:
    """Validate a VQGAN state dict strictly (ignoring ``loss.*``); returns the VQGAN tensors as float32."""
    kept = {k: v for k, v in sd.items() if not k.startswith(IGNORED_VQGAN_PREFIXES)}
    _check_keys(path, kept, expected_vqgan_layout(cfg, model=model))
    return {k: v.float() for k, v in kept.items()}


def split_refldm_state_dict(
    sd: Mapping[str, torch.Tensor], cfg: RefLDMConfig, *, use_ema: bool = True, path: str = "refldm",
    model: RefLDMModel | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None, list[str]]:
    """Validate a flat refldm.ckpt state dict strictly and split it.

    Returns:
        ``(unet, vqgan, notes)``: the UNet state dict (EMA weights unless ``use_ema=False``), the VQGAN state dict
        (the ``cond_stage_model.ref_image`` alias, applied last by the official loader) or None when the file has
        no VQGAN, and human-readable notes (e.g. differing VQGAN copies).

    Raises:
        WeightsError: missing/unexpected keys, wrong shapes, partial VQGAN groups, or a diffusion schedule that
            differs from the config's.
    """
    has_vq = [any(k.startswith(p) for k in sd) for p in VQGAN_PREFIXES]
    if any(has_vq) and not all(has_vq):
        present = [p for p, h in zip(VQGAN_PREFIXES, has_vq) if h]
        raise WeightsError(f"{path}: holds only some VQGAN groups ({', '.join(present)}); expected all of "
                           f"{', '.join(VQGAN_PREFIXES)} or none")
    expected = expected_refldm_layout(cfg, with_vqgan=all(has_vq), model=model)
    _check_keys(path, sd, expected)
    from bfrbench.methods.refldm.ddim import alphas_cumprod

    want = torch.from_numpy(alphas_cumprod(cfg.linear_start, cfg.linear_end, cfg.timesteps))
    diff = float((sd["alphas_cumprod"].float() - want).abs().max())
    if diff > 1e-6:
        raise WeightsError(f"{path}: its alphas_cumprod differs from the config's linear schedule "
                           f"({cfg.linear_start}..{cfg.linear_end}, {cfg.timesteps} steps) by {diff:.3g}")
    unet_keys = [k[len(UNET_PREFIX):] for k in sd if k.startswith(UNET_PREFIX)]
    if use_ema:
        unet = {k: sd[ema_name(k)].float() for k in unet_keys}
    else:
        unet = {k: sd[UNET_PREFIX + k].float() for k in unet_keys}
    notes: list[str] = []
    vq = None
    if all(has_vq):
        copies = [{k[len(p):]: v for k, v in sd.items() if k.startswith(p)} for p in VQGAN_PREFIXES]
        vq = {k: v.float() for k, v in copies[-1].items()}
        for p, c in zip(VQGAN_PREFIXES[:-1], copies[:-1]):
            if any(not torch.equal(c[k], copies[-1][k]) for k in c):
                notes.append(f"{path}: the {p}* VQGAN tensors differ from cond_stage_model.ref_image.*; using the "
                             "latter, as the official loader (it is applied last)")
    return unet, vq, notes


def load_model(
    cfg: RefLDMConfig,
    weights: str | Path,
    vqgan_weights: str | Path | None = None,
    *,
    use_ema: bool = True,
    allow_pickle: bool = False,
) -> tuple[RefLDMModel, list[str]]:
    """Build a :class:`RefLDMModel` and load official-layout checkpoints into it strictly (float32, CPU, eval).

    Args:
        cfg: architecture.
        weights: refldm.ckpt-layout file (.ckpt/.pt via ``torch.load(weights_only=True)``, or .safetensors).
        vqgan_weights: vqgan.ckpt-layout file; required when ``weights`` holds no VQGAN; when both hold one, the
            copy in ``weights`` is used (the official load order) and a note says so.
        use_ema: sample with the EMA UNet (``model_ema.*``), as the official ``ema_scope``.
        allow_pickle: permit full pickle loading for trusted files that weights_only cannot read.

    Returns:
        ``(model, notes)``.
    """
    model = RefLDMModel(cfg)
    unet_sd, vq_sd, notes = split_refldm_state_dict(read_state_dict(weights, allow_pickle=allow_pickle), cfg,
                                                    use_ema=use_ema, path=str(weights), model=model)
    if vqgan_weights is not None:
        vq_file = check_vqgan_state_dict(read_state_dict(vqgan_weights, allow_pickle=allow_pickle), cfg,
                                         path=str(vqgan_weights), model=model)
        if vq_sd is None:
            vq_sd = vq_file
        elif any(not torch.equal(vq_file[k], vq_sd[k]) for k in vq_sd):
            notes.append(f"{weights} holds VQGAN weights that differ from {vqgan_weights}; using those in "
                         f"{weights} (the official code loads refldm.ckpt last)")
    if vq_sd is None:
        raise ConfigError(f"{weights} holds no VQGAN weights (first_stage_model.*): pass vqgan_weights=PATH "
                          "(the official vqgan.ckpt)")
    model.unet.load_state_dict(unet_sd, strict=True)
    model.vqgan.load_state_dict(vq_sd, strict=True)
    for n in notes:
        warnings.warn(n, stacklevel=2)
    return model.eval(), notes
