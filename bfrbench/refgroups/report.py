"""``report.md`` and PNG plots for a reference-groups build (matplotlib, Agg backend).

Contents: counts (images, identities, images with references), split sizes, references per target,
identity-size histogram, within- and between-identity distance histograms with the threshold marked,
and warnings when the threshold looks wrong for the embedder. Distances are float64 ``1 - cos`` on
seeded samples of pairs (``bfrbench.rng.item_generator(seed, "refgroups", "report")``):

* within: up to 20,000 pairs drawn uniformly among pairs of images of the same identity (size >= 2);
* between: up to 20,000 random pairs of images of different identities.

Warnings (heuristics, documented in docs/refgroups.md):

* the threshold differs from the embedder's documented default (distances of different embedders are
  not comparable: dlib's 0.6 Euclidean ~ cosine 0.18-ish is not ArcFace's 0.4);
* more than 50 % of random image pairs fall under the threshold (most different people are merged: the
  threshold is certainly wrong for this embedder); more than 1 % in a collection of >= 1,000 images (for
  a collection of many people this means the threshold accepts strangers);
* more than 25 % of sampled between-identity distances lie less than 0.25 x threshold above it (the
  threshold cuts through the bulk of different-person distances instead of a gap);
* the largest identity holds more than 5 % of the images (and more than 50 images): chaining merges
  different people;
* no pair at all is under the threshold in a collection of at least 100 images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bfrbench.io import atomic_write_bytes, atomic_write_text
from bfrbench.rng import item_generator

__all__ = ["sample_distances", "threshold_warnings", "write_report"]

_SAMPLES = 20000


def _dist(v: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x = v[a].astype(np.float64)
    y = v[b].astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    return np.maximum(1.0 - np.einsum("ij,ij->i", x, y), 0.0)


def sample_distances(vectors: np.ndarray, labels: np.ndarray, *, seed: int,
                     n: int = _SAMPLES) -> dict[str, np.ndarray]:
    """Seeded samples of within-identity, between-identity and random-pair distances (float64 arrays)."""
    rng = item_generator(seed, "refgroups", "report")
    total = labels.shape[0]
    out: dict[str, np.ndarray] = {"within": np.zeros(0), "between": np.zeros(0), "random": np.zeros(0)}
    if total < 2:
        return out
    a = rng.integers(0, total, size=n)
    b = rng.integers(0, total - 1, size=n)
    b = b + (b >= a)  # a != b
    d = _dist(vectors, a, b)
    out["random"] = d
    out["between"] = d[labels[a] != labels[b]]
    # within: pick an image of a multi-image identity weighted by pair count, then a partner in it
    order = np.argsort(labels, kind="stable")
    sl = labels[order]
    starts = np.flatnonzero(np.r_[True, sl[1:] != sl[:-1]])
    sizes = np.diff(np.r_[starts, sl.size])
    multi = sizes >= 2
    if multi.any():
        st, sz = starts[multi], sizes[multi]
        w = sz.astype(np.float64) * (sz - 1)
        g = rng.choice(st.size, size=n, p=w / w.sum())
        i = rng.integers(0, sz[g])
        j = rng.integers(0, sz[g] - 1)
        j = j + (j >= i)
        out["within"] = _dist(vectors, order[st[g] + i], order[st[g] + j])
    return out


NEAR_BAND = 0.25  # "just above the threshold" = within NEAR_BAND * threshold above it


def threshold_warnings(threshold: float, default: float | None, random_d: np.ndarray, sizes: np.ndarray,
                       n_images: int, n_pairs: int, between_d: np.ndarray | None = None) -> list[str]:
    """The warnings of the module docstring, as sentences."""
    w: list[str] = []
    if default is not None and abs(threshold - default) > 1e-9:
        w.append(f"threshold {threshold} differs from this embedder's documented default {default}; "
                 "distances of different embedders are not comparable")
    if random_d.size:
        frac = float((random_d < threshold).mean())
        if frac > 0.5:
            w.append(f"threshold {threshold} looks wrong for this embedder: {100 * frac:.1f}% of random image "
                     "pairs are under it (most different people would be merged)")
        elif frac > 0.01 and n_images >= 1000:
            w.append(f"threshold {threshold} may be too loose: {100 * frac:.1f}% of random image pairs are "
                     "under it")
    if between_d is not None and between_d.size >= 100:
        # the band scales with the threshold: 0.1 for ArcFace's 0.4, 0.021 for dlib's 0.085 (dlib's distances
        # are compressed: different people at ~0.17-0.20 are a clear gap above its threshold)
        band = NEAR_BAND * threshold
        near = float(((between_d >= threshold) & (between_d < threshold + band)).mean())
        if near > 0.25:
            w.append(f"{100 * near:.0f}% of between-identity distances lie within {band:.3g} above threshold "
                     f"{threshold}: it cuts through different-person distances rather than a gap")
    largest = int(sizes.max()) if sizes.size else 0
    if largest > max(50, 0.05 * n_images):
        w.append(f"the largest identity has {largest} images ({100 * largest / n_images:.1f}%): chaining probably "
                 "merges different people; lower the threshold")
    if n_pairs == 0 and n_images >= 100:
        w.append(f"no pair is under threshold {threshold} among {n_images} images: the threshold may be too strict")
    return w


def _png(fig: Any) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def write_report(out: Path, *, record: dict[str, Any], vectors: np.ndarray, labels: np.ndarray,
                 sizes: np.ndarray, split_of: np.ndarray, n_refs: np.ndarray, n_src: int, seed: int) -> list[str]:
    """Write ``report.md`` and ``plots/*.png`` into ``out``; returns the warnings."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    thr = float(record["threshold"])
    counts = record["counts"]
    d = sample_distances(vectors, labels, seed=seed)
    id_sizes = np.bincount(labels)[np.unique(labels)]
    warnings = threshold_warnings(thr, record["embedder"].get("default_threshold"), d["random"], id_sizes,
                                  int(labels.size), int(counts["pairs"]), d["between"])
    plots = out / "plots"

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    multi = id_sizes[id_sizes >= 2]
    if multi.size:
        ax.hist(multi, bins=(np.arange(2, multi.max() + 2) - 0.5).tolist(), color="#4477aa")
    ax.set_xlabel("images per identity (identities with >= 2 images)")
    ax.set_ylabel("identities")
    ax.set_yscale("log" if multi.size and multi.size > 50 else "linear")
    atomic_write_bytes(plots / "identity_sizes.png", _png(fig))

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    bins = np.linspace(0, 2, 101)
    for key, colour in (("within", "#228833"), ("between", "#ee6677")):
        if d[key].size:
            ax.hist(d[key], bins=bins.tolist(), alpha=0.6, density=True, color=colour, label=f"{key} identities")
    ax.axvline(thr, color="k", linestyle="--", label=f"threshold {thr}")
    ax.set_xlabel("cosine distance")
    ax.set_ylabel("density")
    ax.legend(loc="upper right")
    atomic_write_bytes(plots / "distances.png", _png(fig))

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for s, colour in (("train", "#4477aa"), ("val", "#ccbb44"), ("test", "#ee6677")):
        v = n_refs[:n_src][(split_of[:n_src] == s) & (n_refs[:n_src] > 0)]
        if v.size:
            ax.hist(v, bins=(np.arange(1, v.max() + 2) - 0.5).tolist(), alpha=0.6, color=colour, label=s)
    ax.set_xlabel("references per target")
    ax.set_ylabel("targets")
    ax.legend(loc="upper right")
    atomic_write_bytes(plots / "refs_per_target.png", _png(fig))

    emb = record["embedder"]
    lines = [
        "# Reference groups report", "",
        (f"Embedder `{emb['name']}` (model `{emb['model_id']}`, weights sha256 `{emb['weights_sha256']}`), "
         f"threshold {thr} (cosine distance; embedder default {emb.get('default_threshold')}), "
         f"min_dist {record['min_dist']}, refs {record['min_refs']}-{record['max_refs']}, seed {record['seed']}."), "",
        "| quantity | value |", "|---|---|",
        f"| source images | {counts['images']} |", f"| pool images | {counts['pool_images']} |",
        f"| failed images | {counts['failed']} |",
        f"| identities (>= 2 images) | {counts['identities']} |",
        f"| images with >= 1 reference | {counts['images_with_refs']} |",
        f"| pairs under threshold | {counts['pairs']} |", f"| targets with references | {counts['targets']} |",
        f"| largest identity | {int(id_sizes.max()) if id_sizes.size else 0} |", "",
        "## Splits", "", "| split | images | identities | targets | references per target |", "|---|---|---|---|---|",
    ]
    for s, c in record["split"]["counts"].items():
        rpt = ", ".join(f"{k}: {v}" for k, v in sorted(c["refs_per_target"].items(), key=lambda kv: int(kv[0])))
        lines.append(f"| {s} | {c['images']} | {c['identities']} | {c['targets']} | {rpt or '-'} |")
    q = {k: (np.percentile(v, [5, 50, 95]).round(3).tolist() if v.size else None) for k, v in d.items()}
    lines += ["", "## Distances", "",
              (f"Sampled pairs (5th / 50th / 95th percentile): within identities {q['within']}, "
               f"between identities {q['between']}, random pairs {q['random']}."), "",
              "![identity sizes](plots/identity_sizes.png)", "", "![distances](plots/distances.png)", "",
              "![references per target](plots/refs_per_target.png)", "", "## Warnings", ""]
    lines += [f"- {x}" for x in warnings] or ["none"]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    return warnings
