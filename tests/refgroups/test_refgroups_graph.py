"""Exact neighbour pairs (vs a float64 brute force) and union-find components (vs scipy)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bfrbench.errors import ConfigError
from bfrbench.refgroups.graph import (
    connected_components,
    neighbour_pairs,
    screening_margin,
    tile_size_for_memory,
)


def brute(x: np.ndarray, y: np.ndarray | None, t: float) -> tuple[np.ndarray, np.ndarray]:
    a = x.astype(np.float64)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = a if y is None else y.astype(np.float64) / np.linalg.norm(y.astype(np.float64), axis=1, keepdims=True)
    d = 1.0 - a @ b.T
    mask = d < t
    if y is None:
        mask = np.triu(mask, 1)
    return np.nonzero(mask)


@pytest.mark.parametrize("dtype", ["int8", "bfloat16", "float32"])
@pytest.mark.parametrize("t", [0.25, 0.4, 1.05])
def test_square_pairs_match_float64_brute_force(synth, dtype, t):
    x, _ = synth.planted(120, (1, 8), 64, spread=0.6, seed=1)
    x = x * np.random.default_rng(0).uniform(0.5, 3.0, size=(x.shape[0], 1)).astype(np.float32)  # any norm
    assert x.shape[0] > 512  # several 256-row tiles, diagonal and off-diagonal
    p = neighbour_pairs(x, threshold=t, memory_bytes=1 << 20, screen_dtype=dtype)
    bi, bj = brute(x, None, t)
    assert len(p) == bi.size > 100
    np.testing.assert_array_equal(p.i, bi)
    np.testing.assert_array_equal(p.j, bj)
    assert np.all(p.i < p.j) and np.all(p.dist < t) and p.n_candidates >= len(p)
    a = x[p.i].astype(np.float64)
    b = x[p.j].astype(np.float64)
    want = 1 - (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(p.dist, want, atol=1e-12)


def test_rectangular_pairs_match_brute_force(synth):
    x, _ = synth.planted(60, (2, 6), 32, spread=0.7, seed=2)
    y, x_only = x[::2].copy(), x[1::2].copy()
    p = neighbour_pairs(x_only, y, threshold=0.35, memory_bytes=1 << 20)
    bi, bj = brute(x_only, y, 0.35)
    assert bi.size > 20
    np.testing.assert_array_equal(p.i, bi)
    np.testing.assert_array_equal(p.j, bj)


def test_pairs_at_the_threshold_are_decided_in_float64():
    # pairs whose cosine distance straddles the threshold by 1e-7: only a float64 re-check gets them right
    rng = np.random.default_rng(5)
    t = 0.4
    rows = []
    for k in range(200):
        u = rng.standard_normal(256)
        u /= np.linalg.norm(u)
        w = rng.standard_normal(256)
        w -= (w @ u) * u
        w /= np.linalg.norm(w)
        delta = (1.0 if k % 2 else -1.0) * 1e-7 * (1 + k % 5)
        cos = 1 - t - delta  # distance t + delta
        rows += [u, cos * u + np.sqrt(1 - cos ** 2) * w]
    x = np.asarray(rows)  # float64 input, exact decisions expected
    before = x.copy()
    p = neighbour_pairs(x, threshold=t, memory_bytes=1 << 20)
    np.testing.assert_array_equal(x, before)  # the input is never modified
    bi, bj = brute(x, None, t)
    np.testing.assert_array_equal(p.i, bi)
    np.testing.assert_array_equal(p.j, bj)
    assert 90 <= len(p) <= 110  # about half the planted pairs fall under the threshold


def test_int8_screening_error_stays_inside_the_margin():
    import torch

    from bfrbench.refgroups.graph import _row_stats, _unit_tensor, int8_margin

    rng = np.random.default_rng(3)
    x = rng.standard_normal((400, 512)) * rng.uniform(0.2, 3.0, size=512)  # uneven dimensions
    x[200:] = x[:200] + 0.3 * rng.standard_normal((200, 512))
    norms, maxabs, l1 = _row_stats(x, "x")
    scale = maxabs / 127
    q = _unit_tensor(x, norms, torch.int8, "cpu", scale)
    screened = torch._int_mm(q, q.T.contiguous()).numpy().astype(np.float64) * scale * scale
    u = x / norms[:, None]
    err = np.abs(screened - u @ u.T).max()
    margin = int8_margin(scale, l1, 512)
    assert 0 < err <= margin < 0.1


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_screening_error_stays_inside_the_margin(dtype):
    import torch

    rng = np.random.default_rng(7)
    x = rng.standard_normal((400, 512))
    x[200:] = x[:200] + 0.3 * rng.standard_normal((200, 512))  # high similarities too
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    exact = x @ x.T
    tdt = torch.bfloat16 if dtype == "bfloat16" else torch.float32
    tx = torch.from_numpy(x.astype(np.float32)).to(tdt)
    screened = torch.mm(tx, tx.T).float().numpy().astype(np.float64)
    err = np.abs(screened - exact).max()
    assert 0 < err <= screening_margin(512, dtype)


def test_union_find_matches_scipy_and_labels_by_smallest_index():
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components as scipy_cc

    rng = np.random.default_rng(11)
    n = 3000
    i = rng.integers(0, n, 2500)
    j = rng.integers(0, n, 2500)
    lab = connected_components(n, i, j)
    k, ref = scipy_cc(sp.coo_matrix((np.ones(i.size), (i, j)), shape=(n, n)), directed=False)
    assert np.unique(lab).size == k
    # same partition: the pairs (label, scipy label) are one-to-one
    assert np.unique(np.stack([lab, ref]), axis=1).shape[1] == k
    for comp in np.unique(lab)[:50]:
        assert comp == np.flatnonzero(lab == comp).min()
    # edge order does not matter
    perm = rng.permutation(i.size)
    np.testing.assert_array_equal(connected_components(n, j[perm], i[perm]), lab)


def test_chain_is_one_component():
    lab = connected_components(6, np.array([4, 3, 2, 1]), np.array([5, 4, 3, 2]))
    np.testing.assert_array_equal(lab, [0, 1, 1, 1, 1, 1])


def test_errors_and_tile_size():
    with pytest.raises(ConfigError, match="row 1 is zero"):
        neighbour_pairs(np.array([[1.0, 0.0], [0.0, 0.0]], np.float32), threshold=0.4)
    with pytest.raises(ConfigError, match="threshold"):
        neighbour_pairs(np.eye(3, dtype=np.float32), threshold=0.0)
    with pytest.raises(ConfigError, match="out of range"):
        connected_components(3, np.array([0]), np.array([3]))
    assert tile_size_for_memory(1 << 30, 10**6) == (2048, 16384)  # 2048 * 16384 * 8 B = 256 MiB
    assert tile_size_for_memory(1 << 20, 10**6) == (256, 512)
    assert tile_size_for_memory(1 << 30, 1000) == (256, 1024)


def test_row_shards_cover_the_triangle_with_equal_work():
    from bfrbench.refgroups.graph import balanced_row_shards

    shards = balanced_row_shards(10000, 4)
    assert shards[0][0] == 0 and shards[-1][1] == 10000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(shards))
    work = [sum(10000 - r for r in range(a, b)) for a, b in shards]
    assert max(work) / min(work) < 1.01


def test_distributed_pairs_equal_single_process(synth, tmp_path):
    from bfrbench.refgroups.graph import neighbour_pairs_distributed

    x, _ = synth.planted(80, (1, 6), 32, spread=0.6, seed=8)
    one = neighbour_pairs(x, threshold=0.4, memory_bytes=1 << 20)
    np.save(tmp_path / "x.npy", x)
    for arg in (x, str(tmp_path / "x.npy")):
        many = neighbour_pairs_distributed(arg, threshold=0.4, shards=5, memory_bytes=1 << 20)
        np.testing.assert_array_equal(many.i, one.i)
        np.testing.assert_array_equal(many.j, one.j)
        np.testing.assert_array_equal(many.dist, one.dist)
    with pytest.raises(ConfigError, match="row_range"):
        neighbour_pairs(x, threshold=0.4, row_range=(5, x.shape[0] + 1))
