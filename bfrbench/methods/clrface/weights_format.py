"""The CLR-Face weights format: a run folder, or one safetensors bundle exported from it.

ours (CLR-Face published no weights). A **run folder** (what ``bfrbench train clrface --out RUN`` writes)::

    RUN/config.json                {"kind": "clrface-run", "format_version": 1, "config": CLRFaceConfig dict}
    RUN/autoencoder.safetensors    VQAutoencoder state dict            } written when a stage finishes;
    RUN/prior.safetensors          ScoreUNet state dict                } metadata: stage, iterations,
    RUN/irn.safetensors            IdentityRecoveryNetwork state dict  } config_sha256, recipe, faces_sha256
    RUN/mask.safetensors           LatentMask state dict ("logits")    }
    RUN/train/<stage>/...          checkpoints and logs (train.py); not needed for inference

A **bundle** (``export_bundle``) is one ``.safetensors`` file whose keys are ``<stage>.<parameter>`` and whose
metadata holds ``kind=clrface-weights``, ``format_version`` and ``config`` (the JSON config). Inference
(``--option weights=RUN_OR_FILE``) reads either; ``autoencoder`` and ``prior`` are required, ``irn`` and
``mask`` only for identity guidance.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bfrbench.errors import ArtifactError, ConfigError
from bfrbench.io.atomic import atomic_write_bytes, atomic_write_json
from bfrbench.io.hashing import sha256_json
from bfrbench.methods.clrface.config import FORMAT_VERSION, STAGES, CLRFaceConfig

__all__ = ["export_bundle", "load_weights", "read_run_config", "save_stage", "stage_path", "write_run_config"]


def stage_path(run: str | os.PathLike[str], stage: str) -> Path:
    return Path(run) / f"{stage}.safetensors"


def write_run_config(run: str | os.PathLike[str], cfg: CLRFaceConfig) -> Path:
    """Write RUN/config.json (atomically)."""
    return atomic_write_json(Path(run) / "config.json", {"kind": "clrface-run", "format_version": FORMAT_VERSION,
                                                         "config": cfg.to_dict()})


def read_run_config(run: str | os.PathLike[str]) -> CLRFaceConfig:
    """Read RUN/config.json; ArtifactError naming the file when missing or malformed."""
    p = Path(run) / "config.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{p}: missing: not a clrface run folder (train one with `bfrbench train clrface`)") from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{p}: unreadable clrface run config: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != "clrface-run":
        raise ArtifactError(f"{p}: not a clrface run config (kind={data.get('kind') if isinstance(data, dict) else None!r})")
    if data.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{p}: format_version {data.get('format_version')!r}, this bfrbench reads {FORMAT_VERSION}")
    try:
        return CLRFaceConfig.from_dict(data["config"])
    except ConfigError as exc:
        raise ArtifactError(f"{p}: {exc}") from None


def _tensor_bytes(state: dict[str, Any], metadata: dict[str, str]) -> bytes:
    from safetensors.torch import save

    return save({k: v.detach().cpu().contiguous() for k, v in state.items()}, metadata=metadata)


def save_stage(run: str | os.PathLike[str], stage: str, state: dict[str, Any], cfg: CLRFaceConfig,
               meta: dict[str, Any]) -> Path:
    """Write RUN/<stage>.safetensors atomically with string metadata (stage, config_sha256 and ``meta``)."""
    md = {"stage": stage, "config_sha256": sha256_json(cfg.to_dict()), "format_version": str(FORMAT_VERSION),
          **{k: str(v) for k, v in meta.items()}}
    return atomic_write_bytes(stage_path(run, stage), _tensor_bytes(state, md))


def _read_safetensors(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            md = dict(fh.metadata() or {})
            return {k: fh.get_tensor(k) for k in fh.keys()}, md  # noqa: SIM118 - safe_open is not a dict
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types on corrupt headers
        raise ArtifactError(f"{path}: not a readable safetensors file: {exc}") from None


def load_weights(path: str | os.PathLike[str]) -> tuple[CLRFaceConfig, dict[str, dict[str, Any]], dict[str, Path]]:
    """Config, per-stage state dicts and the file each came from, from a run folder or a bundle file.

    Raises:
        ArtifactError: missing/malformed config or files (names the file).
    """
    p = Path(path)
    if p.is_dir():
        cfg = read_run_config(p)
        states: dict[str, dict[str, Any]] = {}
        files: dict[str, Path] = {}
        for st in STAGES:
            f = stage_path(p, st)
            if f.is_file():
                states[st], _ = _read_safetensors(f)
                files[st] = f
        return cfg, states, files
    if not p.is_file():
        raise ArtifactError(f"{p}: no such clrface run folder or weights file")
    tensors, md = _read_safetensors(p)
    if md.get("kind") != "clrface-weights":
        raise ArtifactError(f"{p}: not a clrface weights bundle (metadata kind={md.get('kind')!r}); pass a run "
                            "folder or a file made by bfrbench.methods.clrface.export_bundle")
    try:
        cfg = CLRFaceConfig.from_dict(json.loads(md["config"]))
    except (KeyError, ValueError, ConfigError) as exc:
        raise ArtifactError(f"{p}: bad embedded config: {exc}") from None
    states = {}
    for k, v in tensors.items():
        st, _, name = k.partition(".")
        if st not in STAGES:
            raise ArtifactError(f"{p}: tensor {k!r} belongs to no stage ({', '.join(STAGES)})")
        states.setdefault(st, {})[name] = v
    return cfg, states, {st: p for st in states}


def export_bundle(run: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Pack a run folder's finished stages into one safetensors bundle (see module docstring)."""
    cfg, states, _ = load_weights(run)
    flat = {f"{st}.{k}": v for st, sd in states.items() for k, v in sd.items()}
    md = {"kind": "clrface-weights", "format_version": str(FORMAT_VERSION), "config": json.dumps(cfg.to_dict(), sort_keys=True),
          "stages": ",".join(sorted(states))}
    return atomic_write_bytes(out, _tensor_bytes(flat, md))
