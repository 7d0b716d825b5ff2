"""Breakdowns a single table cannot give: metric against degradation strength, and per-subset results.

Severity comes from the per-image parameters that the test-set builder records in ``manifest.parquet``
(``docs/artifacts.md``): ``sigma_x`` (blur), ``scale`` (downsampling), ``noise_sigma`` (0-255 units),
``jpeg_quality`` (lower is more severe). Bin edges are quantiles of the parameter over the whole test set, so
every method of a test set is binned on the same edges; a parameter with fewer distinct values than bins gets
one bin per value. Images whose parameter is null (the op was not drawn) are left out of that breakdown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["bin_edges", "binned_means", "subset_means", "breakdown_table"]


def bin_edges(values: Any, bins: int) -> list[float] | None:
    """Quantile edges, shape (k+1,), for finite ``values``; None when no finite value.

    With at most ``bins`` distinct values, edges fall midway between them (one bin per value).
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return None
    uniq = np.unique(x)
    if uniq.size <= bins:
        if uniq.size == 1:
            return [float(uniq[0]), float(uniq[0])]
        mids = (uniq[1:] + uniq[:-1]) / 2
        return [float(uniq[0]), *map(float, mids), float(uniq[-1])]
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    return [float(e) for e in edges]


def _assign(x: np.ndarray, edges: list[float]) -> np.ndarray:
    """Bin index per value (the last bin is closed on the right); -1 for NaN."""
    if len(edges) == 2 and edges[0] == edges[1]:
        return np.where(np.isfinite(x), 0, -1)
    idx = np.searchsorted(np.asarray(edges[1:-1]), x, side="right")
    return np.where(np.isfinite(x), idx, -1)


def binned_means(
    manifest: pd.DataFrame, per_image: pd.DataFrame, parameter: str, edges: list[float], metrics: list[str]
) -> list[dict[str, Any]]:
    """Mean of each metric per severity bin.

    Args:
        manifest: test-set manifest with ``id`` and the ``parameter`` column.
        per_image: evaluation ``per_image.parquet`` (``id`` + metric columns).
        edges: from :func:`bin_edges`.

    Returns:
        one dict per bin: ``{"lo", "hi", "n", "mean": {metric: float | None}}``.
    """
    merged = manifest[["id", parameter]].merge(per_image, on="id", how="inner")
    x = merged[parameter].to_numpy(dtype=np.float64, na_value=np.nan)
    which = _assign(x, edges)
    nbins = max(1, len(edges) - 1)
    out = []
    for b in range(nbins):
        sel = which == b
        means: dict[str, float | None] = {}
        for m in metrics:
            if m not in merged:
                continue
            v = merged.loc[sel, m].to_numpy(dtype=np.float64, na_value=np.nan)
            v = v[np.isfinite(v)]
            means[m] = float(v.mean()) if v.size else None
        out.append({"lo": edges[b], "hi": edges[min(b + 1, len(edges) - 1)], "n": int(sel.sum()), "mean": means})
    return out


def subset_means(
    manifest: pd.DataFrame, per_image: pd.DataFrame, column: str, metrics: list[str]
) -> dict[str, dict[str, Any]]:
    """Mean of each metric per value of a manifest column (e.g. ``preset`` or a user subset column)."""
    merged = manifest[["id", column]].merge(per_image, on="id", how="inner")
    out: dict[str, dict[str, Any]] = {}
    for key, grp in merged.groupby(column, dropna=True, sort=True):
        means: dict[str, float | None] = {}
        for m in metrics:
            if m in grp:
                v = grp[m].to_numpy(dtype=np.float64, na_value=np.nan)
                v = v[np.isfinite(v)]
                means[m] = float(v.mean()) if v.size else None
        out[str(key)] = {"n": int(len(grp)), "mean": means}
    return out


def breakdown_table(
    manifest: pd.DataFrame, per_images: dict[str, pd.DataFrame], parameters: list[str], metrics: list[str], bins: int
) -> dict[str, Any]:
    """Severity breakdown of several methods of one test set on shared edges.

    Returns:
        ``{parameter: {"edges": [...], "methods": {method: [bin dicts]}}}`` for parameters present in the
        manifest with at least one finite value.
    """
    out: dict[str, Any] = {}
    for p in parameters:
        if p not in manifest:
            continue
        edges = bin_edges(manifest[p].to_numpy(dtype=np.float64, na_value=np.nan), bins)
        if edges is None:
            continue
        out[p] = {"edges": edges,
                  "methods": {name: binned_means(manifest, df, p, edges, metrics) for name, df in sorted(per_images.items())}}
    return out
