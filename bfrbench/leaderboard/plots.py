"""Leaderboard plots as PNG: the perception-distortion plane, metric-vs-severity curves, sample grids.

* Perception-distortion plane (Blau & Michaeli, "The Perception-Distortion Tradeoff", CVPR 2018): one point
  per method, x = a distortion metric (PSNR, LPIPS, ...), y = a perception metric (NIQE, FID, ...), as each
  metric class declares in its ``axis`` attribute, error bars
  from the bootstrap CIs where the metric is per-image.
* Metric-vs-severity curves: the main per-image metric's mean per severity bin (see ``breakdown.py``), one
  panel per degradation parameter, one line per method.
* Sample grid per method: for the first k test-set ids (sorted), columns LQ | method | HQ, pixels copied
  (area-downscaled), so nothing is interpolated for show.

matplotlib runs with the Agg backend; PNG metadata is stripped so the bytes depend on the data and the
matplotlib version only.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from bfrbench.io import atomic_write_bytes

__all__ = ["perception_distortion_plot", "severity_plot", "sample_grid", "pick_pd_axes"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _color(name: str) -> str:
    """A stable colour per method name (same in every plot of every suite)."""
    import hashlib

    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
               "#17becf")
    return palette[int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16) % len(palette)]


def _save(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None}, bbox_inches="tight")
    _pyplot().close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def _axis(spec: str) -> str | None:
    from bfrbench.errors import RegistryError
    from bfrbench.metrics import metric_info

    try:
        return metric_info(spec).axis
    except RegistryError:  # reported-only metric the registry does not know
        return None


def pick_pd_axes(specs: list[str], configured: dict[str, str] | None = None) -> tuple[str, str] | None:
    """(x, y) specs for the perception-distortion plane: the configured pair, else the first spec (in the
    given order) whose metric class has ``axis == "distortion"`` and the first with ``axis == "perception"``
    (the metric registry decides); None if either is missing."""
    if configured and configured.get("x") in specs and configured.get("y") in specs:
        return configured["x"], configured["y"]
    axes = {s: _axis(s) for s in specs}
    x = next((s for s in specs if axes[s] == "distortion"), None)
    y = next((s for s in specs if axes[s] == "perception"), None)
    return (x, y) if x and y else None


def perception_distortion_plot(rows: list[dict[str, Any]], x: str, y: str, out: Path, *, title: str = "") -> Path | None:
    """Scatter of methods on (x, y); reported rows drawn as hollow squares, reproduced as filled dots.

    Returns the written path, or None when no row has both values.
    """
    pts = [r for r in rows if (r["values"].get(x) or {}).get("mean") is not None
           and (r["values"].get(y) or {}).get("mean") is not None]
    if not pts:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for r in pts:
        vx, vy = r["values"][x], r["values"][y]
        xerr = None if not vx.get("ci95") else [[vx["mean"] - vx["ci95"][0]], [vx["ci95"][1] - vx["mean"]]]
        yerr = None if not vy.get("ci95") else [[vy["mean"] - vy["ci95"][0]], [vy["ci95"][1] - vy["mean"]]]
        reported = r["kind"] == "reported"
        ax.errorbar(vx["mean"], vy["mean"], xerr=xerr, yerr=yerr, fmt="s" if reported else "o",
                    color=_color(r["method"]), mfc="none" if reported else None, capsize=3, label=r["method"] + (" (reported)" if reported else ""))
        ax.annotate(r["method"], (vx["mean"], vy["mean"]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title or f"perception-distortion: {y} vs {x}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, out)


def severity_plot(breakdown: dict[str, Any], metric: str, out: Path, *, title: str = "") -> Path | None:
    """One panel per parameter: mean ``metric`` per severity bin (x = bin centre), one line per method."""
    params = [p for p, v in sorted(breakdown.items())
              if any(b["mean"].get(metric) is not None for bins in v["methods"].values() for b in bins)]
    if not params:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(params), figsize=(3.6 * len(params), 3.2), squeeze=False)
    for ax, p in zip(axes[0], params):
        for method, bins in sorted(breakdown[p]["methods"].items()):
            xs = [(b["lo"] + b["hi"]) / 2 for b in bins if b["mean"].get(metric) is not None and b["n"]]
            ys = [b["mean"][metric] for b in bins if b["mean"].get(metric) is not None and b["n"]]
            ax.plot(xs, ys, marker="o", label=method, color=_color(method))
        ax.set_xlabel(p)
        ax.set_ylabel(metric)
        ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title or f"{metric} vs degradation strength", fontsize=10)
    return _save(fig, out)


def _thumb(path: Path, size: int) -> np.ndarray:
    import cv2

    from bfrbench.io import read_image

    img = read_image(path)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def sample_grid(testset_dir: Path, run_dir: Path, ids: list[str], out: Path, *, label: str, size: int = 128) -> Path | None:
    """Rows = ``ids``; columns LQ | restored | HQ (HQ column dropped for LQ-only sets). uint8 RGB PNG.

    Missing images are drawn as mid-gray tiles so one failure never hides the others.
    """
    import cv2

    from bfrbench.io import write_png

    if not ids:
        return None
    has_hq = (testset_dir / "hq").is_dir()
    cols = [("LQ", lambda i: testset_dir / "lq" / f"{i}.png"), (label, lambda i: run_dir / f"{i}.png")]
    if has_hq:
        cols.append(("HQ", lambda i: testset_dir / "hq" / f"{i}.png"))
    head = 22
    canvas = np.full((head + size * len(ids), size * len(cols), 3), 255, np.uint8)
    for c, (name, _) in enumerate(cols):
        cv2.putText(canvas, name[:16], (c * size + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    for r, i in enumerate(ids):
        for c, (_, fn) in enumerate(cols):
            try:
                tile = _thumb(fn(i), size)
            except Exception:  # missing or unreadable: gray tile
                tile = np.full((size, size, 3), 128, np.uint8)
            canvas[head + r * size: head + (r + 1) * size, c * size:(c + 1) * size] = tile
    out.parent.mkdir(parents=True, exist_ok=True)
    write_png(out, canvas)
    return out
