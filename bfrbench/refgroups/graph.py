"""Exact neighbour graph under a cosine-distance threshold, and its connected components.

FFHQ-Ref (Hsiao et al., "ReF-LDM: A Latent Diffusion Model for Reference-based Face Image Restoration",
NeurIPS 2024, Sec. 4 and github.com/ChiWeiHsiao/ref-ldm) links two images when the cosine distance of
their ArcFace embeddings is below 0.4 and takes identities as the connected components of that graph.

Scale without the N x N matrix: rows are processed in blocks; for row block ``[r0, r1)`` only columns
``>= r0`` are computed (upper triangle, symmetry), one ``rows x cols`` tile at a time, so memory is bounded
by the tile size (``memory_bytes``). Each tile is a *screening* product in low precision: int8 with exact
int32 accumulation by default on CPU (``torch._int_mm``, AVX-512 VNNI: about 2x the bfloat16 and 5x the
float32 rate measured here), bfloat16 or float32 on request, float32 on GPUs. Per tile, maxima of
256-column segments are taken first and only segments that reach the screening bound are compared
element-wise. Every pair whose
screened similarity is within a proven error margin of the threshold or above it becomes a candidate, and
candidates are re-checked in float64. The result is exact: the same pairs as a float64 all-pairs
computation.

Exactness margins (``u`` = unit roundoff, vectors of unit norm, ``D`` = dimension):

* float32 screening: ``|s32 - s| <= gamma_D + 2 u32 <= (D + 4) * 2**-24`` (accumulation plus rounding of the
  normalised inputs); we use ``(D + 4) * 2**-23`` (twice the bound).
* bfloat16 screening (``u16 = 2**-8``, fp32 accumulation, bf16 output): inputs ``2 u16 + u16**2``,
  accumulation ``(D + 4) * 2**-24``, output rounding ``u16 * (1 + 2 u16)``; we use the sum plus 10 %.
* int8 screening: unit rows are quantised with one global scale ``s = max|a_k| / 127``
  (``a = s q + e``, ``|e_k| <= s / 2``) and multiplied exactly in int32, so
  ``|a.b - s^2 q_a.q_b| <= s / 2 (|a|_1 + |b|_1) + D s^2 / 4 <= s L1max + D s^2 / 4`` where ``L1max`` is the
  largest L1 norm of a unit row; we add a relative 1e-4 (``a / s`` is evaluated in float32) and 1e-6.

Definition of the exact distance: ``d(a, b) = 1 - <a / |a|, b / |b|>`` evaluated in float64 from the given
float32 (or float64) vectors.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from bfrbench.errors import ConfigError

__all__ = [
    "NeighbourPairs",
    "balanced_row_shards",
    "connected_components",
    "exact_distances",
    "int8_margin",
    "neighbour_pairs",
    "neighbour_pairs_distributed",
    "screening_margin",
    "tile_size_for_memory",
]

ScreenDtype = Literal["auto", "int8", "bfloat16", "float32"]
_DEFAULT_MEMORY = 1 << 30  # 1 GiB for tiles
_CHUNK = 65536  # rows per normalisation chunk


@dataclass(frozen=True)
class NeighbourPairs:
    """Pairs ``(i, j)`` with cosine distance ``< threshold``.

    Attributes:
        i, j: int64 arrays of shape (P,). Square case: ``i < j``, rows of ``x``. Rectangular case
            (``y`` given): ``i`` indexes ``x``, ``j`` indexes ``y``. Sorted by (i, j).
        dist: float64 (P,) exact cosine distances in ``[0, threshold)``.
        n_candidates: pairs that the screening pass sent to the float64 re-check (>= P).
    """

    i: np.ndarray
    j: np.ndarray
    dist: np.ndarray
    n_candidates: int

    def __len__(self) -> int:
        return int(self.i.shape[0])


def screening_margin(dim: int, dtype: Literal["bfloat16", "float32"]) -> float:
    """Upper bound on ``|screened similarity - exact similarity|`` for unit vectors of dimension ``dim``
    (floating-point screening; the int8 bound depends on the data, see :func:`int8_margin`)."""
    acc = (dim + 4) * 2.0 ** -24
    if dtype == "float32":
        return 2.0 * acc
    if dtype == "bfloat16":
        u = 2.0 ** -8
        return 1.1 * ((2 * u + u * u) + acc + u * (1 + 2 * u))
    raise ConfigError(f"screen dtype must be 'bfloat16' or 'float32', got {dtype!r}")


def int8_margin(scale: float, l1max: float, dim: int) -> float:
    """Bound on ``|a.b - scale^2 q_a.q_b|`` for int8 screening (module docstring), with a relative slack
    of 1e-4 for computing ``a / scale`` in float32 (error <= 127 * 2**-22 per entry, far below it)."""
    return (scale * l1max + dim * scale * scale / 4.0) * (1.0 + 1e-4) + 1e-6


def tile_size_for_memory(memory_bytes: int, n: int) -> tuple[int, int]:
    """Tile shape ``(rows, cols)`` so that one screening tile and its temporaries fit in ``memory_bytes``.

    A tile needs about 8 bytes per element (bf16/fp32 product, row maxima, masks, index temporaries).
    Rows are a quarter of the columns (at most 2048), so the wasted lower half of diagonal tiles is only
    ``rows / (2 n)`` of the work; both are multiples of 256, columns at most 16384 and never above ``n``
    rounded up to 256.
    """
    if memory_bytes < 1 << 20:
        raise ConfigError(f"memory_bytes must be at least 1 MiB, got {memory_bytes}")
    cols = int(math.sqrt(4 * memory_bytes / 8.0))
    cols = max(256, min(16384, (cols // 256) * 256))
    cols = min(cols, max(256, ((n + 255) // 256) * 256))
    rows = max(256, min(2048, (cols // 4 // 256) * 256))
    return rows, cols


def _chunk_tensor(x: np.ndarray, s: int) -> Any:
    import torch

    blk = np.asarray(x[s:s + _CHUNK])
    if blk.dtype not in (np.float32, np.float64) or not blk.flags.writeable:  # memory-mapped: copy the chunk
        blk = blk.astype(np.float32 if blk.dtype not in (np.float32, np.float64) else blk.dtype)
    return torch.from_numpy(np.ascontiguousarray(blk))


def _row_stats(x: np.ndarray, what: str) -> tuple[np.ndarray, float, float]:
    """float64 row norms of ``x`` (N, D), and the largest |entry| and L1 norm of its unit rows.

    Zero or non-finite rows are errors. Works chunk by chunk in torch (multi-threaded, no full-size copy;
    norms and L1 sums accumulate in float64).
    """
    import torch

    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ConfigError(f"{what}: expected a non-empty (N, D) embedding matrix, got shape {x.shape}")
    norms = np.empty(x.shape[0], dtype=np.float64)
    maxabs = 0.0
    l1max = 0.0
    for s in range(0, x.shape[0], _CHUNK):
        t = _chunk_tensor(x, s)
        nb = torch.linalg.vector_norm(t, dim=1, dtype=torch.float64).numpy()
        bad = np.flatnonzero(~np.isfinite(nb) | (nb == 0))
        if bad.size:
            raise ConfigError(f"{what}: embedding row {s + int(bad[0])} is zero or not finite")
        norms[s:s + _CHUNK] = nb
        a = t.abs()  # a new tensor: the caller's array is never modified
        maxabs = max(maxabs, float((a.amax(dim=1).double().numpy() / nb).max()))
        l1max = max(l1max, float((a.sum(dim=1, dtype=torch.float64).numpy() / nb).max()))
    return norms, maxabs, l1max


def _unit_tensor(x: np.ndarray, norms: np.ndarray, dtype: Any, device: str, scale: float | None,
                 length: int | None = None) -> Any:
    """Unit rows of ``x`` as a torch tensor of ``dtype`` on ``device``: rounded once from float64, or for
    int8 quantised as ``round(a / scale)`` (evaluated in float32; the relative slack in
    :func:`int8_margin` covers that). Built chunk by chunk (no full-size float copy: at N = 1,000,000 x 512
    that would be 2-4 GB). Rows past ``x`` up to ``length`` are zeros (padding to whole tiles)."""
    import torch

    out = torch.zeros((max(int(length or 0), x.shape[0]), x.shape[1]), dtype=dtype, device=device)
    for s in range(0, x.shape[0], _CHUNK):
        t = _chunk_tensor(x, s)
        nb = torch.from_numpy(norms[s:s + _CHUNK])
        if scale is not None:
            f = (1.0 / (nb * scale)).float()[:, None]
            q = torch.round(t.float() * f).clamp_(-127, 127).to(torch.int8)
            out[s:s + t.shape[0]] = q.to(device)
        else:
            out[s:s + t.shape[0]] = (t.double() / nb[:, None]).to(device=device, dtype=dtype)
    return out


def exact_distances(x: np.ndarray, y: np.ndarray, i: np.ndarray, j: np.ndarray,
                    x_norms: np.ndarray | None = None, y_norms: np.ndarray | None = None) -> np.ndarray:
    """float64 cosine distances ``1 - cos(x[i], y[j])`` for index arrays ``i``, ``j`` of shape (P,)."""
    out = np.empty(i.shape[0], dtype=np.float64)
    step = 1 << 13  # 8192 pairs: two (8192, D) float64 gathers, 32 MiB each at D = 512
    for s in range(0, i.shape[0], step):
        a = np.asarray(x[i[s:s + step]], dtype=np.float64)
        b = np.asarray(y[j[s:s + step]], dtype=np.float64)
        na = x_norms[i[s:s + step]] if x_norms is not None else np.sqrt(np.einsum("ij,ij->i", a, a))
        nb = y_norms[j[s:s + step]] if y_norms is not None else np.sqrt(np.einsum("ij,ij->i", b, b))
        out[s:s + step] = 1.0 - np.einsum("ij,ij->i", a, b) / (na * nb)
    return out


def _resolve_dtype(screen_dtype: ScreenDtype, device: str) -> Literal["int8", "bfloat16", "float32"]:
    if screen_dtype == "auto":
        return "int8" if device == "cpu" else "float32"
    if screen_dtype not in ("int8", "bfloat16", "float32"):
        raise ConfigError(f"screen_dtype must be 'auto', 'int8', 'bfloat16' or 'float32', got {screen_dtype!r}")
    return screen_dtype


def _tiles(start: int, stop: int, ny: int, rows: int, cols: int,
           square: bool) -> Iterator[tuple[int, int, int, int]]:
    """(r0, r1, c0, c1) tiles for rows [start, stop); square case: only columns >= r0 (upper triangle)."""
    for r0 in range(start, stop, rows):
        r1 = min(stop, r0 + rows)
        for c0 in range(r0 if square else 0, ny, cols):
            yield r0, r1, c0, min(ny, c0 + cols)


_SEG = 256  # column segment width of the two-level candidate search


class _Candidates:
    """Growable int64 ``(i, j)`` candidate buffers (capacity doubles when full).

    Not a list of per-tile arrays: thousands of small long-lived arrays, each allocated between the
    per-tile temporaries (segment maxima, masks, index arrays: ~0.5 MB per tile), fragmented the glibc
    heap: with tiles of the N = 1,000,000 shape the RSS grew by ~0.6 MB per tile (free memory that
    ``malloc_trim`` handed back), 11.5 GiB peak for the whole run. A few large buffers that are
    reallocated only ``log2`` times do not pin the heap (measurements: docs/refgroups.md, "Scale").
    """

    def __init__(self, capacity: int = 1 << 16) -> None:
        self.i = np.empty(capacity, dtype=np.int64)
        self.j = np.empty(capacity, dtype=np.int64)
        self.n = 0

    def add(self, gi: np.ndarray, gj: np.ndarray) -> None:
        k = int(gi.shape[0])
        if not k:
            return
        if self.n + k > self.i.shape[0]:
            cap = max(2 * self.i.shape[0], self.n + k)
            for name in ("i", "j"):
                new = np.empty(cap, dtype=np.int64)
                new[: self.n] = getattr(self, name)[: self.n]
                setattr(self, name, new)
        self.i[self.n:self.n + k] = gi
        self.j[self.n:self.n + k] = gj
        self.n += k

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.i[: self.n], self.j[: self.n]


def _tile_hits(tile: Any, lo_val: Any, np_bound: float | None, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) positions in ``tile`` (R, C) with value >= the bound, as int64 arrays.

    Two levels: maxima of ``_SEG``-column segments first (one pass over the tile), then an element-wise
    compare only inside the few segments that reach the bound; columns past the last whole segment are
    compared row-wise.
    """
    import torch

    rows, cols = int(tile.shape[0]), int(tile.shape[1])
    whole = (cols // _SEG) * _SEG
    out_i: list[np.ndarray] = []
    out_j: list[np.ndarray] = []
    if whole:
        seg = tile[:, :whole].reshape(rows, whole // _SEG, _SEG)
        hit = torch.nonzero(seg.amax(dim=2) >= lo_val)
        if hit.numel():
            parts = seg[hit[:, 0], hit[:, 1]]  # (H, _SEG) copies of the segments with a candidate
            if np_bound is not None:
                m = (parts.view(torch.int16) if dtype == "bfloat16" else parts).numpy() >= np_bound
            else:
                m = (parts >= lo_val).cpu().numpy()
            h, c = np.nonzero(m)
            hn = hit.cpu().numpy().astype(np.int64)
            out_i.append(hn[h, 0])
            out_j.append(hn[h, 1] * _SEG + c)
    if whole < cols:
        rest = tile[:, whole:]
        m = (rest >= lo_val).cpu().numpy()
        r, c = np.nonzero(m)
        out_i.append(r.astype(np.int64))
        out_j.append(c.astype(np.int64) + whole)
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_i), np.concatenate(out_j)


def neighbour_pairs(
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    threshold: float,
    memory_bytes: int = _DEFAULT_MEMORY,
    threads: int | None = 2,
    device: str = "cpu",
    screen_dtype: ScreenDtype = "auto",
    row_range: tuple[int, int] | None = None,
) -> NeighbourPairs:
    """All pairs with cosine distance ``< threshold``, exactly, without materialising the full matrix.

    Args:
        x: (N, D) float32/float64 embeddings (any norm, none zero).
        y: optional (M, D) second collection: then all ``x``-``y`` pairs (rectangle) instead of the upper
            triangle of ``x`` with itself.
        threshold: cosine distance in (0, 2].
        memory_bytes: bound on the working memory of one tile (inputs are not counted).
        threads: torch intra-op threads during the call (restored afterwards); None keeps the current value.
        device: torch device for the screening products ("cpu", "cuda", "cuda:1", ...).
        screen_dtype: "auto" (bfloat16 on CPU, float32 on GPU), "bfloat16" or "float32".
        row_range: only pairs whose ``i`` lies in ``[start, stop)`` (one shard of
            :func:`neighbour_pairs_distributed`); None = all rows.

    Returns:
        :class:`NeighbourPairs` sorted by (i, j).
    """
    import torch

    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    try:
        return _pairs(x, y, float(threshold), memory_bytes, device, screen_dtype, row_range)
    finally:
        if threads is not None:
            torch.set_num_threads(old_threads)


def _pairs(x: np.ndarray, y: np.ndarray | None, threshold: float, memory_bytes: int, device: str,
           screen_dtype: ScreenDtype, row_range: tuple[int, int] | None) -> NeighbourPairs:
    """Body of :func:`neighbour_pairs` (torch threads already set)."""
    import torch

    if not (0.0 < float(threshold) <= 2.0):
        raise ConfigError(f"threshold must be a cosine distance in (0, 2], got {threshold}")
    square = y is None
    dtype = _resolve_dtype(screen_dtype, device)
    tdtype = {"int8": torch.int8, "bfloat16": torch.bfloat16, "float32": torch.float32}[dtype]
    xn, x_max, x_l1 = _row_stats(x, "embeddings")
    if y is None:
        yn, y_max, y_l1, y_src = xn, x_max, x_l1, x
    else:
        if y.ndim != 2 or x.ndim != 2 or y.shape[1] != x.shape[1]:
            raise ConfigError(f"pool embeddings have shape {y.shape}, expected (M, {x.shape[-1]})")
        yn, y_max, y_l1 = _row_stats(y, "pool embeddings")
        y_src = y
    n_x, n_y = int(x.shape[0]), int(y_src.shape[0])
    start, stop = (0, n_x) if row_range is None else (int(row_range[0]), int(row_range[1]))
    if not 0 <= start <= stop <= n_x:
        raise ConfigError(f"row_range {row_range} is outside [0, {n_x}]")
    scale = max(x_max, y_max) / 127.0 if dtype == "int8" else None
    if scale is not None:
        margin = int8_margin(scale, max(x_l1, y_l1), x.shape[1])
    else:
        margin = screening_margin(x.shape[1], dtype)  # type: ignore[arg-type]
    s_lo = 1.0 - float(threshold) - margin  # screened similarity at or above this: candidate
    rows_b, cols_b = tile_size_for_memory(memory_bytes, max(n_x, n_y))
    # Zero-pad to whole row blocks so that tiles come in few shapes (rows_b x multiples of rows_b): the
    # GEMM libraries keep per-shape state, and ~500 distinct shapes cost GBs at N = 1,000,000.
    grain = rows_b
    ny_pad = -(-n_y // grain) * grain
    nx_pad = max(-(-stop // grain) * grain + grain, ny_pad + grain if square else 0)
    tx = _unit_tensor(x, xn, tdtype, device, scale, nx_pad)
    ty = tx if square else _unit_tensor(y_src, yn, tdtype, device, scale, ny_pad)
    np_bound: float | int | None = None  # compare on the CPU in numpy when possible (faster than torch)
    if scale is not None:  # integer products: candidate iff q_a.q_b >= ceil(s_lo / scale^2) (minus 1 for
        lo_val = torch.tensor(math.ceil(s_lo / (scale * scale)) - 1, dtype=torch.int32, device=device)  # rounding)
        np_bound = int(lo_val) if device == "cpu" else None
        out_dtype = torch.int32
    else:
        # Round the bound down to a representable value <= s_lo (candidates stay a superset): moving
        # down by 2**-7 (one bf16 ulp in [1, 2), two in [0.5, 1)) before rounding to nearest suffices.
        step = 2.0 ** -7 if dtype == "bfloat16" else 2.0 ** -20
        lo = torch.tensor(s_lo - step, dtype=torch.float64).to(tdtype)
        lo_val = lo.to(device)
        if dtype == "bfloat16" and device == "cpu" and float(lo) > 0:
            np_bound = int(lo.view(torch.int16))  # positive bf16 values order like their int16 bits
        out_dtype = tdtype
    buf = torch.empty(rows_b * cols_b, dtype=out_dtype, device=device)
    cand = _Candidates()  # not a list of per-tile arrays: see _Candidates
    with torch.inference_mode():
        for r0, _, c0, c1 in _tiles(start, stop, ny_pad, rows_b, cols_b, square):
            r1 = r0 + rows_b  # padded: rows past ``stop`` are dropped below
            tile = buf[: (r1 - r0) * (c1 - c0)].view(r1 - r0, c1 - c0)
            if scale is not None:  # reused buffer: no page faults per tile
                torch._int_mm(tx[r0:r1], ty[c0:c1].T, out=tile)
            else:
                torch.mm(tx[r0:r1], ty[c0:c1].T, out=tile)
            if square and c0 < r1:  # diagonal block: keep only global column > global row
                tile[:, : r1 - c0].triu_(diagonal=r0 - c0 + 1)
            gi, gj = _tile_hits(tile, lo_val, np_bound, dtype)
            gi += r0
            gj += c0
            # padding rows/columns, and masked zeros (candidates when the bound is <= 0, threshold ~>= 1)
            keep = (gi < stop) & (gj < n_y)
            if square and c0 < r1:
                keep &= gj > gi
            cand.add(gi[keep], gj[keep])
    i, j = cand.arrays()
    dist = exact_distances(x, y_src, i, j, xn, yn)
    keep = dist < float(threshold)
    i, j, dist = i[keep], j[keep], dist[keep]
    order = np.lexsort((j, i))
    return NeighbourPairs(i=i[order], j=j[order], dist=dist[order], n_candidates=int(keep.shape[0]))


def balanced_row_shards(n: int, shards: int) -> list[tuple[int, int]]:
    """Split rows ``[0, n)`` of the upper triangle into ``shards`` ranges of about equal work.

    Row ``r`` costs ``n - r`` products, so boundary ``k`` is ``n * (1 - sqrt(1 - k / shards))``.
    """
    if shards < 1:
        raise ConfigError(f"shards must be >= 1, got {shards}")
    cuts = sorted({round(n * (1.0 - math.sqrt(1.0 - k / shards))) for k in range(shards + 1)})
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


@dataclass(frozen=True)
class _ShardTask:
    npy: str
    rows: tuple[int, int]
    threshold: float
    memory_bytes: int
    threads: int | None
    device: str
    screen_dtype: str


def _shard_pairs(task: _ShardTask) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    x = np.load(task.npy, mmap_mode="r")
    p = neighbour_pairs(x, threshold=task.threshold, memory_bytes=task.memory_bytes, threads=task.threads,
                        device=task.device, screen_dtype=task.screen_dtype,  # type: ignore[arg-type]
                        row_range=task.rows)
    return p.i, p.j, p.dist, p.n_candidates


def neighbour_pairs_distributed(
    x: np.ndarray | str,
    *,
    threshold: float,
    shards: int,
    workers: int = 1,
    scheduler: str | None = None,
    memory_bytes: int = _DEFAULT_MEMORY,
    threads: int | None = 1,
    device: str = "cpu",
    screen_dtype: ScreenDtype = "auto",
) -> NeighbourPairs:
    """:func:`neighbour_pairs` (square case) split into row shards of equal work, run with
    :func:`bfrbench.distributed.run_tasks` (local dask cluster or a user's scheduler, e.g. one GPU per worker).

    Args:
        x: (N, D) embeddings, or the path of a ``.npy`` file every worker can read (memory-mapped; pass a
            path on a shared file system for multi-machine clusters).
        shards: number of row shards (use a multiple of the worker count).
        threads: torch threads per worker.
        other args: as :func:`neighbour_pairs`.

    Returns:
        the same :class:`NeighbourPairs` as :func:`neighbour_pairs` (exact, sorted).
    """
    import tempfile

    from bfrbench.distributed import TaskFailure, run_tasks
    from bfrbench.errors import BfrbenchError

    with tempfile.TemporaryDirectory(prefix="bfrbench-pairs-") as tmp:
        if isinstance(x, str):
            path = x
        else:
            path = f"{tmp}/x.npy"
            np.save(path, np.ascontiguousarray(x))
        n = int(np.load(path, mmap_mode="r").shape[0])
        tasks = [_ShardTask(path, r, float(threshold), int(memory_bytes), threads, device, str(screen_dtype))
                 for r in balanced_row_shards(n, shards)]
        parts = []
        for res in run_tasks(_shard_pairs, tasks, workers=workers, scheduler=scheduler, desc="pairs"):
            if isinstance(res, TaskFailure):
                raise BfrbenchError(f"neighbour-pair shard rows {res.task.rows} failed: {res.error}")
            parts.append(res)
    i = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    j = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    d = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
    order = np.lexsort((j, i))
    return NeighbourPairs(i=i[order], j=j[order], dist=d[order], n_candidates=int(sum(p[3] for p in parts)))


def connected_components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Union-find over ``n`` nodes and edges ``(i[k], j[k])``; returns each node's component label.

    Vectorised union-find: every round hooks each edge's larger root under its smaller root
    (``parent[hi] = min(parent[hi], lo)``), then compresses paths by pointer jumping until every node
    points at its root. The label of a component is its smallest node index, so labels do not depend on
    edge order.

    Returns:
        int64 array (n,), ``label[k]`` = smallest index in k's component.
    """
    parent = np.arange(n, dtype=np.int64)
    if i.size == 0:
        return parent
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    if i.min() < 0 or j.min() < 0 or i.max() >= n or j.max() >= n:
        raise ConfigError(f"edge index out of range for {n} nodes")
    while True:
        pi, pj = parent[i], parent[j]
        differ = pi != pj
        if not differ.any():
            return parent
        i, j = i[differ], j[differ]  # edges already inside one component never matter again
        lo = np.minimum(pi[differ], pj[differ])
        hi = np.maximum(pi[differ], pj[differ])
        np.minimum.at(parent, hi, lo)
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
