"""The regression gate: compare a candidate results file with a baseline, fail on worsening.

Inputs are leaderboard ``results.json`` files, or evaluation ``summary.json`` files (then the sibling
``per_image.parquet`` supplies per-image values). Rows are matched by (test set, method); for every metric of
a baseline row the gate computes ``worse_by`` = how much the candidate is worse (in the metric's direction,
so positive always means worse) and fails the metric when

1. ``worse_by > tolerance`` (tolerance per ``metric:variant`` or per base name, default 0), or
2. both sides carry per-image values for the same ids and the paired test (paired bootstrap and Wilcoxon
   signed-rank, see ``stats.py``) finds the candidate significantly worse at ``alpha`` — unless
   ``significance=False``. A per-metric tolerance given explicitly overrides rule 2 for that metric: the
   user said how much worsening is acceptable.

A metric or row present in the baseline and missing in the candidate fails. Output: a diff table and JUnit XML
(one ``testcase`` per row and metric, ``failure`` elements for failures), as CI systems read it.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bfrbench.artifacts import read_artifact
from bfrbench.errors import ConfigError
from bfrbench.leaderboard import stats
from bfrbench.leaderboard.suite import metric_higher_is_better

__all__ = ["MetricDiff", "load_comparable", "compare_results", "parse_tolerances", "diff_table", "junit_xml"]


@dataclass(frozen=True)
class MetricDiff:
    testset: str
    method: str
    metric: str
    baseline: float | None
    candidate: float | None
    worse_by: float | None
    tolerance: float
    p_value: float | None
    status: str  # "pass" | "fail"
    reason: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def parse_tolerances(items: list[str] | None) -> dict[str, float]:
    """``["psnr:rgb=0.05", "lpips=0.002"]`` -> dict. Raises ConfigError on a malformed item."""
    out: dict[str, float] = {}
    for it in items or []:
        name, sep, val = it.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name.strip()] = float(val)
        except ValueError:
            raise ConfigError(f"tolerances: {it!r}: expected METRIC=VALUE, e.g. psnr:rgb=0.05") from None
        if out[name.strip()] < 0:
            raise ConfigError(f"tolerances: {it!r}: tolerance must be >= 0")
    return out


def _from_summary(summary: dict[str, Any], path: Path) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    values = {k: {"mean": v.get("mean")} for k, v in (summary.get("metrics") or {}).items()}
    for k, v in (summary.get("set_metrics") or {}).items():
        values[k] = {"mean": v.get("value") if isinstance(v, dict) else v}
    metrics = {k: {"higher_is_better": bool(v["higher_is_better"])} for k, v in (summary.get("metrics") or {}).items()
               if isinstance(v, dict) and "higher_is_better" in v}
    per_image: dict[str, Any] = {}
    pq = path.parent / "per_image.parquet"
    if pq.is_file():
        df = pd.read_parquet(pq).sort_values("id")
        cols = [c for c in values if c in df]
        per_image = {"run": {"ids": list(df["id"]), "methods": {"run": {
            c: [None if not np.isfinite(x) else float(x) for x in df[c].to_numpy(dtype=np.float64, na_value=np.nan)]
            for c in cols}}}}
    return {"kind": "leaderboard-results", "metrics": metrics, "per_image": per_image,
            "rows": [{"kind": "reproduced", "testset": "run", "method": "run", "values": values}]}


def load_comparable(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A leaderboard results.json, or an evaluation summary.json turned into a one-row results dict."""
    p = Path(path)
    data = read_artifact(p, ("leaderboard-results", "evaluation"))
    return data if data["kind"] == "leaderboard-results" else _from_summary(data, p)


def _tol(spec: str, tolerances: dict[str, float], default: float) -> tuple[float, bool]:
    if spec in tolerances:
        return tolerances[spec], True
    base = spec.split(":", 1)[0]
    if base in tolerances:
        return tolerances[base], True
    return default, False


def _per_image(res: dict[str, Any], testset: str, method: str, spec: str) -> dict[str, float] | None:
    block = (res.get("per_image") or {}).get(testset) or {}
    vals = ((block.get("methods") or {}).get(method) or {}).get(spec)
    if not vals:
        return None
    return {i: v for i, v in zip(block["ids"], vals) if v is not None}


def compare_results(
    baseline: dict[str, Any], candidate: dict[str, Any], *, tolerances: dict[str, float] | None = None,
    default_tolerance: float = 0.0, alpha: float = 0.05, significance: bool = True, resamples: int = 2000,
    seed: int = 0,
) -> list[MetricDiff]:
    """One :class:`MetricDiff` per (row, metric) of the baseline; see the module docstring for the rules."""
    tolerances = tolerances or {}
    cand_rows = {(r["testset"], r["method"]): r for r in candidate.get("rows", [])}
    out: list[MetricDiff] = []
    for br in baseline.get("rows", []):
        key = (br["testset"], br["method"])
        cr = cand_rows.get(key)
        for spec in sorted(br["values"]):
            b = (br["values"][spec] or {}).get("mean")
            if b is None:
                continue
            tol, explicit = _tol(spec, tolerances, default_tolerance)
            info = {**(baseline.get("metrics") or {}), **(candidate.get("metrics") or {})}.get(spec) or {}
            hib = bool(info["higher_is_better"]) if "higher_is_better" in info else metric_higher_is_better(spec)
            c = ((cr or {}).get("values", {}).get(spec) or {}).get("mean")
            if c is None:
                out.append(MetricDiff(*key, spec, b, None, None, tol, None, "fail", "missing in candidate"))
                continue
            worse = (b - c) if hib else (c - b)
            p_value = None
            status, reason = "pass", f"within tolerance {tol:g}"
            if worse > tol:
                status, reason = "fail", f"worse by {worse:.6g} > tolerance {tol:g}"
            pa, pb = _per_image(baseline, *key, spec), _per_image(candidate, *key, spec)
            if pa and pb:
                ids = sorted(set(pa) & set(pb))
                if len(ids) >= 2:
                    res = stats.paired_comparison([pa[i] for i in ids], [pb[i] for i in ids], higher_is_better=hib,
                                                  resamples=resamples, seed=seed, key=f"{key}/{spec}", alpha=alpha)
                    p_value = max(res.p_bootstrap, res.p_wilcoxon)
                    if status == "pass" and significance and not explicit and res.significant and res.better is False:
                        status, reason = "fail", f"significantly worse (p={p_value:.3g} < {alpha:g}, n={res.n})"
            out.append(MetricDiff(*key, spec, b, c, worse, tol, p_value, status, reason))
    return out


def diff_table(diffs: list[MetricDiff]) -> str:
    """Plain-text table: test set, method, metric, baseline, candidate, worse-by, tolerance, p, status."""
    from bfrbench.tables import format_table

    head = ("testset", "method", "metric", "baseline", "candidate", "worse_by", "tol", "p", "status")
    rows = [(d.testset, d.method, d.metric, _f(d.baseline), _f(d.candidate), _f(d.worse_by),
                      f"{d.tolerance:g}", "" if d.p_value is None else f"{d.p_value:.3g}",
                      d.status.upper() + ("" if d.status == "pass" else f" ({d.reason})")) for d in diffs]
    return format_table(head, rows) + "\n"


def _f(v: float | None) -> str:
    return "" if v is None else f"{v:.6g}"


def junit_xml(diffs: list[MetricDiff], *, name: str = "bfrbench-regress") -> str:
    """JUnit XML: one testsuite, one testcase per (test set, method, metric), ``failure`` on failures."""
    fails = sum(d.failed for d in diffs)
    suite = ET.Element("testsuite", name=name, tests=str(len(diffs)), failures=str(fails), errors="0", skipped="0")
    for d in diffs:
        tc = ET.SubElement(suite, "testcase", classname=f"{name}.{d.testset}.{d.method}", name=d.metric, time="0")
        if d.failed:
            f = ET.SubElement(tc, "failure", message=d.reason, type="regression")
            f.text = f"baseline={_f(d.baseline)} candidate={_f(d.candidate)} worse_by={_f(d.worse_by)} tol={d.tolerance:g}"
    root = ET.Element("testsuites", name=name, tests=str(len(diffs)), failures=str(fails))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
