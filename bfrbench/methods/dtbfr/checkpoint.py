"""Checkpoints of a DT-BFR fine-tuning run: safetensors for the networks, a weights-only torch file for the rest.

Layout under the training folder ``T`` (docs/methods/dtbfr-finetune.md)::

    T/ckpt/iter_000250/G.safetensors      SwinIR state dict (official key names, buffers included)
    T/ckpt/iter_000250/D.safetensors      discriminator state dict (weight_orig / weight_u / weight_v ...)
    T/ckpt/iter_000250/state.pt           {"iteration", "opt_g", "opt_d", "sched_g", "rng"}: tensors, numbers,
                                          strings and containers only, so ``torch.load(weights_only=True)`` reads it
    T/latest.json                         {"iteration", "dir", "sha256": {file: digest}} written last (atomic)

A checkpoint folder is written under a temporary name and renamed into place; ``latest.json`` is replaced only
after that, so a kill at any moment leaves the previous checkpoint usable. Loading verifies every SHA-256.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from bfrbench.errors import ArtifactError

__all__ = ["save_checkpoint", "load_latest", "tensors_to_safetensors"]

LATEST = "latest.json"


def tensors_to_safetensors(state: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> str:
    """Write a state dict as safetensors atomically (contiguous CPU copies). Returns its SHA-256."""
    from safetensors.torch import save

    from bfrbench.io import atomic_write_bytes, sha256_bytes

    data = save({k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}, metadata=metadata)
    atomic_write_bytes(path, data)
    return sha256_bytes(data)


def save_checkpoint(root: Path, iteration: int, g_state: dict[str, torch.Tensor], d_state: dict[str, torch.Tensor],
                    extra: dict[str, Any], keep: int) -> Path:
    """Write checkpoint ``iteration`` under ``root/ckpt`` and point ``root/latest.json`` at it.

    Args:
        root: training folder.
        iteration: number of completed iterations.
        g_state, d_state: state dicts of G and D.
        extra: optimiser/scheduler/RNG state (weights-only loadable content).
        keep: number of checkpoints to keep (older ones are deleted after the pointer moved).
    """
    from bfrbench.io import atomic_write_json, sha256_file

    final = root / "ckpt" / f"iter_{iteration:06d}"
    tmp = root / "ckpt" / f".iter_{iteration:06d}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    sums = {"G.safetensors": tensors_to_safetensors(g_state, tmp / "G.safetensors"),
            "D.safetensors": tensors_to_safetensors(d_state, tmp / "D.safetensors")}
    torch.save({**extra, "iteration": iteration}, tmp / "state.pt")
    sums["state.pt"] = sha256_file(tmp / "state.pt")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    atomic_write_json(root / LATEST, {"iteration": iteration, "dir": final.relative_to(root).as_posix(),
                                      "sha256": sums})
    done = sorted(p for p in (root / "ckpt").glob("iter_*") if p.is_dir())
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_latest(root: Path, device: Any = "cpu") -> tuple[int, dict[str, torch.Tensor], dict[str, torch.Tensor],
                                                          dict[str, Any]] | None:
    """The newest checkpoint under ``root`` as ``(iteration, g_state, d_state, extra)``, or None when there is none.

    Raises:
        ArtifactError: ``latest.json`` is unreadable, a file is missing or its SHA-256 differs.
    """
    from safetensors.torch import load_file

    from bfrbench.io import sha256_file

    pointer = root / LATEST
    if not pointer.is_file():
        return None
    try:
        meta = json.loads(pointer.read_text(encoding="utf-8"))
        folder = root / str(meta["dir"])
        sums = dict(meta["sha256"])
        iteration = int(meta["iteration"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{pointer}: unreadable checkpoint pointer ({exc}); delete it to restart training") from exc
    for name, digest in sums.items():
        f = folder / name
        if not f.is_file() or sha256_file(f) != digest:
            raise ArtifactError(f"{f}: checkpoint file missing or its SHA-256 differs from {pointer}; "
                                "delete the checkpoint folder and latest.json to restart from the previous stage")
    g = load_file(str(folder / "G.safetensors"), device=str(device))
    d = load_file(str(folder / "D.safetensors"), device=str(device))
    try:
        extra = torch.load(folder / "state.pt", map_location=device, weights_only=True)
    except Exception as exc:  # pickle errors: not a weights-only file
        raise ArtifactError(f"{folder / 'state.pt'}: cannot be read with weights_only=True ({exc})") from exc
    if int(extra.get("iteration", -1)) != iteration:
        raise ArtifactError(f"{folder / 'state.pt'}: iteration {extra.get('iteration')} != {iteration} in {pointer}")
    return iteration, g, d, extra
