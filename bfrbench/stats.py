"""The one bootstrap confidence interval of bfrbench, shared by ``evaluate`` (summary.json) and the leaderboard.

**Percentile bootstrap** of a mean (Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13):
``B`` resamples of the n finite per-image values drawn with replacement; the interval is the (alpha/2,
1-alpha/2) quantiles (numpy's default linear interpolation) of the B resampled means. The generator is
:func:`bfrbench.rng.item_generator` of ``(seed, key, "bootstrap")``, so an interval depends on the values, the
seed and its key only, never on what else is computed or in which order. ``B`` defaults to
:data:`BOOTSTRAP_RESAMPLES` = 2000 (the leaderboard's published setting).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.rng import item_generator

__all__ = ["BOOTSTRAP_GENERATOR", "BOOTSTRAP_RESAMPLES", "bootstrap_ci", "bootstrap_ci_json", "finite_values"]

#: default number of bootstrap resamples B
BOOTSTRAP_RESAMPLES = 2000
#: How the resampling generator is made (recorded in summary.json's provenance).
BOOTSTRAP_GENERATOR = 'numpy PCG64 from bfrbench.rng.item_generator(seed, key, "bootstrap")'


def finite_values(values: Any) -> np.ndarray:
    """``values`` as a flat float64 array with NaN/inf dropped (NaN marks a failed image)."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    return arr[np.isfinite(arr)]


def bootstrap_ci(
    values: Any, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0, key: str = "", alpha: float = 0.05
) -> tuple[float, float]:
    """Percentile-bootstrap (1-alpha) interval of the mean.

    Args:
        values: per-image values, shape (n,), float; non-finite values are dropped.
        resamples: number of bootstrap resamples B (>= 100).
        seed, key: the generator is ``item_generator(seed, key, "bootstrap")``.
        alpha: 0.05 gives the 95% interval.

    Returns:
        (lo, hi); (nan, nan) when no finite value; (x, x) for a single value.

    Raises:
        ConfigError: ``resamples`` < 100 or ``alpha`` outside (0, 1).
    """
    if resamples < 100:
        raise ConfigError(f"bootstrap resamples must be >= 100, got {resamples}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha}")
    x = finite_values(values)
    if x.size == 0:
        return (float("nan"), float("nan"))
    if x.size == 1:
        return (float(x[0]), float(x[0]))
    rng = item_generator(seed, key, "bootstrap")
    idx = rng.integers(0, x.size, size=(resamples, x.size))
    means = x[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def bootstrap_ci_json(
    values: Any, *, seed: int = 0, key: str = "", resamples: int = BOOTSTRAP_RESAMPLES, alpha: float = 0.05
) -> list[float | None]:
    """:func:`bootstrap_ci` as a JSON-ready ``[lo, hi]``, ``[None, None]`` when there is no finite value."""
    lo, hi = bootstrap_ci(values, resamples=resamples, seed=seed, key=key, alpha=alpha)
    return [None, None] if np.isnan(lo) else [lo, hi]
