"""``run_suite``: build what is missing, restore, evaluate; every stage cached by a content/config hash.

Stages and their cache keys (SHA-256 of the canonical JSON of):

* source faces: the suite's ``source`` block;
* test set: its (name, preset, seed, limit), the hash of the source files (sorted ``name:sha256``);
* run: method name and options, the suite seed, the test-set ``manifest_sha256``;
* evaluation: the metric list, the run's restored-outputs hash (``docs/artifacts.md``), the manifest hash.

Each stage writes into ``<work>/<stage>/<name>-<key[:12]>/`` and, when it finished, a ``.stage.json`` stamp
holding the key. A stage whose folder has a matching stamp is skipped, so re-running an unchanged suite does
no work; changing one method's options re-runs that method's restore and evaluation only. A stage that
fails is reported and its dependants skipped; the other cells go on. A pinned ``manifest_sha256`` that
differs from the built test set is a failure of that test set (the recipe or the source changed).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bfrbench.artifacts import read_artifact, read_json_file
from bfrbench.errors import ArtifactError, BfrbenchError, MissingWeightsError
from bfrbench.io import atomic_write_json, list_images, sha256_file, sha256_json
from bfrbench.leaderboard.pipeline import Pipeline, default_pipeline
from bfrbench.leaderboard.results import restored_hash
from bfrbench.leaderboard.suite import Suite, load_suite

__all__ = ["run_suite", "RunReport", "StageRecord"]

STAMP = ".stage.json"


@dataclass
class StageRecord:
    stage: str
    name: str
    status: str  # "cached" | "built" | "failed" | "skipped"
    seconds: float = 0.0
    path: str = ""
    detail: str = ""


@dataclass
class RunReport:
    """What ``run_suite`` did: one record per stage, the index path, failures."""

    suite: str
    work_dir: Path
    stages: list[StageRecord] = field(default_factory=list)

    @property
    def failures(self) -> list[StageRecord]:
        return [s for s in self.stages if s.status == "failed"]

    def count(self, status: str) -> int:
        return sum(1 for s in self.stages if s.status == status)

    def as_dict(self) -> dict[str, Any]:
        return {"suite": self.suite, "work_dir": str(self.work_dir),
                "stages": [s.__dict__ for s in self.stages],
                "counts": {k: self.count(k) for k in ("cached", "built", "failed", "skipped")}}


def _stamped(folder: Path, key: str) -> dict[str, Any] | None:
    p = folder / STAMP
    if not p.is_file():
        return None
    try:
        data = read_json_file(p)
    except ArtifactError:
        return None
    return data if data.get("key") == key else None


def _stage(report: RunReport, stage: str, name: str, folder: Path, key: str, fn: Any) -> dict[str, Any] | None:
    """Run ``fn()`` unless ``folder`` holds a stamp with ``key``; returns the stamp data or None on failure."""
    hit = _stamped(folder, key)
    if hit is not None:
        report.stages.append(StageRecord(stage, name, "cached", 0.0, str(folder)))
        return hit
    t0 = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        extra = fn() or {}
    except BfrbenchError as exc:
        report.stages.append(StageRecord(stage, name, "failed", time.perf_counter() - t0, str(folder), str(exc)))
        return None
    except Exception as exc:  # a bug in one stage must not lose the other cells
        report.stages.append(StageRecord(stage, name, "failed", time.perf_counter() - t0, str(folder),
                                         f"{type(exc).__name__}: {exc}"))
        return None
    stamp = {"key": key, "stage": stage, "name": name, **extra}
    atomic_write_json(folder / STAMP, stamp)
    report.stages.append(StageRecord(stage, name, "built", time.perf_counter() - t0, str(folder)))
    return stamp


def _folder_hash(folder: Path) -> str:
    files = list_images(folder)
    return sha256_json(sorted(f"{p.relative_to(folder).as_posix()}:{sha256_file(p)}" for p in files))


def _source(suite: Suite, pipe: Pipeline, work: Path, report: RunReport) -> tuple[Path, str] | None:
    """The source-faces folder and the hash of its files (rebuilt once if the cached files changed)."""
    key = sha256_json({"source": suite.source, "pipeline": pipe.version})
    folder = work / "source" / key[:12]

    def build() -> dict[str, Any]:
        src = Path(pipe.prepare_source(suite.source, suite.path, folder))
        return {"folder": os.path.relpath(src.resolve(), folder.resolve()), "files_sha256": _folder_hash(src)}

    for _ in range(2):
        stamp = _stage(report, "source", str(suite.source.get("kind", "none")), folder, key, build)
        if stamp is None:
            return None
        src = (folder / stamp["folder"]).resolve()
        if src.is_dir() and _folder_hash(src) == stamp["files_sha256"]:
            return src, str(stamp["files_sha256"])
        (folder / STAMP).unlink(missing_ok=True)  # cached files were changed by hand: rebuild
        report.stages.pop()
    report.stages.append(StageRecord("source", "source", "failed", detail=f"{folder}: files change between reads"))
    return None


@dataclass
class _Ctx:
    """What every stage of one ``run_suite`` call shares."""

    suite: Suite
    pipe: Pipeline
    work: Path
    report: RunReport
    workers: int
    device: str
    metrics: list[str]
    optional: set[str]
    #: extra evaluate() arguments: a suite that names a protocol (``protocol:``) also takes its FID statistics
    eval_kw: dict[str, Any]


def _testset_stage(c: _Ctx, t: Any, src_path: Path, src_hash: str) -> tuple[Path, dict[str, Any]] | None:
    """Build (or reuse) one test set; checks its manifest hash against testset.json and the suite's pin."""
    tkey = sha256_json({"testset": t.config(), "source_sha256": src_hash, "pipeline": c.pipe.version})
    tdir = c.work / "testsets" / f"{t.name}-{tkey[:12]}"

    def build_ts() -> dict[str, Any]:
        c.pipe.build_testset(t.preset, Path(src_path), tdir, seed=t.seed, limit=t.limit, workers=c.workers)
        tj = read_artifact(tdir / "testset.json", "testset")
        actual = sha256_file(tdir / "manifest.parquet")
        if tj.get("manifest_sha256") and tj["manifest_sha256"] != actual:
            raise ArtifactError(f"{tdir}: testset.json manifest_sha256 differs from manifest.parquet")
        if t.manifest_sha256 and t.manifest_sha256 != actual:
            raise ArtifactError(f"test set {t.name!r}: manifest_sha256 {actual} differs from the pinned "
                                f"{t.manifest_sha256} in suite.yaml (recipe or source faces changed)")
        return {"manifest_sha256": actual}

    stamp = _stage(c.report, "testset", t.name, tdir, tkey, build_ts)
    return None if stamp is None else (tdir, stamp)


def _cell_stages(c: _Ctx, t: Any, m: Any, tdir: Path, tstamp: dict[str, Any]) -> dict[str, str] | None:
    """Restore then evaluate one (test set, method) cell; returns its index entry, None when a stage failed."""
    s = c.suite
    cell = f"{t.name}/{m.display}"
    rkey = sha256_json({"method": m.name, "options": m.options, "seed": s.seed,
                        "manifest_sha256": tstamp["manifest_sha256"]})
    rdir = c.work / "runs" / t.name / f"{m.display}-{rkey[:12]}"

    def do_run() -> dict[str, Any]:
        c.pipe.restore(m.name, tdir, rdir, device=c.device, seed=s.seed, options=dict(m.options), workers=c.workers)
        run = read_artifact(rdir / "run.json", "run")
        return {"restored_sha256": restored_hash({k: v["sha256"] for k, v in (run.get("images") or {}).items()})}

    rstamp = _stage(c.report, "restore", cell, rdir, rkey, do_run)
    if rstamp is None:
        return None
    ekey = sha256_json({"metrics": c.metrics, "restored_sha256": rstamp["restored_sha256"],
                        "manifest_sha256": tstamp["manifest_sha256"]})
    edir = c.work / "evals" / t.name / f"{m.display}-{ekey[:12]}"

    def do_eval() -> dict[str, Any]:
        try:
            c.pipe.evaluate(tdir, rdir, edir, metrics=c.metrics, device=c.device, workers=c.workers, **c.eval_kw)
            skipped: list[str] = []
        except MissingWeightsError:
            if not c.optional:
                raise
            skipped = sorted(c.optional)
            c.pipe.evaluate(tdir, rdir, edir, metrics=[x for x in c.metrics if x not in c.optional],
                            device=c.device, workers=c.workers, **c.eval_kw)
        read_artifact(edir / "summary.json", "evaluation")
        return {"skipped_metrics": skipped}

    if _stage(c.report, "evaluate", cell, edir, ekey, do_eval) is None:
        return None
    return {"method": m.display, "method_name": m.name, "testset": t.name,
            "testset_dir": os.path.relpath(tdir, c.work), "run_dir": os.path.relpath(rdir, c.work),
            "eval_dir": os.path.relpath(edir, c.work)}


def _write_index(c: _Ctx, entries: list[dict[str, str]], methods: list[str] | None) -> None:
    """``<work>/index.json``: the cells for render (cells of methods not re-run this time are kept)."""
    timings = {f"{r.stage}:{r.name}": round(r.seconds, 3) for r in c.report.stages if r.status == "built"}
    old = c.work / "index.json"
    if methods and old.is_file():
        kept = [e for e in read_artifact(old, "leaderboard-index").get("entries", []) if e["method"] not in methods]
        entries = kept + entries
    atomic_write_json(old, {"kind": "leaderboard-index", "suite": c.suite.name,
                            "entries": sorted(entries, key=lambda e: (e["testset"], e["method"])), "timings": timings})


def run_suite(
    suite: str | os.PathLike[str] | Suite,
    *,
    work_dir: str | os.PathLike[str] | None = None,
    workers: int = 1,
    device: str = "cpu",
    pipeline: Pipeline | None = None,
    methods: list[str] | None = None,
) -> RunReport:
    """Build, restore and evaluate every (method, test set) cell of a suite that is not cached.

    Args:
        suite: name, folder or loaded suite.
        work_dir: artifact cache (default ``<suite>/_work``); ``index.json`` there lists the cells for render.
        workers: dask workers per stage (1 = in process).
        device: torch device for restoration and metrics (``cpu``, ``cuda``, ``cuda:1``).
        pipeline: stage callables (default: bfrbench's own stages).
        methods: restrict to these method labels (others keep their cached cells).

    Returns:
        a :class:`RunReport`; failures are in ``report.failures`` (the run goes on past them).
    """
    s = suite if isinstance(suite, Suite) else load_suite(suite)
    pipe = pipeline or default_pipeline()
    work = Path(work_dir) if work_dir else s.path / "_work"
    work.mkdir(parents=True, exist_ok=True)
    report = RunReport(suite=s.name, work_dir=work)
    if not s.testsets:
        atomic_write_json(work / "index.json", {"kind": "leaderboard-index", "suite": s.name, "entries": []})
        return report
    c = _Ctx(suite=s, pipe=pipe, work=work, report=report, workers=workers, device=device,
             metrics=[m.spec for m in s.metrics], optional={m.spec for m in s.metrics if m.optional},
             eval_kw={"fid_stats": s.fid_stats} if s.fid_stats else {})
    src = _source(s, pipe, work, report)
    entries: list[dict[str, str]] = []
    for t in s.testsets:
        if src is None:
            report.stages.append(StageRecord("testset", t.name, "skipped", detail="source failed"))
            continue
        built = _testset_stage(c, t, *src)
        if built is None:
            continue
        for m in s.methods:
            if not methods or m.display in methods:
                entry = _cell_stages(c, t, m, *built)
                if entry is not None:
                    entries.append(entry)
    _write_index(c, entries, methods)
    return report
