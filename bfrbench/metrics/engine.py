"""``evaluate()``: score a restored folder against a test set in one pass (``bfrbench evaluate``).

Flow (docs/artifacts.md, "Evaluation"):

1. Read ``TESTSET/manifest.parquet``; list ``RESTORED/<id>.<ext>``; pair by id. Missing, extra, duplicate
   and wrong-count problems are recorded, never fatal (an empty pairing is an :class:`ArtifactError`).
2. Resolve metric specs (default: the registry's default set, a missing default weight falling back or left
   out with a record, see :func:`default_metric_specs`; an explicitly requested metric with missing weights
   raises :class:`MissingWeightsError` naming the file and how to get it). Verify the inputs against their
   recorded hashes (:mod:`bfrbench.metrics._verify`, docs/security.md).
3. Shard the paired ids in order (``batch_size`` ids per shard) and run :func:`score_shard` through
   :func:`bfrbench.distributed.run_tasks`: each shard decodes every restored and HQ image once, runs every
   per-image metric on them, and returns Inception features for set metrics. Features and per-image values
   go through the content-addressed :class:`~bfrbench.metrics.cache.FeatureCache`. Shards are fixed by id
   order, so results do not depend on the worker count.
4. Set metrics (FID/KID) from the gathered features; summary statistics with the bootstrap 95% CI of
   :mod:`bfrbench.stats` (2000 resamples, generator ``item_generator(seed, "", "bootstrap")``); write
   ``per_image.parquet`` and ``summary.json`` atomically.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bfrbench.checks import check_device, check_seed
from bfrbench.errors import ArtifactError, ConfigError, ImageError, MissingWeightsError
from bfrbench.io.outdir import writes_output
from bfrbench.metrics._base import METRICS, ImageItem, Metric, NoRefMetric, PairMetric, SetMetric, Shared, parse_spec
from bfrbench.metrics._pairing import read_manifest, scan_restored
from bfrbench.metrics._verify import verify_evaluation_inputs
from bfrbench.stats import BOOTSTRAP_GENERATOR, BOOTSTRAP_RESAMPLES
from bfrbench.stats import bootstrap_ci_json as bootstrap_ci  # the one bootstrap CI (also the leaderboard's)

__all__ = ["evaluate", "default_metric_specs", "registry_default_specs", "resolve_metrics", "score_shard", "FORMAT_VERSION", "bootstrap_ci"]

FORMAT_VERSION = 1
_INSTANCES: dict[tuple[str, str, int], Metric] = {}


def _log_stderr(msg: str) -> None:
    print(f"bfrbench evaluate: {msg}", file=sys.stderr)


# -- metric selection ------------------------------------------------------------------------------
def registry_default_specs(*, has_hq: bool = True, fid_stats: bool = False) -> list[str]:
    """The default metric set as the registry defines it, whatever is in the weights cache: each metric's
    registered default variant (identity metrics: every embedder backend), no KID; FR and ``-hq`` set metrics
    only when the test set has HQ images."""
    out: list[str] = []
    for name, cls in METRICS.items():
        if not cls.include_by_default:
            continue  # e.g. KID: noisy on a few hundred images; request it explicitly
        variants = list(cls.default_set_variants())
        if name == "fid" and fid_stats:
            variants.append("legacy-stats")
        for v in dict.fromkeys(variants):
            needs_hq = cls.kind == "FR" or (cls.kind == "set" and v.endswith("-hq"))
            if not (needs_hq and not has_hq):
                out.append(f"{name}:{v}")
    return out


def default_metric_specs(*, has_hq: bool = True, fid_stats: bool = False,
                         left_out: dict[str, str] | None = None) -> list[str]:
    """The registry defaults (:func:`registry_default_specs`) that can run here.

    A default whose weights are missing is replaced by its metric's offline fallback when it has one (``ids`` /
    ``deg``: ``dlib``, the note evaluate prints), else left out (recorded in ``left_out``: spec -> missing
    weight). Importing or fetching a weight file therefore never adds a metric that is not a registry default,
    and never switches a default to a variant whose own weights are missing.
    """
    out: list[str] = []
    for spec in registry_default_specs(has_hq=has_hq, fid_stats=fid_stats):
        name, _, v = spec.partition(":")
        cls = METRICS.get(name)
        try:
            ok = bool(cls.weights_present(v))
        except KeyError:
            ok = False
        fb = cls.fallback_variant
        if ok:
            out.append(spec)
        elif fb and v != fb and cls.weights_present(fb):
            out.append(f"{name}:{fb}")
        elif left_out is not None:
            left_out[spec] = ", ".join(cls.weights_for(v)) or "backend not available"
    return list(dict.fromkeys(out))


def resolve_metrics(specs: Sequence[str] | None, *, has_hq: bool, fid_stats: str | None,
                    left_out: dict[str, str] | None = None) -> list[tuple[str, type[Metric]]]:
    """(column, class) for each spec, checking weights, HQ availability and ``fid_stats``."""
    if specs is None:
        specs = default_metric_specs(has_hq=has_hq, fid_stats=fid_stats is not None, left_out=left_out)
    out: list[tuple[str, type[Metric]]] = []
    for raw in specs:
        s = parse_spec(raw)
        col = s.column
        if col in (c for c, _ in out):
            continue
        if (s.cls.kind == "FR" or s.variant.endswith("-hq")) and not has_hq:
            raise ConfigError(f"metric {col!r} needs HQ images, but the test set has none (LQ-only set)")
        if s.variant.endswith("-stats") and fid_stats is None:
            raise ConfigError(f"metric {col!r} needs reference statistics: pass fid_stats=FILE.npz "
                              "(make one with `bfrbench fid-stats`) or a registered name such as "
                              "fid-stats-ffhq512-cleanfid-trainval70k")
        if not s.cls.weights_present(s.variant):
            from bfrbench.weights import get_weight, is_present, missing_message

            missing = [w for w in s.cls.weights_for(s.variant) if not is_present(w)]
            detail = missing_message(get_weight(missing[0])) if missing else "its backend is not available"
            raise MissingWeightsError(f"metric {col!r} cannot run: {detail}")
        out.append((col, s.cls))
    return out


def _instance(column: str, device: str, batch_size: int) -> Metric:
    key = (column, device, batch_size)
    if key not in _INSTANCES:
        s = parse_spec(column)
        _INSTANCES[key] = s.cls(s.variant, device=device, batch_size=batch_size)
    return _INSTANCES[key]


# -- one shard ---------------------------------------------------------------------------------------
def _load(path: str | None, what: str) -> tuple[ImageItem | None, str | None]:
    if path is None:
        return None, None
    from bfrbench.io import read_image, sha256_file

    try:
        img = read_image(path)
        return ImageItem(Path(path).stem, img, sha256_file(path)), None
    except ImageError as exc:
        return None, f"{what} image unreadable: {exc}"


def _is_gray(img: np.ndarray) -> bool:
    return bool(np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2]))


def score_shard(task: dict[str, Any]) -> dict[str, Any]:
    """Score one shard (picklable: runs in dask workers).

    Args:
        task: ``ids``, ``restored`` and ``hq`` paths (str or None), ``columns`` (metric specs), ``device``,
            ``batch_size``, ``cache_root`` (str or None).

    Returns:
        ``values`` {column: [float]}, ``errors`` [[str]], ``sha256`` [str|None], ``features``
        {extractor_id: {"restored": (n, D), "restored_ids", "hq": (m, D), "hq_ids"}}, ``computed`` counts.
    """
    from bfrbench.metrics.cache import FeatureCache

    ids: list[str] = task["ids"]
    n = len(ids)
    shared = Shared(FeatureCache(task["cache_root"]) if task.get("cache_root") else None)
    metrics = [_instance(c, task["device"], task["batch_size"]) for c in task["columns"]]
    errors: list[list[str]] = [[] for _ in range(n)]
    res: list[ImageItem | None] = []
    hq: list[ImageItem | None] = []  # None where unreadable or size-mismatched (no FR scores)
    hq_set: list[ImageItem | None] = []  # every readable HQ image (reference side of FID/KID)
    for i, (rp, hp) in enumerate(zip(task["restored"], task["hq"])):
        r, err = _load(rp, "restored")
        h, herr = _load(hp, "HQ")
        for e in (err, herr):
            if e:
                errors[i].append(e)
        if r is not None:
            r.id = ids[i]
            if r.image is not None and _is_gray(r.image) and not (h is not None and _is_gray(h.image)):  # type: ignore[arg-type]
                errors[i].append("grayscale output (R=G=B in every pixel) for a colour HQ image; scored as is")
        hq_set.append(h)
        if r is not None and h is not None and r.image.shape != h.image.shape:  # type: ignore[union-attr]
            hr, wr = r.image.shape[:2]  # type: ignore[union-attr]
            hh, wh = h.image.shape[:2]  # type: ignore[union-attr]
            errors[i].append(f"size mismatch: restored {wr}x{hr}, HQ {wh}x{hh}; full-reference metrics skipped")
            h = None
        res.append(r)
        hq.append(h)
    values: dict[str, list[float]] = {}
    features: dict[str, dict[str, Any]] = {}
    for m in metrics:
        col = m.spec
        vals = np.full(n, np.nan)
        try:
            if isinstance(m, PairMetric):
                idx = [i for i in range(n) if res[i] is not None and hq[i] is not None]
                if idx:
                    v, errs = m.score_pairs([res[i] for i in idx], [hq[i] for i in idx], shared)  # type: ignore[misc]
                    _put(vals, errors, idx, m.stored_values(v), errs, col)
            elif isinstance(m, NoRefMetric):
                idx = [i for i in range(n) if res[i] is not None]
                if idx:
                    v, errs = m.score_images([res[i] for i in idx], shared)  # type: ignore[misc]
                    _put(vals, errors, idx, m.stored_values(v), errs, col)
            elif isinstance(m, SetMetric):
                fid_key = m.extractor_id
                if fid_key not in features:
                    ridx = [i for i in range(n) if res[i] is not None]
                    hidx = [i for i in range(n) if hq_set[i] is not None and task.get("set_hq")]
                    features[fid_key] = {
                        "restored": m.features([res[i] for i in ridx], shared),  # type: ignore[misc]
                        "restored_ids": [ids[i] for i in ridx],
                        "hq": m.features([hq_set[i] for i in hidx], shared),  # type: ignore[misc]
                        "hq_ids": [ids[i] for i in hidx],
                    }
                continue
        except Exception as exc:  # one metric failing on a shard is reported per image, never a traceback
            for i in range(n):
                errors[i].append(f"{col}: {type(exc).__name__}: {exc}")
        values[col] = vals.tolist()
    return {"ids": ids, "values": values, "errors": errors, "features": features,
            "sha256": [r.sha256 if r is not None else None for r in res], "computed": dict(shared.computed)}


def _put(vals: np.ndarray, errors: list[list[str]], idx: list[int], v: np.ndarray, errs: list[str | None],
         col: str) -> None:
    for j, i in enumerate(idx):
        x = float(v[j])
        if errs[j]:
            errors[i].append(errs[j])  # type: ignore[arg-type]
        if not np.isfinite(x):
            if not errs[j]:
                why = " (restored image identical to HQ)" if col.startswith("psnr") and x == np.inf else ""
                errors[i].append(f"{col}: non-finite value {x}{why}; excluded from the mean")
            x = float("nan")
        vals[i] = x


def _load_reference_stats(fid_stats: str) -> tuple[dict[str, Any], str]:
    from bfrbench.io import sha256_file
    from bfrbench.metrics.fid import load_stats

    p = Path(fid_stats)
    if not p.is_file():
        from bfrbench.weights import all_weights, resolve

        if fid_stats in all_weights():
            p = resolve(fid_stats)
        else:
            raise ArtifactError(f"{fid_stats}: FID statistics file not found (nor a registered weights name)")
    return load_stats(p), sha256_file(p)


def _check_reference_stats(columns: list[tuple[str, type[Metric]]], fid_stats: str | None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Load ``fid_stats`` once (before any scoring) and check its resize mode against the ``-stats`` columns."""
    stats_cols = [c for c, _ in columns if c.endswith("-stats")]
    if not stats_cols or fid_stats is None:
        return None, {}
    ref, sha = _load_reference_stats(fid_stats)
    for col in stats_cols:
        mode = col.split(":", 1)[1].split("-")[0]
        if ref.get("resize") and ref["resize"] != mode:
            raise ConfigError(f"{fid_stats} was made with resize mode {ref['resize']!r}, but {col} uses {mode!r}; "
                              f"ask for fid:{ref['resize']}-stats or rebuild it with `bfrbench fid-stats --resize {mode}`")
    return ref, {"path": str(fid_stats), "sha256": sha, "n": ref.get("n"), "extractor": ref.get("extractor"),
                 "resize": ref.get("resize")}


def _set_metric_results(columns: list[tuple[str, type[Metric]]], shards: list[dict[str, Any]], *, device: str,
                        batch_size: int, ref_stats: dict[str, Any] | None) -> dict[str, Any]:
    """Set metrics from the features gathered by the shards -> {column: result}."""
    out: dict[str, Any] = {}
    for col, cls in columns:
        if cls.kind != "set":
            continue
        m = _instance(col, device, batch_size)
        assert isinstance(m, SetMetric)
        key = m.extractor_id
        parts = [s["features"][key] for s in shards if key in s["features"]]
        rf = [p["restored"] for p in parts if len(p["restored"])]
        hf = [p["hq"] for p in parts if len(p["hq"])]
        restored = np.concatenate(rf) if rf else np.zeros((0, 2048))
        reference: Any = ref_stats if m.variant.endswith("-stats") else (np.concatenate(hf) if hf else np.zeros((0, 2048)))
        try:
            res = m.compute(restored, reference)
        except ConfigError as exc:  # e.g. fewer than 2 images on a side
            res = {"value": None, "error": str(exc), "n": int(len(restored))}
        if isinstance(res.get("value"), float) and m.storage_digits() is not None:
            res["value"] = float(m.stored_values(np.array([res["value"]]))[0])
        res.update(m.info())
        res["weights"] = m.weight_hashes()
        out[col] = res
    return out


@dataclass
class _Plan:
    """What :func:`evaluate` will score, decided before any image is decoded (step 1-2 of the module doc).

    ``rows``: manifest rows sorted by id; ``found``: restored id -> file; ``scored``: the paired rows that pass
    input verification; ``excluded``: id -> reason it is not scored; ``columns``: (spec, class) to compute.
    """

    testset: Path
    restored: Path
    rows: list[dict[str, Any]]
    has_hq: bool
    found: dict[str, Path]
    missing: list[str]
    extra: list[str]
    columns: list[tuple[str, type[Metric]]]
    left_out: dict[str, str]
    ref_stats: dict[str, Any] | None
    stats_info: dict[str, Any]
    excluded: dict[str, str]
    verification: dict[str, Any]
    scored: list[dict[str, Any]]
    notes: list[str]
    problems: dict[str, Any]

    @property
    def ids(self) -> list[str]:
        return [r["id"] for r in self.rows]

    @property
    def per_image_cols(self) -> list[str]:
        return [c for c, cls in self.columns if cls.kind != "set"]

    @property
    def set_cols(self) -> list[str]:
        return [c for c, cls in self.columns if cls.kind == "set"]


def _plan(testset: Path, restored: Path, metrics: Sequence[str] | None, fid_stats: str | None,
          verify: bool) -> _Plan:
    """Pair the test set with the restored folder, resolve the metrics, verify the inputs, collect notes."""
    rows, has_hq = read_manifest(testset)
    found, dups = scan_restored(restored)
    ids = [r["id"] for r in rows]
    missing = [i for i in ids if i not in found]
    extra = sorted(k for k in found if k not in set(ids))
    paired = [r for r in rows if r["id"] in found]
    if not paired:
        raise ArtifactError(f"{restored}: none of its {len(found)} images matches a test-set id of {testset} "
                            f"({len(ids)} ids, e.g. {ids[:3]}); restored files must be named <id>.png")
    left_out: dict[str, str] = {}
    columns = resolve_metrics(metrics, has_hq=has_hq, fid_stats=fid_stats, left_out=left_out)
    ref_stats, stats_info = _check_reference_stats(columns, fid_stats)
    excluded, verification = verify_evaluation_inputs(testset, rows, found, restored, verify)
    verification["failures"] = [{"id": i, "reason": r} for i, r in sorted(excluded.items()) if i in found]
    notes: list[str] = list(verification["notes"])
    fallback = [col for col, cls in columns if cls.fallback_variant and col.endswith(f":{cls.fallback_variant}")
                and cls.resolve_default_variant() == cls.fallback_variant]
    if fallback:
        notes.append(f"{', '.join(fallback)}: ArcFace weights are not present, so the default identity backend is "
                     "dlib (`bfrbench weights fetch arcface-webface-r50` enables ids:arcface / deg:arcface)")
    if fid_stats is not None and not any(c.endswith("-stats") for c, _ in columns):
        notes.append(f"fid_stats {fid_stats} is unused: no fid:*-stats metric was requested")
    problems: dict[str, Any] = {"missing": missing, "extra": extra, "duplicates": dups,
                                "expected": len(ids), "found": len(found)}
    if len(found) != len(ids):
        notes.append(f"wrong count: the test set has {len(ids)} images, {restored} has {len(found)} "
                     f"({len(missing)} missing, {len(extra)} extra)")
    return _Plan(testset=testset, restored=restored, rows=rows, has_hq=has_hq, found=found, missing=missing,
                 extra=extra, columns=columns, left_out=left_out, ref_stats=ref_stats, stats_info=stats_info,
                 excluded=excluded, verification=verification, notes=notes, problems=problems,
                 scored=[r for r in paired if r["id"] not in excluded])


def _score(plan: _Plan, *, device: str, batch_size: int, workers: int, scheduler: str | None,
           cache: bool) -> list[dict[str, Any]]:
    """Run :func:`score_shard` on fixed shards of ``batch_size`` ids; a failed shard becomes NaN rows with its error."""
    from bfrbench.distributed import TaskFailure, run_tasks
    from bfrbench.metrics.cache import default_cache_dir

    per_image_cols, set_cols = plan.per_image_cols, plan.set_cols
    set_hq = any(c.endswith("-hq") for c in set_cols)
    cache_root = str(default_cache_dir()) if cache else None
    tasks = []
    for s in range(0, len(plan.scored), batch_size):
        chunk = plan.scored[s:s + batch_size]
        tasks.append({"ids": [r["id"] for r in chunk], "restored": [str(plan.found[r["id"]]) for r in chunk],
                      "hq": [r["hq"] for r in chunk], "columns": per_image_cols + set_cols, "device": device,
                      "batch_size": batch_size, "cache_root": cache_root, "set_hq": set_hq})
    shards: list[dict[str, Any]] = []
    for res in run_tasks(score_shard, tasks, workers=workers, scheduler=scheduler, desc="evaluate"):
        if isinstance(res, TaskFailure):
            t = res.task
            shards.append({"ids": t["ids"], "values": {c: [np.nan] * len(t["ids"]) for c in per_image_cols},
                           "errors": [[f"shard failed: {res.error}"] for _ in t["ids"]], "features": {},
                           "sha256": [None] * len(t["ids"]), "computed": {}})
        else:
            shards.append(res)
    shards.sort(key=lambda s: s["ids"][0])
    return shards


def _merge(plan: _Plan, shards: list[dict[str, Any]]) -> tuple[Any, dict[str, str], dict[str, int]]:
    """Per-image table (one row per test-set id, sorted), restored-file digests and feature-cache counts."""
    import pandas as pd

    per_image_cols = plan.per_image_cols
    by_id: dict[str, dict[str, Any]] = {}
    sha: dict[str, str] = {}
    computed: dict[str, int] = {}
    for sh in shards:
        for k, v in sh["computed"].items():
            computed[k] = computed.get(k, 0) + v
        for j, i in enumerate(sh["ids"]):
            row: dict[str, Any] = {"id": i}
            for c in per_image_cols:
                row[c] = sh["values"].get(c, [np.nan] * len(sh["ids"]))[j]
            row["error"] = "; ".join(sh["errors"][j]) or None
            by_id[i] = row
            if sh["sha256"][j]:
                sha[i] = sh["sha256"][j]
    known = set(plan.ids)
    for i, why in plan.excluded.items():
        if i in known and i not in plan.missing:
            by_id[i] = {"id": i, **{c: np.nan for c in per_image_cols}, "error": why}
    for i in plan.missing:
        by_id[i] = {"id": i, **{c: np.nan for c in per_image_cols},
                    "error": f"missing: no restored image named {i}.png in {plan.restored}"}
    df = pd.DataFrame([by_id[i] for i in sorted(by_id)], columns=["id", *per_image_cols, "error"])
    for c in per_image_cols:
        df[c] = df[c].astype("float64")
    df["error"] = df["error"].astype("object")
    return df, sha, computed


def _per_image_summary(plan: _Plan, df: Any, *, device: str, batch_size: int, seed: int) -> dict[str, Any]:
    """Mean, std, n and bootstrap CI of each per-image column, with the metric's metadata."""
    out: dict[str, Any] = {}
    for c in plan.per_image_cols:
        m = _instance(c, device, batch_size)
        x = df[c].to_numpy(np.float64)
        fin, summary_extra = m.summary_values(x[np.isfinite(x)])
        out[c] = {
            "mean": float(fin.mean()) if fin.size else None,
            "std": float(fin.std(ddof=1)) if fin.size > 1 else None,
            "n": int(fin.size), "ci95": bootstrap_ci(fin, seed=seed),
            "higher_is_better": m.higher_is_better, "metric": m.name, "variant": m.variant,
            "reference": m.reference, "version": m.version, "range": list(m.value_range),
        }
        if m.storage_digits() is not None:
            out[c]["stored_digits"] = m.storage_digits()
        out[c].update(summary_extra)
    return out


def _record(plan: _Plan, df: Any, shards: list[dict[str, Any]], sha: dict[str, str], computed: dict[str, int], *,
            metrics: Sequence[str] | None, fid_stats: str | None, device: str, batch_size: int, seed: int,
            cache: bool, command: Sequence[str] | None) -> dict[str, Any]:
    """The ``summary.json`` dict: summaries, set metrics, counts, problems, notes and provenance."""
    from bfrbench.io import sha256_bytes, sha256_file
    from bfrbench.provenance import environment

    testset, restored = plan.testset, plan.restored
    set_results = _set_metric_results(plan.columns, shards, device=device, batch_size=batch_size,
                                      ref_stats=plan.ref_stats)
    metric_summary = _per_image_summary(plan, df, device=device, batch_size=batch_size, seed=seed)
    weights: dict[str, Any] = {}
    for c, _ in plan.columns:
        weights.update(_instance(c, device, batch_size).weight_hashes())
    run_json = restored / "run.json"
    failed = int(df["error"].notna().sum())
    n_ids = len(plan.rows)
    return {
        "kind": "evaluation", "format_version": FORMAT_VERSION,
        "testset": str(testset), "restored": str(restored),
        "metrics": metric_summary, "set_metrics": set_results,
        "counts": {"expected": n_ids, "found": len(plan.found), "scored": len(plan.scored),
                   "missing": len(plan.missing), "extra": len(plan.extra), "with_errors": failed, "failed": failed},
        "problems": plan.problems, "notes": plan.notes, "cache": {"enabled": cache, "computed": computed},
        "verification": plan.verification,
        "defaults": None if metrics is not None else {
            "registry": registry_default_specs(has_hq=plan.has_hq, fid_stats=fid_stats is not None),
            "used": [c for c, _ in plan.columns], "left_out_missing_weights": plan.left_out},
        "provenance": {
            "testset_manifest_sha256": sha256_file(testset / "manifest.parquet"),
            "run_json_sha256": sha256_file(run_json) if run_json.is_file() else None,
            "restored_sha256": sha256_bytes("\n".join(f"{i}:{sha[i]}" for i in sorted(sha)).encode()),
            "weights": weights, "fid_stats": plan.stats_info or None,
            "environment": environment(), "command": list(command) if command is not None else list(sys.argv),
            "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": seed, "method": "percentile",
                          "generator": BOOTSTRAP_GENERATOR},
        },
    }


@writes_output("out", inputs=("testset", "restored"), command="bfrbench evaluate")
def evaluate(
    testset: str | Path,
    restored: str | Path,
    out: str | Path,
    *,
    metrics: Sequence[str] | None = None,
    device: str = "cpu",
    batch_size: int = 8,
    workers: int = 1,
    scheduler: str | None = None,
    fid_stats: str | None = None,
    cache: bool = True,
    seed: int = 0,
    command: Sequence[str] | None = None,
    log: Callable[[str], None] | None = _log_stderr,
    verify: bool = True,
    protocol: str | None = None,
) -> dict[str, Any]:
    """Score ``restored`` (a folder of ``<id>.png``) against the test set ``testset``.

    Plan (:func:`_plan`), score the shards (:func:`_score`), merge them into the per-image table (:func:`_merge`),
    record the summary (:func:`_record`), then write both files atomically.

    Args:
        testset: test-set folder (``manifest.parquet``, ``hq/``).
        restored: folder of restored images named by test-set id.
        out: evaluation folder; ``per_image.parquet`` and ``summary.json`` are written there.
        metrics: specs (``"psnr"``, ``"psnr:y"``, ``"fid:clean-hq"`` ...); None = every available metric.
        device / batch_size: torch device and images per forward pass (also ids per shard).
        workers / scheduler: dask local workers or scheduler address (see ``bfrbench.distributed``).
        fid_stats: statistics ``.npz`` (or registered name) for ``fid:*-stats``.
        cache: use the feature cache under ``$BFRBENCH_HOME/cache``.
        seed: seed of the bootstrap generator.
        command: command line recorded in provenance (default ``sys.argv``).
        log: receives notes (fallback backends, problems); None silences them.
        verify: check the manifest, HQ files and (with a ``run.json``) restored files against their recorded
            SHA-256 (bfrbench.metrics._verify); False scores mismatching files and records warnings instead.
        protocol: a paper's evaluation protocol (name in ``datasets_build/protocols`` or a YAML path): fixes the
            metrics (then ``metrics`` must be None) and, unless ``fid_stats`` is given, the FID statistics.

    Returns:
        The summary dict written to ``summary.json``.
    """
    from bfrbench.io import atomic_write_bytes, atomic_write_json
    from bfrbench.metrics.protocol import apply_protocol

    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    seed = check_seed(seed)
    if scheduler is None:
        check_device(device)
    metrics, fid_stats, protocol_record = apply_protocol(protocol, metrics, fid_stats)
    plan = _plan(Path(testset), Path(restored), metrics, fid_stats, verify)
    for n in plan.notes:
        if log:
            log(n)
    shards = _score(plan, device=device, batch_size=batch_size, workers=workers, scheduler=scheduler, cache=cache)
    df, sha, computed = _merge(plan, shards)
    summary = _record(plan, df, shards, sha, computed, metrics=metrics, fid_stats=fid_stats, device=device,
                      batch_size=batch_size, seed=seed, cache=cache, command=command)
    if protocol_record is not None:
        summary["protocol"] = protocol_record
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    out = Path(out)
    atomic_write_bytes(out / "per_image.parquet", buf.getvalue())
    atomic_write_json(out / "summary.json", summary)
    return summary
