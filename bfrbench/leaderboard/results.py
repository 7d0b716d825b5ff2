"""Build the canonical ``results.json`` of a suite from its artifacts and its reported rows.

Inputs are the artifact folders of ``docs/artifacts.md`` (test set, run, evaluation), listed in an index that
``run_suite`` writes (``<work>/index.json``: one entry per (method, test set) with the three folder paths).
Every number is recomputed from ``per_image.parquet`` (means, bootstrap CIs, paired comparisons against the
suite's baseline, ranks), so the numbers are a function of the per-image values and the suite's statistics
settings alone. Everything that varies between identical re-runs (dates, timings, command lines, hashes of
JSON files that hold timings) sits in the ``generated`` block, which ``content_sha256`` and the
reproducibility comparison leave out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bfrbench.artifacts import read_artifact
from bfrbench.errors import ArtifactError
from bfrbench.io import sha256_file, sha256_json
from bfrbench.leaderboard import stats
from bfrbench.leaderboard.breakdown import breakdown_table, subset_means
from bfrbench.leaderboard.suite import Suite, metric_higher_is_better, metric_is_set_level

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Entry", "build_results", "restored_hash", "numbers_view", "compare_numbers", "content_hash", "content_view",
           "FORMAT_VERSION"]

FORMAT_VERSION = 1
_VOLATILE_ENV_KEYS = ("date", "command")


@dataclass(frozen=True)
class Entry:
    """One reproduced (method, test set) cell: its three artifact folders."""

    method: str  # display label from the suite
    method_name: str  # registry name
    testset: str
    testset_dir: Path
    run_dir: Path
    eval_dir: Path


def _read_parquet(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise ArtifactError(f"{path}: unreadable parquet ({type(exc).__name__}: {exc})") from None


def restored_hash(images: dict[str, str]) -> str:
    """Hash of restored outputs as ``docs/artifacts.md`` defines it: SHA-256 of the sorted ``id:sha256`` lines."""
    from bfrbench.io import sha256_bytes

    return sha256_bytes("\n".join(f"{k}:{images[k]}" for k in sorted(images)).encode("utf-8"))


def _rel(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # different drives on Windows
        return str(path.resolve())


def _stable_env(env: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (env or {}).items() if k not in _VOLATILE_ENV_KEYS}


def _direction(spec: str, suite: Suite, summary_metrics: dict[str, Any]) -> bool:
    info = summary_metrics.get(spec)
    if isinstance(info, dict) and "higher_is_better" in info:
        return bool(info["higher_is_better"])
    return metric_higher_is_better(spec, suite.directions())


def _set_value(v: Any) -> float | None:
    if isinstance(v, dict):
        v = v.get("value")
    return float(v) if isinstance(v, (int, float)) and np.isfinite(v) else None


def _load_entry(e: Entry, base: Path) -> dict[str, Any]:
    summary = read_artifact(e.eval_dir / "summary.json", "evaluation")
    run = read_artifact(e.run_dir / "run.json", "run")
    tjson = read_artifact(e.testset_dir / "testset.json", "testset")
    per_image = _read_parquet(e.eval_dir / "per_image.parquet").sort_values("id").reset_index(drop=True)
    manifest = _read_parquet(e.testset_dir / "manifest.parquet")
    images = {k: v["sha256"] for k, v in (run.get("images") or {}).items()}
    prov = summary.get("provenance") or {}
    return {"entry": e, "summary": summary, "run": run, "testset_json": tjson, "per_image": per_image,
            "manifest": manifest, "restored_sha256": restored_hash(images), "prov": prov, "base": base}


def _reproduced_row(d: dict[str, Any], suite: Suite, specs: list[str]) -> dict[str, Any]:
    e: Entry = d["entry"]
    st = suite.statistics
    df = d["per_image"]
    values: dict[str, Any] = {}
    for spec in specs:
        if spec in df:
            values[spec] = stats.summarize(df[spec].to_numpy(dtype=np.float64, na_value=np.nan),
                                           resamples=int(st["bootstrap_resamples"]), seed=int(st["seed"]),
                                           key=f"{e.testset}/{e.method}/{spec}", alpha=float(st["alpha"]))
        elif spec in (d["summary"].get("set_metrics") or {}):
            val = _set_value(d["summary"]["set_metrics"][spec])
            values[spec] = {"mean": val, "std": None, "n": None, "ci95": None}
    run = d["run"]
    prov = d["prov"]
    base = d["base"]
    return {
        "kind": "reproduced",
        "method": e.method,
        "method_name": e.method_name,
        "testset": e.testset,
        "values": values,
        "counts": {"images": int(len(df)), "failed": int(df["error"].notna().sum()) if "error" in df else 0},
        "provenance": {
            "method_version": run.get("method_version"),
            "options": run.get("options", {}),
            "seed": run.get("seed"),
            "weights": run.get("weights", {}),
            "testset_manifest_sha256": d["testset_json"].get("manifest_sha256"),
            "restored_sha256": d["restored_sha256"],
            "per_image_sha256": sha256_file(e.eval_dir / "per_image.parquet"),
            "metric_weights": prov.get("weights", {}),
            "environment": _stable_env(prov.get("environment") or run.get("environment")),
        },
        "artifacts": {"testset": _rel(e.testset_dir, base), "run": _rel(e.run_dir, base),
                      "evaluation": _rel(e.eval_dir, base)},
    }


def _reported_row(r: Any) -> dict[str, Any]:
    return {"kind": "reported", "method": r.method, "testset": r.testset,
            "values": {k: {"mean": v, "std": None, "n": None, "ci95": None} for k, v in sorted(r.values.items())},
            "citation": dict(r.citation)}


def _add_ranks(rows: list[dict[str, Any]], specs: list[str], directions: dict[str, bool], main: str) -> None:
    for ts in sorted({r["testset"] for r in rows}):
        group = [r for r in rows if r["testset"] == ts]
        for r in group:
            r["ranks"] = {}
        for spec in specs:
            vals = [(r["values"].get(spec) or {}).get("mean") for r in group]
            for r, rk in zip(group, stats.rank_with_ties(vals, higher_is_better=directions[spec])):
                if rk is not None:
                    r["ranks"][spec] = rk
        for r in group:
            r["rank"] = r["ranks"].get(main)


def _add_paired(loaded: list[dict[str, Any]], rows: list[dict[str, Any]], suite: Suite,
                directions: dict[str, bool]) -> None:
    if suite.baseline is None:
        return
    st = suite.statistics
    by_key = {(d["entry"].testset, d["entry"].method): d for d in loaded}
    for d, row in zip(loaded, rows):
        e = d["entry"]
        if e.method == suite.baseline or (e.testset, suite.baseline) not in by_key:
            continue
        base_df = by_key[(e.testset, suite.baseline)]["per_image"]
        merged = base_df.merge(d["per_image"], on="id", suffixes=("__a", "__b"))
        comp: dict[str, Any] = {}
        for spec in row["values"]:
            if f"{spec}__a" not in merged:
                continue
            res = stats.paired_comparison(
                merged[f"{spec}__a"].to_numpy(dtype=np.float64, na_value=np.nan),
                merged[f"{spec}__b"].to_numpy(dtype=np.float64, na_value=np.nan),
                higher_is_better=directions[spec], resamples=int(st["bootstrap_resamples"]), seed=int(st["seed"]),
                key=f"{e.testset}/{e.method}-vs-{suite.baseline}/{spec}", alpha=float(st["alpha"]))
            comp[spec] = res.as_dict()
        row["vs_baseline"] = {"baseline": suite.baseline, "metrics": comp}


def build_results(suite: Suite, entries: list[Entry], *, out_dir: Path | None = None,
                  plots: dict[str, Any] | None = None) -> dict[str, Any]:
    """The results dict of a suite (without the ``generated`` block; :func:`render_suite` adds it).

    Args:
        suite: the loaded suite.
        entries: reproduced cells; artifact paths are recorded relative to ``out_dir`` (default the suite folder).
        plots: relative paths of rendered plots, stored as given.
    """
    base = out_dir or suite.path
    loaded = [_load_entry(e, base) for e in sorted(entries, key=lambda e: (e.testset, e.method))]
    specs = [m.spec for m in suite.metrics]
    present = [s for s in specs if any(s in d["per_image"] or s in (d["summary"].get("set_metrics") or {})
                                       for d in loaded)]
    rows = [_reproduced_row(d, suite, present) for d in loaded]
    summary_metrics: dict[str, Any] = {}
    for d in loaded:
        summary_metrics.update(d["summary"].get("metrics") or {})
    _add_paired(loaded, rows, suite, {s: _direction(s, suite, summary_metrics) for s in present})
    rows += [_reported_row(r) for r in suite.reported]
    # reported-only metrics: in metric_info order, then in the order the rows give them
    reported_specs = [k for r in suite.reported for k in r.values]
    all_specs = list(dict.fromkeys(present + [k for k in suite.metric_info if k in reported_specs] + reported_specs))
    directions = {s: _direction(s, suite, summary_metrics) for s in all_specs}
    _add_ranks(rows, all_specs, directions, suite.main_score)
    rows.sort(key=lambda r: (r["testset"], r.get("rank") is None, r.get("rank") or 0, r["kind"], r["method"]))

    testsets: dict[str, Any] = {}
    for t in suite.testsets:
        found: dict[str, Any] | None = next((x for x in loaded if x["entry"].testset == t.name), None)
        info: dict[str, Any] = {"preset": t.preset, "seed": t.seed, "limit": t.limit, "pinned_manifest_sha256": t.manifest_sha256}
        if found is not None:
            info.update({"manifest_sha256": found["testset_json"].get("manifest_sha256"),
                         "images": int(len(found["manifest"])), "recipe_sha256": found["testset_json"].get("recipe_sha256"),
                         "path": _rel(found["entry"].testset_dir, base)})
        testsets[t.name] = info
    for r in suite.reported:
        testsets.setdefault(r.testset, {"reported_only": True})

    breakdowns: dict[str, Any] = {}
    subsets: dict[str, Any] = {}
    per_image_out: dict[str, Any] = {}
    bd = suite.breakdowns
    for t in suite.testsets:
        group = [d for d in loaded if d["entry"].testset == t.name]
        if not group:
            continue
        manifest = group[0]["manifest"]
        dfs = {d["entry"].method: d["per_image"] for d in group}
        metric_cols = [s for s in present if s in group[0]["per_image"]]
        breakdowns[t.name] = breakdown_table(manifest, dfs, list(bd["parameters"]), metric_cols, int(bd["bins"]))
        col = t.subset_column or ("preset" if "preset" in manifest and manifest["preset"].nunique() > 1 else None)
        if col and col in manifest:
            subsets[t.name] = {"column": col, "methods": {m: subset_means(manifest, df, col, metric_cols)
                                                         for m, df in sorted(dfs.items())}}
        if suite.statistics.get("per_image"):
            ids = sorted(set().union(*[set(df["id"]) for df in dfs.values()]))
            per_image_out[t.name] = {"ids": ids, "methods": {
                m: {s: [None if not np.isfinite(v) else float(v) for v in
                        df.set_index("id").reindex(ids)[s].to_numpy(dtype=np.float64, na_value=np.nan)]
                    for s in metric_cols if s in df}
                for m, df in sorted(dfs.items())}}

    results: dict[str, Any] = {
        "kind": "leaderboard-results",
        "format_version": FORMAT_VERSION,
        "suite": {"name": suite.name, "version": suite.version, "title": suite.title, "main_score": suite.main_score,
                  "baseline": suite.baseline, "suite_sha256": sha256_json(suite.raw), "statistics": suite.statistics},
        "metrics": {s: {"higher_is_better": directions[s], "label": suite.metric_label(s),
                        "set_level": metric_is_set_level(s)} for s in all_specs},
        "metric_order": all_specs,
        "testsets": testsets,
        "rows": rows,
        "breakdowns": breakdowns,
        "subsets": subsets,
        "per_image": per_image_out,
        "plots": plots or {},
    }
    results["content_sha256"] = content_hash(results)
    return results


def content_view(results: dict[str, Any]) -> dict[str, Any]:
    """What ``content_sha256`` covers: everything except where and on what the suite happened to run.

    Left out: ``generated`` (date, command, git commit), ``content_sha256`` itself, each row's
    ``provenance.environment`` (platform, git commit, CUDA; package versions stay recorded beside it) and
    ``artifacts`` (folder locations: the artifacts' content hashes stay in ``provenance``), and each test
    set's ``path`` (the work folder). So a fresh clone at another commit, in another folder, on another
    machine with the same library versions reproduces the committed hash (docs/reproducibility.md).
    """
    view = {k: v for k, v in results.items() if k not in ("generated", "content_sha256")}
    rows = []
    for r in view.get("rows") or []:
        r = {k: v for k, v in r.items() if k != "artifacts"}
        prov = r.get("provenance")
        if isinstance(prov, dict) and "environment" in prov:
            r["provenance"] = {k: v for k, v in prov.items() if k != "environment"}
        rows.append(r)
    if "rows" in view:
        view["rows"] = rows
    if isinstance(view.get("testsets"), dict):
        view["testsets"] = {name: ({k: v for k, v in t.items() if k != "path"} if isinstance(t, dict) else t)
                            for name, t in view["testsets"].items()}
    return view


def content_hash(results: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of :func:`content_view`."""
    return sha256_json(content_view(results))


def numbers_view(results: dict[str, Any]) -> dict[str, Any]:
    """The numeric part compared for reproducibility: per row, values (mean/CI), ranks and paired tests."""
    out = {}
    for r in results.get("rows", []):
        out[f"{r['kind']}|{r['testset']}|{r['method']}"] = {
            "values": r.get("values"), "ranks": r.get("ranks"), "vs_baseline": r.get("vs_baseline")}
    return {"rows": out, "breakdowns": results.get("breakdowns"), "per_image": results.get("per_image")}


def compare_numbers(a: dict[str, Any], b: dict[str, Any], *, rtol: float = 1e-6) -> list[str]:
    """Differences between the numbers of two results (``numbers_view``), as readable lines.

    Everything must be equal except floats, which may differ by ``rtol`` relative: per-image metrics are
    reproduced bit for bit, but the float32 Inception network behind FID/KID sums in an order that depends on
    the CPU's thread count, which moves FID by about 1e-7 relative (measured on the demo suite).
    """
    import math

    out: list[str] = []

    def walk(x: Any, y: Any, path: str) -> None:
        if isinstance(x, float) and isinstance(y, float):
            if not (x == y or math.isclose(x, y, rel_tol=rtol, abs_tol=0.0)):
                out.append(f"{path}: {x!r} != {y!r}")
        elif isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y), key=str):
                if k not in x or k not in y:
                    out.append(f"{path}/{k}: only in {'first' if k in x else 'second'}")
                else:
                    walk(x[k], y[k], f"{path}/{k}")
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (p, q) in enumerate(zip(x, y)):
                walk(p, q, f"{path}[{i}]")
        elif x != y:
            out.append(f"{path}: {x!r} != {y!r}")

    walk(numbers_view(a), numbers_view(b), "")
    return out
