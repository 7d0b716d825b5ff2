"""Worker side of the restore runner: the picklable job/batch records and what runs in each process.

:mod:`bfrbench.methods.runner` plans a run and sends :class:`Batch` objects to
:func:`bfrbench.distributed.run_tasks`; in each (possibly remote) process the code here builds the restorer once
(:func:`get_restorer`, device from :func:`worker_device`), restores aligned faces (:func:`run_aligned_batch`;
photos go through :func:`bfrbench.methods.unaligned.run_unaligned_batch`, which uses the same primitives) and
writes ``OUT/<id>.png`` plus its state record (:func:`write_output`). Protocol: docs/methods/runner.md.
This module imports neither the runner nor the unaligned path, so there is no import cycle.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bfrbench.errors import ConfigError, MethodError
from bfrbench.methods._base import FACE_SIZE, BatchPartialError, Restorer

__all__ = ["STATE_DIR", "finished_output", "Job", "Batch", "BatchResult", "worker_device", "get_restorer", "check_output",
           "peak_start", "peak_end", "call_restorer", "run_aligned_batch", "write_output"]

STATE_DIR = ".state"


def finished_output(out: Path, item: str, run_key: str, *, differs: str,
                    expect: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The state record of a valid finished ``out/<item>.png`` (resume), else None.

    Valid: ``out/.state/<item>.json`` is readable, has this ``run_key``, every ``expect`` field equal (e.g. input
    hashes) and the PNG's SHA-256. A record of another run is an error (``differs`` says what such a run changed):
    two runs never share an output folder.
    """
    from bfrbench.errors import ArtifactError
    from bfrbench.io import sha256_file

    png, state = out / f"{item}.png", out / STATE_DIR / f"{item}.json"
    if not (png.is_file() and state.is_file()):
        return None
    try:
        rec = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict):
        return None
    if rec.get("run_key") != run_key:
        raise ArtifactError(f"{out}: {item}.png was made by {differs}; write to a new `out` folder or delete it")
    if any(rec.get(k) != v for k, v in (expect or {}).items()) or rec.get("sha256") != sha256_file(png):
        return None
    return rec


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to build the restorer and write outputs (picklable)."""

    method: str
    kwargs: dict[str, Any]
    device: str
    out: str
    run_key: str
    refs_k: int | None
    use_refs: bool
    needs_refs: bool
    unaligned: bool = False
    detector: str | None = None


@dataclass(frozen=True)
class Batch:
    """One task: ids with their LQ paths, reference paths, manifest rows (context) and per-image seeds."""

    job: Job
    ids: tuple[str, ...]
    lq_paths: tuple[str, ...]
    ref_paths: tuple[tuple[str, ...] | None, ...]
    contexts: tuple[dict[str, Any], ...]
    seeds: tuple[int, ...]


@dataclass
class BatchResult:
    """What a batch sends back: state records of written ids, failure reasons, the restorer's config/weights."""

    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    weights: dict[str, str | None] | None = None


# -- per-process restorer cache -------------------------------------------------------------------------
_RESTORERS: dict[str, Restorer] = {}


def worker_device(device: str) -> str:
    """Pick this process's device: ``cuda`` on dask worker *i* becomes ``cuda:(i mod GPU count)``."""
    if device != "cuda":
        return device
    try:
        from distributed import get_worker

        name = get_worker().name
    except (ImportError, ValueError):
        return device
    try:
        import torch

        count = torch.cuda.device_count()
    except ImportError:  # pragma: no cover
        count = 0
    if count < 1 or not str(name).isdigit():
        return device
    return f"cuda:{int(name) % count}"


def get_restorer(job: Job) -> Restorer:
    from bfrbench.methods import METHODS

    device = worker_device(job.device)
    key = json.dumps([job.method, job.kwargs, device], sort_keys=True, default=str)
    if key not in _RESTORERS:
        _RESTORERS.clear()  # one live restorer per process: a new configuration frees the previous model
        cls = METHODS.get(job.method)
        try:
            _RESTORERS[key] = cls(device=device, **job.kwargs)
        except TypeError as exc:
            raise ConfigError(f"method {job.method!r}: {exc}") from exc
    restorer = _RESTORERS[key]
    restorer.bind_run(job.out)
    return restorer


# -- one batch (runs in a worker) -----------------------------------------------------------------------
def check_output(arr: Any, what: str) -> str | None:
    if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.shape != (FACE_SIZE, FACE_SIZE, 3):
        desc = f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
        return f"{what} returned {desc}, expected uint8 ({FACE_SIZE}, {FACE_SIZE}, 3)"
    return None


def peak_start(device: str) -> bool:
    if not device.startswith("cuda") or "torch" not in sys.modules:
        return False
    import torch

    if not torch.cuda.is_available():
        return False
    torch.cuda.reset_peak_memory_stats(torch.device(device))
    return True


def peak_end(device: str, active: bool) -> int | None:
    if not active:
        return None
    import torch

    return int(torch.cuda.max_memory_allocated(torch.device(device)))


def call_restorer(restorer: Restorer, lq: list[np.ndarray], refs: list[list[np.ndarray]] | None, seeds: list[int],
          ctx: list[dict[str, Any]]) -> tuple[list[np.ndarray | None], list[str | None]]:
    """Restore a batch; on a whole-batch error with B > 1, retry image by image to isolate the bad one."""
    try:
        out = restorer.restore(np.stack(lq), refs=refs, seeds=seeds, context=ctx)
    except BatchPartialError as exc:
        return exc.outputs, exc.reasons
    except Exception as exc:
        if len(lq) == 1:
            return [None], [f"{type(exc).__name__}: {exc}"]
        outs: list[np.ndarray | None] = []
        reasons: list[str | None] = []
        for i in range(len(lq)):
            o, r = call_restorer(restorer, [lq[i]], None if refs is None else [refs[i]], [seeds[i]], [ctx[i]])
            outs += o
            reasons += r
        return outs, reasons
    if not isinstance(out, np.ndarray) or out.ndim != 4 or len(out) != len(lq):
        desc = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        return [None] * len(lq), [f"{restorer.name}.restore returned {desc} for a batch of {len(lq)}"] * len(lq)
    return list(out), [None] * len(lq)


def run_aligned_batch(restorer: Restorer, batch: Batch, res: BatchResult) -> None:
    """Restore a batch of aligned 512x512 faces and write their outputs (records and failures go into ``res``).

    Unreadable or wrongly sized LQ images and missing references fail their id only; the rest go to the
    restorer as one (B, 512, 512, 3) uint8 stack (see :func:`call_restorer`).
    """
    from bfrbench.io import read_image
    from bfrbench.methods.references import read_refs

    job = batch.job
    lq: list[np.ndarray] = []
    refs: list[list[np.ndarray]] = []
    keep: list[int] = []
    for i, item in enumerate(batch.ids):
        try:
            img = read_image(batch.lq_paths[i])
            if img.shape != (FACE_SIZE, FACE_SIZE, 3):
                raise MethodError(f"{batch.lq_paths[i]}: LQ image is {img.shape[1]}x{img.shape[0]}, expected "
                                  f"{FACE_SIZE}x{FACE_SIZE} (aligned faces; use `unaligned=True` for photos)")
            if job.use_refs:
                paths = batch.ref_paths[i]
                if not paths and job.needs_refs:
                    raise MethodError(f"no reference images for id {item!r} ({restorer.name} needs them)")
                refs.append(read_refs([Path(p) for p in paths or ()], job.refs_k))
        except Exception as exc:  # ImageError / MethodError: this image only
            res.failed[item] = str(exc)
            continue
        lq.append(img)
        keep.append(i)
    if not keep:
        return
    active = peak_start(restorer.device)
    t0 = time.perf_counter()
    outs, reasons = call_restorer(restorer, lq, refs if job.use_refs else None, [batch.seeds[i] for i in keep],
                          [batch.contexts[i] for i in keep])
    seconds = (time.perf_counter() - t0) / len(keep)
    peak = peak_end(restorer.device, active)
    for j, i in enumerate(keep):
        item = batch.ids[i]
        reason = reasons[j] if reasons[j] is not None else check_output(outs[j], f"{restorer.name}.restore")
        if reason is not None:
            res.failed[item] = reason
            continue
        res.done[item] = write_output(Path(job.out), item, outs[j], seconds=seconds, peak=peak,  # type: ignore[arg-type]
                                      run_key=job.run_key, seed=batch.seeds[i])


def write_output(out: Path, item: str, img: np.ndarray, *, seconds: float, peak: int | None, run_key: str,
                 seed: int, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write ``OUT/<id>.png`` then its state record (in that order, so a kill never leaves a false record)."""
    from bfrbench.io import atomic_write_json, sha256_bytes, write_png

    data = write_png(out / f"{item}.png", img)
    rec = {"id": item, "sha256": sha256_bytes(data), "seconds": round(seconds, 6), "peak_mem_bytes": peak,
           "run_key": run_key, "seed": seed, **(extra or {})}
    atomic_write_json(out / STATE_DIR / f"{item}.json", rec)
    return rec
