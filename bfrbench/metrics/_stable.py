"""Reductions whose result does not depend on thread count, BLAS library or CPU (docs/reproducibility.md).

numpy's ``@``, ``np.cov``, ``np.dot`` and ``np.linalg`` call BLAS/LAPACK, whose summation order changes with
the number of threads and with the CPU's kernel (AVX2, AVX-512, FMA): results then differ in the last bits.
The helpers here use only correctly rounded elementwise IEEE operations (+, -, *, /, sqrt) and
``math.fsum`` (exact sum, rounded once), so the same inputs give the same bits on every machine.

* :func:`exact_nanmean_cov` - column means ignoring NaN, and the sample covariance of the NaN-free rows
  (``np.nanmean`` / ``np.cov(rowvar=False)`` definitions, ``ddof=1``).
* :func:`spd_quad_form` - ``d^T S^-1 d`` for a symmetric positive-definite ``S`` by a Cholesky factorisation
  with exact dot products (equals ``d @ pinv(S) @ d`` when ``S`` is positive definite).
* :func:`round_significant` - round to a number of significant digits (decimal, half-even via ``repr``-exact
  formatting), the policy for values from network forwards.
"""

from __future__ import annotations

import math

import numpy as np

#: significant digits kept for values that come out of a network forward (float32 convolutions and matrix
#: products whose summation order depends on threads and CPU): float32 carries about 7.2 digits, the last of which
#: such reorderings change (docs/reproducibility.md)
NETWORK_DIGITS = 6

__all__ = ["NETWORK_DIGITS", "exact_nanmean_cov", "spd_quad_form", "round_significant", "fsum_rows"]


def fsum_rows(x: np.ndarray) -> np.ndarray:
    """Exact sums along the last axis of a float64 array (n, m) -> (n,), each rounded once."""
    x = np.asarray(x, np.float64)
    return np.array([math.fsum(row) for row in x.reshape(-1, x.shape[-1])], np.float64).reshape(x.shape[:-1])


def exact_nanmean_cov(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Column nan-means of ``feats`` and the covariance of its NaN-free rows.

    Args:
        feats: (n, d) float64.

    Returns:
        mean (d,) float64 (NaN for an all-NaN column) and cov (d, d) float64, or None when fewer than two rows
        are NaN-free.
    """
    feats = np.asarray(feats, np.float64)
    d = feats.shape[1]
    mean = np.empty(d, np.float64)
    for j in range(d):
        col = feats[:, j]
        col = col[~np.isnan(col)]
        mean[j] = math.fsum(col) / col.size if col.size else np.nan
    ok = feats[~np.isnan(feats).any(axis=1)]
    n = ok.shape[0]
    if n < 2:
        return mean, None
    mu_ok = fsum_rows(ok.T) / n
    c = (ok - mu_ok).T  # (d, n), elementwise
    cov = np.empty((d, d), np.float64)
    for i in range(d):
        for j in range(i, d):
            cov[i, j] = cov[j, i] = math.fsum(c[i] * c[j]) / (n - 1)
    return mean, cov


def spd_quad_form(s: np.ndarray, d: np.ndarray) -> float:
    """``d^T S^-1 d`` for symmetric positive-definite ``S`` (k, k) and ``d`` (k,), machine-independent.

    Cholesky ``S = L L^T`` column by column with exact (``math.fsum``) dot products, then ``y = L^-1 d`` by
    forward substitution and ``|y|^2``. Returns NaN when ``S`` is not numerically positive definite.
    """
    s = np.asarray(s, np.float64)
    d = np.asarray(d, np.float64)
    k = s.shape[0]
    L = np.zeros((k, k), np.float64)
    for j in range(k):
        diag = s[j, j] - math.fsum(L[j, :j] * L[j, :j])
        if not diag > 0:
            return float("nan")
        L[j, j] = math.sqrt(diag)
        for i in range(j + 1, k):
            L[i, j] = (s[i, j] - math.fsum(L[i, :j] * L[j, :j])) / L[j, j]
    y = np.zeros(k, np.float64)
    for i in range(k):
        y[i] = (d[i] - math.fsum(L[i, :i] * y[:i])) / L[i, i]
    return math.fsum(y * y)


def round_significant(x: float, digits: int) -> float:
    """``x`` rounded to ``digits`` significant decimal digits (non-finite values unchanged).

    Formatting with ``%.{digits-1}e`` is correctly rounded in CPython (round-half-even on the exact binary value),
    so the result depends only on ``x`` and ``digits``.
    """
    if not math.isfinite(x) or x == 0.0:
        return float(x)
    return float(f"{x:.{digits - 1}e}")
