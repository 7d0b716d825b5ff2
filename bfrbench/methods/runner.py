"""The restore runner: run one method over a test set, resumable, seeded, timed and recorded.

Protocol (docs/methods/runner.md):

* Inputs: ``TESTSET/manifest.parquet`` (``id``, ``lq_path``) and, for reference methods, references
  (``TESTSET/references.parquet`` or a user ``refs.csv``; the first K in stored order).
* Seeds: image ``id`` gets ``bfrbench.rng.item_seed(seed, id)``, so outputs do not depend on batch size,
  worker count or order.
* Outputs: ``OUT/<id>.png`` plus ``OUT/.state/<id>.json`` (sha256, seconds, peak memory, run key). A later
  run skips an id only when both exist, the PNG's SHA-256 matches the record and the run key (method,
  version, options, dtype, seed, test-set manifest hash, K) is the same; otherwise it redoes the id.
  A folder made with a different run key is refused (ArtifactError) rather than silently mixed.
* Work is cut into batches of ``batch_size`` ids; batches run in this process or on dask workers through
  :func:`bfrbench.distributed.run_tasks`. Each process builds the restorer once (cached per process).
  Device ``"cuda"`` with several dask workers: worker *i* uses ``cuda:(i mod GPU count)``; an explicit
  index (``cuda:1``) is used as is.
* Timing: each image gets its batch's wall time divided by the batch size. Peak memory: on CUDA devices
  ``torch.cuda.max_memory_allocated`` over the batch; on CPU it is recorded as null.
* One bad image (unreadable LQ or reference, wrong output, method error) becomes a failure entry in
  ``run.json``; the rest of the run goes on.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bfrbench.checks import check_device, check_limit, check_seed
from bfrbench.errors import ArtifactError, ConfigError, MethodError
from bfrbench.io.outdir import writes_output
from bfrbench.methods._base import DTYPES, FACE_SIZE, BatchPartialError, Restorer, parse_options

__all__ = ["restore", "FORMAT_VERSION", "run_key_for"]

FORMAT_VERSION = 1
STATE_DIR = ".state"


@dataclass(frozen=True)
class _Job:
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
class _Batch:
    job: _Job
    ids: tuple[str, ...]
    lq_paths: tuple[str, ...]
    ref_paths: tuple[tuple[str, ...] | None, ...]
    contexts: tuple[dict[str, Any], ...]
    seeds: tuple[int, ...]


@dataclass
class _Result:
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    weights: dict[str, str | None] | None = None


# -- per-process restorer cache -------------------------------------------------------------------------
_RESTORERS: dict[str, Restorer] = {}


def _worker_device(device: str) -> str:
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


def _get_restorer(job: _Job) -> Restorer:
    from bfrbench.methods import METHODS

    device = _worker_device(job.device)
    key = json.dumps([job.method, job.kwargs, device], sort_keys=True, default=str)
    if key not in _RESTORERS:
        _RESTORERS.clear()  # one live restorer per process: a new configuration frees the previous model
        cls = METHODS.get(job.method)
        try:
            _RESTORERS[key] = cls(device=device, **job.kwargs)  # type: ignore[operator]
        except TypeError as exc:
            raise ConfigError(f"method {job.method!r}: {exc}") from exc
    restorer = _RESTORERS[key]
    restorer.bind_run(job.out)
    return restorer


# -- one batch (runs in a worker) -----------------------------------------------------------------------
def _check_output(arr: Any, what: str) -> str | None:
    if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.shape != (FACE_SIZE, FACE_SIZE, 3):
        desc = f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
        return f"{what} returned {desc}, expected uint8 ({FACE_SIZE}, {FACE_SIZE}, 3)"
    return None


def _peak_start(device: str) -> bool:
    if not device.startswith("cuda") or "torch" not in sys.modules:
        return False
    import torch

    if not torch.cuda.is_available():
        return False
    torch.cuda.reset_peak_memory_stats(torch.device(device))
    return True


def _peak_end(device: str, active: bool) -> int | None:
    if not active:
        return None
    import torch

    return int(torch.cuda.max_memory_allocated(torch.device(device)))


def _call(restorer: Restorer, lq: list[np.ndarray], refs: list[list[np.ndarray]] | None, seeds: list[int],
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
            o, r = _call(restorer, [lq[i]], None if refs is None else [refs[i]], [seeds[i]], [ctx[i]])
            outs += o
            reasons += r
        return outs, reasons
    if not isinstance(out, np.ndarray) or out.ndim != 4 or len(out) != len(lq):
        desc = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        return [None] * len(lq), [f"{restorer.name}.restore returned {desc} for a batch of {len(lq)}"] * len(lq)
    return list(out), [None] * len(lq)


def _run_batch(batch: _Batch) -> _Result:
    from bfrbench.io import read_image
    from bfrbench.methods.references import read_refs

    job = batch.job
    res = _Result()
    restorer = _get_restorer(job)
    res.config, res.weights = restorer.config(), restorer.weight_hashes()
    if job.unaligned:
        from bfrbench.methods.unaligned import run_unaligned_batch

        run_unaligned_batch(restorer, batch, res)
        return res
    lq: list[np.ndarray] = []
    refs: list[list[np.ndarray]] = []
    keep: list[int] = []
    for i, item in enumerate(batch.ids):
        try:
            img = read_image(batch.lq_paths[i])
            if img.shape != (FACE_SIZE, FACE_SIZE, 3):
                raise MethodError(f"{batch.lq_paths[i]}: LQ image is {img.shape[1]}x{img.shape[0]}, expected "
                                  f"{FACE_SIZE}x{FACE_SIZE} (aligned faces; use --unaligned for photos)")
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
        return res
    active = _peak_start(restorer.device)
    t0 = time.perf_counter()
    outs, reasons = _call(restorer, lq, refs if job.use_refs else None, [batch.seeds[i] for i in keep],
                          [batch.contexts[i] for i in keep])
    seconds = (time.perf_counter() - t0) / len(keep)
    peak = _peak_end(restorer.device, active)
    for j, i in enumerate(keep):
        item = batch.ids[i]
        reason = reasons[j] if reasons[j] is not None else _check_output(outs[j], f"{restorer.name}.restore")
        if reason is not None:
            res.failed[item] = reason
            continue
        res.done[item] = write_output(Path(job.out), item, outs[j], seconds=seconds, peak=peak,  # type: ignore[arg-type]
                                      run_key=job.run_key, seed=batch.seeds[i])
    return res


def write_output(out: Path, item: str, img: np.ndarray, *, seconds: float, peak: int | None, run_key: str,
                 seed: int, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write ``OUT/<id>.png`` then its state record (in that order, so a kill never leaves a false record)."""
    from bfrbench.io import atomic_write_json, sha256_bytes, write_png

    data = write_png(out / f"{item}.png", img)
    rec = {"id": item, "sha256": sha256_bytes(data), "seconds": round(seconds, 6), "peak_mem_bytes": peak,
           "run_key": run_key, "seed": seed, **(extra or {})}
    atomic_write_json(out / STATE_DIR / f"{item}.json", rec)
    return rec


# -- planning ---------------------------------------------------------------------------------------------
def _read_manifest(testset: Path, unaligned: bool) -> tuple[list[dict[str, Any]], str | None]:
    """Manifest rows (dicts, NaN -> None, with absolute ``_lq``) and the manifest SHA-256."""
    from bfrbench.io import list_images, sha256_file

    manifest = testset / "manifest.parquet"
    if not manifest.is_file():
        if not unaligned:
            raise ArtifactError(f"{testset}: no manifest.parquet; is this a test set (bfrbench build testset)? "
                                "For a plain folder of photos use --unaligned")
        if not testset.is_dir():
            raise ConfigError(f"--testset {testset} is not a folder")
        from bfrbench.io.paths import id_problem

        rows = [{"id": p.relative_to(testset).with_suffix("").as_posix().replace("/", "__"), "_lq": str(p)}
                for p in list_images(testset)]
        for r in rows:
            if id_problem(r["id"]):
                r["_problem"] = f"{r['_lq']}: file name gives id {r['id']!r}: {id_problem(r['id'])}"
        return rows, None
    import pandas as pd

    try:
        df = pd.read_parquet(manifest)
    except Exception as exc:
        raise ArtifactError(f"{manifest}: cannot read: {exc}") from exc
    if not {"id", "lq_path"} <= set(df.columns):
        raise ArtifactError(f"{manifest}: needs columns 'id' and 'lq_path', found {sorted(df.columns)}")
    rows = []
    seen: set[str] = set()
    for rec in df.to_dict(orient="records"):
        row: dict[str, Any] = {k: (None if isinstance(v, float) and math.isnan(v) else (v.item() if isinstance(v, np.generic) else v))
               for k, v in rec.items()}
        row["id"] = str(row["id"])
        row["_lq"] = _safe_lq(testset, manifest, row, seen)
        rows.append(row)
    rows.sort(key=lambda r: r["id"])
    return rows, sha256_file(manifest)


def _safe_lq(testset: Path, manifest: Path, row: dict[str, Any], seen: set[str]) -> str | None:
    """The resolved LQ path of a manifest row, or None with ``row["_problem"]`` set (bfrbench.io.paths)."""
    from bfrbench.io.paths import UnsafePathError, check_id, resolve_inside

    where = f"{manifest} (id {row['id']!r})"
    try:
        check_id(row["id"], where=manifest)
        if row["id"] in seen:
            raise UnsafePathError(manifest, "id", row["id"], "appears twice in the manifest")
        seen.add(row["id"])
        return str(resolve_inside(testset, row.get("lq_path"), where=where, field="lq_path"))
    except UnsafePathError as exc:
        row["_problem"] = str(exc)
        return None


def run_key_for(method: str, version: str, options: Mapping[str, Any], dtype: str, seed: int,
                manifest_sha256: str | None, refs_k: int | None, unaligned: bool) -> str:
    """What a finished image must share with this run to be skipped (device and batch size excluded)."""
    from bfrbench.io import sha256_json

    return sha256_json({"method": method, "version": version, "options": dict(options), "dtype": dtype,
                        "seed": int(seed), "manifest_sha256": manifest_sha256, "refs": refs_k,
                        "unaligned": unaligned})


def _check_required(cls: type[Restorer], opts: Mapping[str, Any]) -> None:
    import inspect

    params = inspect.signature(cls.__init__).parameters
    missing = [k for k, p in params.items() if k != "self" and p.default is p.empty
               and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and k not in opts]
    if missing:
        raise ConfigError(f"method {cls.name!r} needs option(s) {', '.join(missing)}: pass --option "
                          + " --option ".join(f"{k}=..." for k in missing))


def _finished(out: Path, item: str, run_key: str) -> dict[str, Any] | None:
    from bfrbench.io import sha256_file

    png, state = out / f"{item}.png", out / STATE_DIR / f"{item}.json"
    if not (png.is_file() and state.is_file()):
        return None
    try:
        rec = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if rec.get("run_key") != run_key:
        raise ArtifactError(f"{out}: {item}.png was made by a different run (method, options, seed, dtype, "
                            "references or test set differ); write to a new --out folder or delete it")
    return rec if rec.get("sha256") == sha256_file(png) else None


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if k.startswith("_"):
            continue
        if isinstance(v, np.ndarray):
            v = v.tolist()
        out[k] = v if isinstance(v, (str, int, float, bool, type(None), list)) else str(v)
    return out


def _verify_inputs(testset: Path, rows: list[dict[str, Any]], verify: bool,
                   unaligned: bool) -> tuple[dict[str, str], dict[str, Any]]:
    """Check ids/paths (already done while reading) and LQ hashes against the manifest (docs/security.md).

    Returns ``(failures by id, the run.json "verification" record)``. Unsafe ids/paths are failures even with
    ``verify`` False; hash mismatches are failures, or warnings when ``verify`` is False. A manifest whose hash
    differs from testset.json stops the run (ArtifactError) unless ``verify`` is False.
    """
    from bfrbench.io.verify import HashCache, check_manifest, check_recorded

    failures: dict[str, str] = {r["id"]: r["_problem"] for r in rows if r.get("_problem")}
    warnings: list[str] = []
    rec: dict[str, Any] = {"enabled": verify, "manifest": None, "lq_checked": 0, "warnings": warnings}
    if unaligned and not (testset / "manifest.parquet").is_file():
        rec["manifest"] = "no manifest (plain folder of photos): nothing to verify"
        return failures, rec
    problem = check_manifest(testset)
    if problem is not None:
        if verify:
            raise ArtifactError(problem + "; rebuild the test set, or pass --no-verify to use it anyway")
        warnings.append(problem)
    rec["manifest"] = ("no testset.json: not checked" if not (testset / "testset.json").is_file()
                       else ("differs from testset.json" if problem else "matches testset.json"))
    cache = HashCache(testset)
    for r in rows:
        if r["id"] in failures or not r.get("lq_sha256"):
            continue
        msg = check_recorded(cache, Path(r["_lq"]), r["lq_sha256"], what="LQ",
                             source=f"{testset / 'manifest.parquet'} lq_sha256")
        rec["lq_checked"] += 1
        if msg is not None:
            if verify:
                failures[r["id"]] = msg + " (pass --no-verify to use it anyway)"
            else:
                warnings.append(msg)
    cache.save()
    return failures, rec


# -- public entry ---------------------------------------------------------------------------------------
@writes_output("out", inputs=("testset",), command="bfrbench restore")
def restore(
    method: str,
    testset: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    device: str = "cpu",
    dtype: str = "fp32",
    batch_size: int | None = None,
    seed: int = 0,
    refs: int | None = None,
    refs_csv: str | os.PathLike[str] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    options: Mapping[str, Any] | Sequence[str] | None = None,
    limit: int | None = None,
    unaligned: bool = False,
    detector: str | None = None,
    show_progress: bool | None = None,
    verify: bool = True,
) -> dict[str, Any]:
    """Restore every LQ face of a test set with ``method`` and write a run folder (docs/artifacts.md).

    Args:
        method: registry name (built-in or entry-point plugin), see ``bfrbench methods list``.
        testset: test-set folder (``manifest.parquet``); with ``unaligned`` also a plain folder of photos.
        out: run folder; reruns resume (finished, verified ids are skipped).
        device, dtype, batch_size: passed to the restorer (batch_size None: the method's default).
        seed: run seed; image ``id`` uses ``item_seed(seed, id)``.
        refs: K, number of references per image (first K in stored order; None: the method's maximum).
        refs_csv: user ``refs.csv`` (id, ref_paths) overriding ``TESTSET/references.parquet``.
        workers, scheduler: dask parallelism (see :func:`bfrbench.distributed.run_tasks`).
        options: constructor options, ``["key=value", ...]`` (typed by the signature) or a dict.
        limit: only the first N ids (sorted).
        unaligned: detect, align, restore and paste back every face of full photos.
        detector: face detector name for ``unaligned`` (``bfrbench.faces.get_detector``; None: its default).
        verify: check the manifest against testset.json and every LQ file against its ``lq_sha256``
            (mismatches are per-image failures); False records them as warnings in run.json instead.
            Unsafe ids and paths (docs/security.md) are failures either way.

    Returns:
        The run summary (the content of ``OUT/run.json``).

    Raises:
        ConfigError, ArtifactError, RegistryError: bad arguments or inputs (nothing is restored).
    """
    from bfrbench.distributed import TaskFailure, run_tasks
    from bfrbench.io import atomic_write_json
    from bfrbench.methods import METHODS
    from bfrbench.methods.references import load_reference_table
    from bfrbench.provenance import environment
    from bfrbench.rng import item_seed

    t_start = time.perf_counter()
    testset, out = Path(testset), Path(out)
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    check_limit(limit)
    seed = check_seed(seed)
    if scheduler is None:  # a remote scheduler's workers may have GPUs this machine lacks
        check_device(device)
    cls: type[Restorer] = METHODS.get(method)  # type: ignore[assignment]
    opts = parse_options(cls, options)
    _check_required(cls, opts)
    bs = int(batch_size) if batch_size is not None else cls.default_batch_size
    if bs < 1:
        raise ConfigError(f"batch_size must be >= 1, got {bs}")
    rows, manifest_sha = _read_manifest(testset, unaligned)
    if limit is not None:
        rows = rows[:limit]

    table = None
    use_refs = cls.uses_refs and not unaligned
    if use_refs or refs_csv is not None:
        table = load_reference_table(testset, refs_csv)
        if cls.needs_refs and table is None and not unaligned:
            raise ConfigError(f"method {method!r} needs reference images but {testset} has no references.parquet; "
                              "pass --refs-csv FILE (columns id, ref_paths)")
    if refs is not None and (refs < 0 or (cls.max_refs and refs > cls.max_refs)):
        raise ConfigError(f"refs must be between 0 and {cls.max_refs or 'any'} for {method!r}, got {refs}")
    refs_k = refs if refs is not None else (cls.max_refs or None)
    if not use_refs:
        refs_k = None

    bad, verification = _verify_inputs(testset, rows, verify, unaligned)
    problems = getattr(table, "problems", {})
    bad.update({r["id"]: problems[r["id"]] for r in rows if r["id"] in problems and use_refs and r["id"] not in bad})

    key = run_key_for(method, cls.version, opts, dtype, seed, manifest_sha, refs_k, unaligned)
    out.mkdir(parents=True, exist_ok=True)
    old_run = out / "run.json"
    if old_run.is_file():
        try:
            prev_key = json.loads(old_run.read_text(encoding="utf-8")).get("run_key")
        except ValueError:
            prev_key = None
        if prev_key not in (None, key):
            raise ArtifactError(f"{out} holds a run with different method/options/seed/test set; "
                                "use a new --out folder or delete it")

    job = _Job(method=method, kwargs={**opts, "dtype": dtype, "batch_size": bs}, device=device, out=str(out),
               run_key=key, refs_k=refs_k, use_refs=use_refs, needs_refs=cls.needs_refs, unaligned=unaligned,
               detector=detector)
    if workers == 1 and scheduler is None:
        _get_restorer(job)  # in-process: build once now so option errors stop the run before any work
    records: dict[str, dict[str, Any]] = {}
    todo: list[dict[str, Any]] = []
    for row in rows:
        if row["id"] in bad:
            continue
        rec = _finished(out, row["id"], key)
        if rec is None:
            todo.append(row)
        else:
            records[row["id"]] = rec
    resumed = len(records)

    batches = []
    for start in range(0, len(todo), bs):
        chunk = todo[start:start + bs]
        batches.append(_Batch(
            job=job,
            ids=tuple(r["id"] for r in chunk),
            lq_paths=tuple(r["_lq"] for r in chunk),
            ref_paths=tuple(tuple(str(p) for p in table[r["id"]]) if table and r["id"] in table else None
                            for r in chunk),
            contexts=tuple(_jsonable(r) for r in chunk),
            seeds=tuple(item_seed(seed, r["id"]) for r in chunk),
        ))

    failures: dict[str, str] = dict(bad)
    config_path = out / STATE_DIR / "config.json"
    meta: dict[str, Any] | None = json.loads(config_path.read_text()) if config_path.is_file() else None
    for res in run_tasks(_run_batch, batches, workers=workers, scheduler=scheduler, desc=f"restore {method}",
                         show_progress=show_progress):
        if isinstance(res, TaskFailure):
            for item in res.task.ids:
                failures[item] = res.error
            continue
        records.update(res.done)
        failures.update(res.failed)
        if res.config is not None and meta is None:
            meta = {"options": res.config, "weights": res.weights}
            atomic_write_json(config_path, meta)
    if meta is None:  # nothing ran (all resumed or all failed): describe the restorer from its class
        meta = {"options": {**job.kwargs, "device": device}, "weights": {}}

    summary = _summary(method, cls, meta, seed, testset, manifest_sha, rows, records, failures, resumed, key,
                       refs_k, table is not None and use_refs, unaligned, time.perf_counter() - t_start)
    summary["verification"] = verification
    summary["environment"] = environment()
    atomic_write_json(out / "run.json", summary)
    if failures:
        _append_log(out, [f"FAILED {k}: {v}" for k, v in sorted(failures.items())])
    return summary


def _append_log(out: Path, lines: Sequence[str]) -> None:
    with open(out / "run.log", "a", encoding="utf-8") as fh:
        fh.write("".join(f"[runner] {line}\n" for line in lines))


def _testset_name(testset: Path) -> str:
    try:
        return str(json.loads((testset / "testset.json").read_text(encoding="utf-8")).get("name") or testset.name)
    except (OSError, ValueError):
        return testset.name


def _summary(method: str, cls: type[Restorer], meta: Mapping[str, Any], seed: int, testset: Path,
             manifest_sha: str | None, rows: Sequence[Mapping[str, Any]], records: Mapping[str, Mapping[str, Any]],
             failures: Mapping[str, str], resumed: int, key: str, refs_k: int | None, with_refs: bool,
             unaligned: bool, wall: float) -> dict[str, Any]:
    images = {k: {"sha256": r["sha256"], "seconds": r["seconds"], "peak_mem_bytes": r["peak_mem_bytes"]}
              for k, r in sorted(records.items())}
    secs = [v["seconds"] for v in images.values()]
    peaks = [v["peak_mem_bytes"] for v in images.values() if v["peak_mem_bytes"] is not None]
    return {
        "kind": "run",
        "format_version": FORMAT_VERSION,
        "method": method,
        "method_version": cls.version,
        "method_info": cls.info(),
        "options": dict(meta["options"]),
        "seed": int(seed),
        "run_key": key,
        "refs": {"k": refs_k, "used": with_refs},
        "unaligned": unaligned,
        "weights": dict(meta.get("weights") or {}),
        "testset": {"path": str(testset.resolve()), "manifest_sha256": manifest_sha, "name": _testset_name(testset)},
        "images": images,
        "failures": [{"id": k, "reason": v} for k, v in sorted(failures.items())],
        "counts": {"total": len(rows), "ok": len(images), "failed": len(failures), "resumed": resumed,
                   "restored": len(images) - resumed},
        "timings": {"total_seconds": round(wall, 3),
                    "mean_seconds_per_image": round(float(np.mean(secs)), 6) if secs else None,
                    "peak_mem_bytes": max(peaks) if peaks else None},
    }
