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

:func:`restore` runs three stages: ``_plan`` (check arguments and inputs, skip finished ids, cut batches),
``_execute`` (run the batches through ``run_tasks``) and ``_record`` (write ``run.json`` and ``run.log``).
What runs inside a worker lives in :mod:`bfrbench.methods._worker`, the manifest reading and verification in
:mod:`bfrbench.methods._inputs`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bfrbench.artifacts import read_artifact, read_json_file
from bfrbench.checks import check_device, check_limit, check_seed
from bfrbench.errors import ArtifactError, ConfigError
from bfrbench.io.outdir import writes_output
from bfrbench.methods._base import DTYPES, Restorer, parse_options
from bfrbench.methods._inputs import read_manifest, verify_inputs
from bfrbench.methods._worker import (
    STATE_DIR,
    Batch,
    BatchResult,
    Job,
    finished_output,
    get_restorer,
    run_aligned_batch,
)
from bfrbench.methods.unaligned import run_unaligned_batch

__all__ = ["restore", "FORMAT_VERSION", "run_key_for"]

FORMAT_VERSION = 1


# -- planning ---------------------------------------------------------------------------------------------
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
        raise ConfigError(f"method {cls.name!r} needs option(s) {', '.join(missing)}: pass "
                          + " ".join(f"`options` {k}=..." for k in missing))


def _finished(out: Path, item: str, run_key: str) -> dict[str, Any] | None:
    return finished_output(out, item, run_key, differs="a different run (method, options, seed, dtype, references "
                                                        "or test set differ)")


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if k.startswith("_"):
            continue
        if isinstance(v, np.ndarray):
            v = v.tolist()
        out[k] = v if isinstance(v, (str, int, float, bool, type(None), list)) else str(v)
    return out


# -- plan / execute / record -----------------------------------------------------------------------------
@dataclass
class _Plan:
    """A checked run: the method class and its job, the rows still to restore and what is already known."""

    method: str
    cls: type[Restorer]
    testset: Path
    out: Path
    seed: int
    job: Job
    rows: list[dict[str, Any]]
    manifest_sha: str | None
    table: Any
    use_refs: bool
    refs_k: int | None
    bad: dict[str, str]
    verification: dict[str, Any]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    batches: list[Batch] = field(default_factory=list)
    resumed: int = 0


def _check_refs(cls: type[Restorer], method: str, testset: Path, refs: int | None, refs_csv: Any,
                unaligned: bool) -> tuple[Any, bool, int | None]:
    """The reference table (or None), whether the method gets references, and K."""
    from bfrbench.methods.references import load_reference_table

    table = None
    use_refs = cls.uses_refs and not unaligned
    if use_refs or refs_csv is not None:
        table = load_reference_table(testset, refs_csv)
        if cls.needs_refs and table is None and not unaligned:
            raise ConfigError(f"method {method!r} needs reference images but {testset} has no references.parquet; "
                              "pass `refs_csv` FILE (columns id, ref_paths)")
    if refs is not None and (refs < 0 or (cls.max_refs and refs > cls.max_refs)):
        raise ConfigError(f"refs must be between 0 and {cls.max_refs or 'any'} for {method!r}, got {refs}")
    refs_k = refs if refs is not None else (cls.max_refs or None)
    if not use_refs:
        refs_k = None
    return table, use_refs, refs_k


def _check_previous_run(out: Path, key: str) -> None:
    """Refuse an ``out`` whose run.json was made with another run key."""
    old_run = out / "run.json"
    if old_run.is_file():
        try:
            prev_key = read_artifact(old_run, "run").get("run_key")
        except ArtifactError:  # unreadable or not a run record: nothing to compare with
            prev_key = None
        if prev_key not in (None, key):
            raise ArtifactError(f"{out} holds a run with different method/options/seed/test set; "
                                "use a new `out` folder or delete it")


def _plan(method: str, testset: Path, out: Path, *, device: str, dtype: str, batch_size: int | None, seed: int,
          refs: int | None, refs_csv: Any, workers: int, scheduler: str | None, options: Any, limit: int | None, unaligned: bool,
          detector: str | None, verify: bool) -> _Plan:
    """Check every argument and input, then cut the ids that are not finished yet into batches."""
    from bfrbench.methods import METHODS

    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    check_limit(limit)
    seed = check_seed(seed)
    if scheduler is None:  # a remote scheduler's workers may have GPUs this machine lacks
        check_device(device)
    cls = METHODS.get(method)
    opts = parse_options(cls, options)
    _check_required(cls, opts)
    bs = int(batch_size) if batch_size is not None else cls.default_batch_size
    if bs < 1:
        raise ConfigError(f"batch_size must be >= 1, got {bs}")
    rows, manifest_sha = read_manifest(testset, unaligned)
    if limit is not None:
        rows = rows[:limit]
    table, use_refs, refs_k = _check_refs(cls, method, testset, refs, refs_csv, unaligned)

    bad, verification = verify_inputs(testset, rows, verify, unaligned)
    problems = getattr(table, "problems", {})
    bad.update({r["id"]: problems[r["id"]] for r in rows if r["id"] in problems and use_refs and r["id"] not in bad})

    key = run_key_for(method, cls.version, opts, dtype, seed, manifest_sha, refs_k, unaligned)
    out.mkdir(parents=True, exist_ok=True)
    _check_previous_run(out, key)
    job = Job(method=method, kwargs={**opts, "dtype": dtype, "batch_size": bs}, device=device, out=str(out),
              run_key=key, refs_k=refs_k, use_refs=use_refs, needs_refs=cls.needs_refs, unaligned=unaligned,
              detector=detector)
    if workers == 1 and scheduler is None:
        get_restorer(job)  # in-process: build once now so option errors stop the run before any work
    plan = _Plan(method=method, cls=cls, testset=testset, out=out, seed=seed, job=job, rows=rows,
                 manifest_sha=manifest_sha, table=table, use_refs=use_refs, refs_k=refs_k, bad=bad,
                 verification=verification)
    todo: list[dict[str, Any]] = []
    for row in rows:
        if row["id"] in bad:
            continue
        rec = _finished(out, row["id"], key)
        if rec is None:
            todo.append(row)
        else:
            plan.records[row["id"]] = rec
    plan.resumed = len(plan.records)
    plan.batches = _cut_batches(job, todo, table, bs, seed)
    return plan


def _cut_batches(job: Job, todo: Sequence[Mapping[str, Any]], table: Any, bs: int, seed: int) -> list[Batch]:
    """``todo`` rows in batches of ``bs`` with their reference paths, context and per-image seeds."""
    from bfrbench.rng import item_seed

    batches = []
    for start in range(0, len(todo), bs):
        chunk = todo[start:start + bs]
        batches.append(Batch(
            job=job,
            ids=tuple(r["id"] for r in chunk),
            lq_paths=tuple(r["_lq"] for r in chunk),
            ref_paths=tuple(tuple(str(p) for p in table[r["id"]]) if table and r["id"] in table else None
                            for r in chunk),
            contexts=tuple(_jsonable(r) for r in chunk),
            seeds=tuple(item_seed(seed, r["id"]) for r in chunk),
        ))
    return batches


def _run_batch(batch: Batch) -> BatchResult:
    """One task (runs in a worker): build the restorer once per process, restore, write the outputs."""
    res = BatchResult()
    restorer = get_restorer(batch.job)
    res.config, res.weights = restorer.config(), restorer.weight_hashes()
    if batch.job.unaligned:
        run_unaligned_batch(restorer, batch, res)
    else:
        run_aligned_batch(restorer, batch, res)
    return res


def _execute(plan: _Plan, *, workers: int, scheduler: str | None,
             show_progress: bool | None) -> tuple[dict[str, str], dict[str, Any]]:
    """Run the batches; adds the written ids to ``plan.records``. Returns ``(failures, restorer meta)``."""
    from bfrbench.distributed import TaskFailure, run_tasks
    from bfrbench.io import atomic_write_json

    failures: dict[str, str] = dict(plan.bad)
    config_path = plan.out / STATE_DIR / "config.json"
    meta: dict[str, Any] | None = json.loads(config_path.read_text()) if config_path.is_file() else None
    for res in run_tasks(_run_batch, plan.batches, workers=workers, scheduler=scheduler,
                         desc=f"restore {plan.method}", show_progress=show_progress):
        if isinstance(res, TaskFailure):
            for item in res.task.ids:
                failures[item] = res.error
            continue
        plan.records.update(res.done)
        failures.update(res.failed)
        if res.config is not None and meta is None:
            meta = {"options": res.config, "weights": res.weights}
            atomic_write_json(config_path, meta)
    if meta is None:  # nothing ran (all resumed or all failed): describe the restorer from its class
        meta = {"options": {**plan.job.kwargs, "device": plan.job.device}, "weights": {}}
    return failures, meta


def _record(plan: _Plan, failures: dict[str, str], meta: Mapping[str, Any], wall: float) -> dict[str, Any]:
    """Write ``OUT/run.json`` (and the failures to ``OUT/run.log``); returns the summary."""
    from bfrbench.io import atomic_write_json
    from bfrbench.provenance import environment

    summary = _summary(plan.method, plan.cls, meta, plan.seed, plan.testset, plan.manifest_sha, plan.rows,
                       plan.records, failures, plan.resumed, plan.job.run_key, plan.refs_k,
                       plan.table is not None and plan.use_refs, plan.job.unaligned, wall)
    summary["verification"] = plan.verification
    summary["environment"] = environment()
    atomic_write_json(plan.out / "run.json", summary)
    if failures:
        _append_log(plan.out, [f"FAILED {k}: {v}" for k, v in sorted(failures.items())])
    return summary


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
    t_start = time.perf_counter()
    plan = _plan(method, Path(testset), Path(out), device=device, dtype=dtype, batch_size=batch_size, seed=seed,
                 refs=refs, refs_csv=refs_csv, workers=workers, scheduler=scheduler, options=options, limit=limit,
                 unaligned=unaligned, detector=detector, verify=verify)
    failures, meta = _execute(plan, workers=workers, scheduler=scheduler, show_progress=show_progress)
    return _record(plan, failures, meta, time.perf_counter() - t_start)


def _append_log(out: Path, lines: Sequence[str]) -> None:
    with open(out / "run.log", "a", encoding="utf-8") as fh:
        fh.write("".join(f"[runner] {line}\n" for line in lines))


def _testset_name(testset: Path) -> str:
    try:
        return str(read_json_file(testset / "testset.json").get("name") or testset.name)
    except ArtifactError:
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
