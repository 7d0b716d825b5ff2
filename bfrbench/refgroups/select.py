"""Choosing and ordering the references of one target: de-duplication and farthest-point sampling.

FFHQ-Ref (ReF-LDM, NeurIPS 2024, Sec. 4): test references are at cosine distance >= 0.1 from their
target (no near-duplicates of the ground truth); training keeps all references; each test target has
2-9 references ordered by farthest-point sampling (FPS) on the embedding distance, so that any prefix of
the list is a diverse set. The paper does not define the FPS start point or ties; bfrbench does:

1. candidates are the target's graph neighbours (distance < threshold) from the reference collection;
2. candidates with ``d(target, c) < min_dist`` are dropped;
3. the first reference is the candidate **farthest from the target**;
4. each next reference is the candidate whose distance to the nearest already chosen reference is
   largest; FPS stops when that distance is below ``min_dist`` (every remaining candidate is then a
   near-duplicate of a chosen reference) or when ``max_refs`` references are chosen;
5. ties (equal float64 distances) go to the candidate with the smallest index, i.e. the smallest name,
   because collections are indexed in sorted-name order;
6. a target with fewer than ``min_refs`` references gets none (it is left out of the reference CSV).

All distances are float64 cosine distances ``max(0, 1 - cos)`` of the stored embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bfrbench.errors import ConfigError

__all__ = ["Selection", "fps_order", "select_references"]


@dataclass(frozen=True)
class Selection:
    """References chosen for one target: indices into the reference collection, in FPS order, and
    their float64 distances to the target."""

    refs: list[int]
    dists: list[float]


def _unit64(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def fps_order(target: np.ndarray, cands: np.ndarray, *, min_dist: float = 0.0,
              max_refs: int | None = None) -> list[int]:
    """Farthest-point order of candidate vectors (rules 3-5 of the module docstring).

    Args:
        target: (D,) embedding of the target.
        cands: (M, D) embeddings of the candidates, in index (name) order.
        min_dist: stop when the farthest remaining candidate is closer than this to a chosen one.
        max_refs: at most this many (None: no limit).

    Returns:
        positions into ``cands`` in selection order.
    """
    m = cands.shape[0]
    if m == 0:
        return []
    limit = m if max_refs is None else min(m, max_refs)
    c = _unit64(cands)
    d_target = np.maximum(1.0 - c @ _unit64(target), 0.0)
    first = int(np.argmax(d_target))  # argmax returns the first (smallest position) among ties
    order = [first]
    nearest = np.maximum(1.0 - c @ c[first], 0.0)  # distance of every candidate to its nearest chosen reference
    nearest[first] = -np.inf
    while len(order) < limit:
        nxt = int(np.argmax(nearest))
        if not np.isfinite(nearest[nxt]) or nearest[nxt] < min_dist:
            break
        order.append(nxt)
        nearest = np.minimum(nearest, np.maximum(1.0 - c @ c[nxt], 0.0))
        nearest[order] = -np.inf
    return order


def select_references(target: np.ndarray, cand_index: np.ndarray, cand_vectors: np.ndarray, *,
                      min_dist: float, max_refs: int | None, min_refs: int) -> Selection:
    """References of one target (the whole procedure of the module docstring).

    Args:
        target: (D,) target embedding.
        cand_index: (M,) int indices of the candidates in the reference collection (any order).
        cand_vectors: (M, D) their embeddings (same order as ``cand_index``).
        min_dist: minimum cosine distance to the target and between references (0 keeps everything).
        max_refs: maximum number of references (None: all).
        min_refs: below this many the target gets no references.
    """
    if min_refs < 0 or (max_refs is not None and max_refs < max(1, min_refs)):
        raise ConfigError(f"need 0 <= min_refs <= max_refs and max_refs >= 1, got min_refs={min_refs}, "
                          f"max_refs={max_refs}")
    idx = np.asarray(cand_index, dtype=np.int64)
    order = np.argsort(idx, kind="stable")
    idx, vecs = idx[order], np.asarray(cand_vectors)[order]
    t = _unit64(target)
    d = np.maximum(1.0 - _unit64(vecs) @ t, 0.0) if idx.size else np.zeros(0)
    keep = d >= min_dist
    idx, vecs, d = idx[keep], vecs[keep], d[keep]
    pos = fps_order(t, vecs, min_dist=min_dist, max_refs=max_refs)
    if len(pos) < max(min_refs, 1):
        return Selection(refs=[], dists=[])
    return Selection(refs=[int(idx[p]) for p in pos], dists=[float(d[p]) for p in pos])
