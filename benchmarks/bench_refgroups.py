"""Scale benchmark for the reference-groups neighbour graph (issue 7).

Synthetic embeddings with planted identities on the unit sphere (FFHQ-like: about 29 % of images in
identities of 2-15 images, the rest singletons; 512-d). Within an identity each image is
``normalise(c + s * n / sqrt(D))`` with ``s ~ U(0.4, 0.8)``, which gives same-identity cosine distances of
about 0.14-0.39; identity centres are random directions plus a shared 16-dimensional component, which
widens the between-identity distances (mean ~1.0, standard deviation ~0.07, like ArcFace impostor pairs).

Two implementations run on the same data in the same run, each in its own child process (peak RSS is
measured per process; the input matrix is included):

* ``plain``: float32 numpy, row blocks of 2048 against all later columns, ``np.nonzero``, scipy
  connected components: the "plain blocked" baseline the issue measured (~26 s for 70k on one thread);
* ``fast``: :func:`bfrbench.refgroups.neighbour_pairs` (int8 screening with a proven error bound +
  float64 re-check of the candidates, exact)
  and :func:`bfrbench.refgroups.connected_components` (vectorised union-find).

Reported: seconds, peak RSS, pairs, pairwise precision/recall of the recovered identities against the
planted ones, and whether the two pair sets agree (where they differ, float64 decides who is right).

With ``--workers N`` the fast path runs as ``4 N`` row shards of equal work on a local dask cluster
(:func:`bfrbench.refgroups.graph.neighbour_pairs_distributed`), which is how it scales past one machine; the
peak RSS printed is then the parent's only.

Usage: ``python benchmarks/bench_refgroups.py [--n 70000] [--dim 512] [--threads 2] [--skip-plain] [--workers N]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_data(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(float32 (n, dim) unit rows, int64 (n,) planted labels), generated in chunks (low peak memory)."""
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    in_groups = int(0.29 * n)
    while sum(sizes) < in_groups:
        sizes.append(int(min(15, 2 + rng.geometric(0.55) - 1)))
    n_ids = len(sizes)
    labels = np.concatenate([np.repeat(np.arange(n_ids), sizes), n_ids + np.arange(max(0, n - sum(sizes)))])[:n]
    perm = rng.permutation(n)  # identities scattered over the index range, like real file names
    labels = labels[perm]
    n_lab = int(labels.max()) + 1
    shared = rng.standard_normal((16, dim)) / np.sqrt(16)
    x = np.empty((n, dim), dtype=np.float32)
    centres = np.empty((n_lab, dim), dtype=np.float32)
    for s in range(0, n_lab, 50000):
        c = rng.standard_normal((min(50000, n_lab - s), dim)) / np.sqrt(dim)
        c += 0.12 * rng.standard_normal((c.shape[0], 16)) @ shared / np.sqrt(dim) * np.sqrt(dim / 16)
        centres[s:s + c.shape[0]] = c / np.linalg.norm(c, axis=1, keepdims=True)
    for s in range(0, n, 50000):
        lab = labels[s:s + 50000]
        sp = rng.uniform(0.4, 0.8, size=(lab.size, 1))
        v = centres[lab] + sp * rng.standard_normal((lab.size, dim)) / np.sqrt(dim)
        x[s:s + lab.size] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return x, labels


def plain(x: np.ndarray, t: float, block: int = 2048) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain float32 blocked all-pairs (upper triangle) + scipy connected components."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    xs = x / np.linalg.norm(x, axis=1, keepdims=True)
    ii, jj = [], []
    for r0 in range(0, xs.shape[0], block):
        sims = xs[r0:r0 + block] @ xs[r0:].T
        a, b = np.nonzero(sims > 1.0 - t)
        b = b + r0
        a = a + r0
        keep = b > a
        ii.append(a[keep])
        jj.append(b[keep])
    i, j = np.concatenate(ii), np.concatenate(jj)
    n = xs.shape[0]
    _, lab = connected_components(sp.coo_matrix((np.ones(i.size, np.int8), (i, j)), shape=(n, n)), directed=False)
    return i.astype(np.int64), j.astype(np.int64), lab


def fast(x: np.ndarray, t: float, threads: int, memory: int, workers: int = 0,
         data: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from bfrbench.refgroups.graph import (
        connected_components,
        neighbour_pairs,
        neighbour_pairs_distributed,
    )

    if workers:  # row shards over a local dask cluster (threads per worker), x memory-mapped from .npy
        p = neighbour_pairs_distributed(data or x, threshold=t, shards=4 * workers, workers=workers,
                                        threads=threads, memory_bytes=memory)
    else:
        p = neighbour_pairs(x, threshold=t, threads=threads, memory_bytes=memory)
    return p.i, p.j, connected_components(x.shape[0], p.i, p.j)


def pairwise_pr(pred: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """Pairwise precision and recall of a clustering (pairs of images put together)."""
    def c2(v: np.ndarray) -> float:
        v = v.astype(np.float64)
        return float((v * (v - 1) / 2).sum())

    _, inv_p = np.unique(pred, return_inverse=True)
    _, inv_t = np.unique(true, return_inverse=True)
    joint = inv_p.astype(np.int64) * (int(inv_t.max()) + 1) + inv_t
    tp = c2(np.unique(joint, return_counts=True)[1])
    pp = c2(np.bincount(inv_p))
    tt = c2(np.bincount(inv_t))
    return (tp / pp if pp else 1.0), (tp / tt if tt else 1.0)


def child(args: argparse.Namespace) -> None:
    data = np.load(args.data)
    x, labels = data["x"], data["labels"]
    if args.impl == "fast":  # imports are not timed (torch takes seconds to import)
        import torch  # noqa: F401

        import bfrbench.refgroups.graph  # noqa: F401
    else:
        import scipy.sparse.csgraph  # noqa: F401
    t0 = time.perf_counter()
    if args.impl == "plain":
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        i, j, lab = plain(x, args.threshold)
    else:
        xpath = None
        if args.workers:
            xpath = str(Path(args.result).with_name("x.npy"))
            np.save(xpath, x)
        i, j, lab = fast(x, args.threshold, args.threads, int(args.memory_gib * (1 << 30)), args.workers, xpath)
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    prec, rec = pairwise_pr(lab, labels)
    np.savez(args.result, i=i, j=j)
    print(json.dumps({"impl": args.impl, "n": int(x.shape[0]), "seconds": round(secs, 2),
                      "peak_rss_gib": round(peak / 2**30, 3), "pairs": int(i.size),
                      "identities": int((np.bincount(lab) >= 2).sum()), "precision": round(prec, 5),
                      "recall": round(rec, 5)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=70000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--threshold", type=float, default=0.4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-gib", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-plain", action="store_true")
    ap.add_argument("--workers", type=int, default=0,
                    help="fast path over N dask workers (row shards; --threads per worker); 0 = in process")
    ap.add_argument("--impl", choices=["plain", "fast"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.impl:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        x, labels = make_data(args.n, args.dim, args.seed)
        data = Path(tmp) / "data.npz"
        np.savez(data, x=x, labels=labels)
        print(f"data: {args.n} x {args.dim}, planted identities (>=2 images): {int((np.bincount(labels) >= 2).sum())}, "
              f"images in them: {int((np.bincount(labels)[labels] >= 2).sum())}", flush=True)
        results = {}
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
               "OPENBLAS_NUM_THREADS": str(args.threads)}
        for impl in (["fast"] if args.skip_plain else ["plain", "fast"]):
            out = subprocess.run([sys.executable, __file__, "--impl", impl, "--data", str(data), "--result",
                                  str(Path(tmp) / f"{impl}.npz"), "--threshold", str(args.threshold), "--threads",
                                  str(args.threads), "--memory-gib", str(args.memory_gib), "--workers", str(args.workers)],
                                 capture_output=True, text=True, env=env, check=True)
            results[impl] = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps(results[impl]), flush=True)
        if "plain" in results:
            a = np.load(Path(tmp) / "plain.npz")
            b = np.load(Path(tmp) / "fast.npz")
            sa = set(zip(a["i"].tolist(), a["j"].tolist()))
            sb = set(zip(b["i"].tolist(), b["j"].tolist()))
            diff = sa ^ sb
            wrong_fast = 0
            for i, j in diff:  # float64 decides
                d = 1.0 - float(np.dot(x[i].astype(np.float64), x[j].astype(np.float64)) /
                                (np.linalg.norm(x[i].astype(np.float64)) * np.linalg.norm(x[j].astype(np.float64))))
                wrong_fast += ((d < args.threshold) != ((i, j) in sb))
            print(json.dumps({"speedup": round(results["plain"]["seconds"] / results["fast"]["seconds"], 2),
                              "pairs_differing": len(diff), "fast_wrong_in_float64": wrong_fast}))


if __name__ == "__main__":
    main()
