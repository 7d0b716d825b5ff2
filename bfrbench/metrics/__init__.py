"""Metrics engine: registry of metrics, evaluate(), FID statistics, feature cache.

Public API::

    from bfrbench.metrics import METRICS, create_metric, parse_spec, evaluate
    evaluate("TESTSET", "RUN", "EVAL", metrics=["psnr", "ssim:y", "fid"])

Each metric family lives in its own module (psnr_ssim, lpips, flpips, identity, landmarks, fid, niqe, pyiqa_nr);
``docs/metrics/<name>.md`` documents exactly what each variant computes and how it was checked.
"""

from __future__ import annotations

from typing import Any

from bfrbench.metrics._base import (
    METRICS,
    Metric,
    MetricInfo,
    NoRefMetric,
    PairMetric,
    SetMetric,
    create_metric,
    metric_info,
    parse_spec,
)

__all__ = ["METRICS", "Metric", "PairMetric", "NoRefMetric", "SetMetric", "create_metric", "parse_spec", "evaluate",
           "list_metrics", "metric_info", "MetricInfo"]


def evaluate(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """See :func:`bfrbench.metrics.engine.evaluate` (imported lazily)."""
    from bfrbench.metrics.engine import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


def list_metrics() -> list[dict[str, Any]]:
    """One record per metric variant: name, spec, kind, direction, axis, CPU-only, range, default, reference,
    weights and whether they are present."""
    out = []
    for name, cls in METRICS.items():
        default = cls.resolve_default_variant()
        for v in cls.variants:
            try:
                present = bool(cls.weights_present(v))
            except KeyError:
                present = False
            out.append({
                "spec": f"{name}:{v}", "name": name, "variant": v, "default": v == default, "kind": cls.kind,
                "higher_is_better": cls.higher_is_better, "axis": cls.axis, "cpu_only": cls.variant_cpu_only(v),
                "range": list(cls.value_range),
                "description": cls.variants[v], "reference": cls.reference, "weights": list(cls.weights_for(v)),
                "weights_present": present,
            })
    return out
