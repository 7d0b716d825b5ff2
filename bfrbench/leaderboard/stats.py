"""Statistics for leaderboards: bootstrap confidence intervals, paired comparisons, ranks with ties.

Definitions (also in ``docs/leaderboard.md``):

* **Bootstrap 95% CI** of a mean: :func:`bfrbench.stats.bootstrap_ci` (re-exported here), the one
  implementation ``evaluate`` uses too. The leaderboard keys its generator by ``"<testset>/<method>/<metric>"``
  so a row's interval does not depend on which other rows exist or their order.
* **Paired bootstrap** of two methods on the same images: resample image indices, recompute the mean of the
  per-image differences d_i = b_i - a_i; the CI is the percentile interval and the two-sided p-value is
  ``min(1, 2 * min(P*(mean* <= 0), P*(mean* >= 0)))`` with the add-one correction (Davison & Hinkley 1997, 4.4).
* **Wilcoxon signed-rank** test on d_i (``scipy.stats.wilcoxon``, two-sided, zero differences dropped with the
  default "wilcox" method); all-zero differences give p = 1.
* **Significance mark**: ``"**"`` when p < alpha/10, ``"*"`` when p < alpha, else ``""`` for the larger of the
  two p-values (both tests must agree).
* **Ranks with ties**: standard competition ranking ("1224") on values rounded to ``decimals``.

All functions take float arrays of shape (n,) and ignore NaN pairs (NaN marks a failed image).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.rng import item_generator
from bfrbench.stats import BOOTSTRAP_RESAMPLES, bootstrap_ci, finite_values

__all__ = [
    "bootstrap_ci",
    "PairedResult",
    "paired_comparison",
    "paired_bootstrap",
    "wilcoxon_p",
    "significance_mark",
    "rank_with_ties",
    "summarize",
]


_clean = finite_values  # NaN pairs are dropped before every statistic


def summarize(values: Any, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0, key: str = "", alpha: float = 0.05) -> dict[str, Any]:
    """``{mean, std, n, ci95}`` of per-image values (NaN dropped; std with ddof=1, 0 for n < 2)."""
    x = _clean(values)
    lo, hi = bootstrap_ci(x, resamples=resamples, seed=seed, key=key, alpha=alpha)
    return {
        "mean": float(x.mean()) if x.size else None,
        "std": float(x.std(ddof=1)) if x.size > 1 else 0.0,
        "n": int(x.size),
        "ci95": [lo, hi] if x.size else None,
    }


def _pairs(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    a_arr = np.asarray(a, dtype=np.float64).ravel()
    b_arr = np.asarray(b, dtype=np.float64).ravel()
    if a_arr.shape != b_arr.shape:
        raise ConfigError(f"paired comparison needs equal lengths, got {a_arr.size} and {b_arr.size}")
    ok = np.isfinite(a_arr) & np.isfinite(b_arr)
    return a_arr[ok], b_arr[ok]


def paired_bootstrap(
    a: Any, b: Any, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0, key: str = "", alpha: float = 0.05
) -> tuple[float, tuple[float, float], float]:
    """Mean of d = b - a, its percentile CI and the two-sided bootstrap p-value for mean(d) = 0.

    Args:
        a, b: per-image values of two methods on the same images, shape (n,), aligned by id.

    Returns:
        (delta, (lo, hi), p). With fewer than 2 pairs: (delta or nan, (nan, nan), 1.0).
    """
    x, y = _pairs(a, b)
    d = y - x
    if d.size < 2:
        return (float(d.mean()) if d.size else float("nan"), (float("nan"), float("nan")), 1.0)
    rng = item_generator(seed, key, "paired-bootstrap")
    idx = rng.integers(0, d.size, size=(resamples, d.size))
    means = d[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    if np.all(d == 0):
        return (0.0, (0.0, 0.0), 1.0)
    le = (np.count_nonzero(means <= 0) + 1) / (resamples + 1)
    ge = (np.count_nonzero(means >= 0) + 1) / (resamples + 1)
    return (float(d.mean()), (float(lo), float(hi)), float(min(1.0, 2 * min(le, ge))))


def wilcoxon_p(a: Any, b: Any) -> float:
    """Two-sided Wilcoxon signed-rank p-value of b - a (1.0 when all differences are zero or n < 2)."""
    from scipy.stats import wilcoxon

    x, y = _pairs(a, b)
    d = y - x
    if d.size < 2 or np.all(d == 0):
        return 1.0
    return float(wilcoxon(x, y, zero_method="wilcox", alternative="two-sided").pvalue)


def significance_mark(p: float, alpha: float = 0.05) -> str:
    """``"**"`` for p < alpha/10, ``"*"`` for p < alpha, ``""`` otherwise."""
    if not np.isfinite(p):
        return ""
    return "**" if p < alpha / 10 else "*" if p < alpha else ""


@dataclass(frozen=True)
class PairedResult:
    """Paired comparison of ``b`` against ``a`` on the same images; ``better`` follows the metric direction."""

    delta: float
    ci95: tuple[float, float]
    p_bootstrap: float
    p_wilcoxon: float
    n: int
    significant: bool
    mark: str
    better: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {"delta": self.delta, "ci95": list(self.ci95), "p_bootstrap": self.p_bootstrap,
                "p_wilcoxon": self.p_wilcoxon, "n": self.n, "significant": self.significant, "mark": self.mark,
                "better": self.better}


def paired_comparison(
    a: Any, b: Any, *, higher_is_better: bool, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0, key: str = "",
    alpha: float = 0.05,
) -> PairedResult:
    """Compare method b with method a on the same images: paired bootstrap and Wilcoxon must both reject.

    ``better`` is True when b is better than a (by the metric's direction), None when the difference is zero.
    """
    x, _ = _pairs(a, b)
    delta, ci, p_boot = paired_bootstrap(a, b, resamples=resamples, seed=seed, key=key, alpha=alpha)
    p_w = wilcoxon_p(a, b)
    p = max(p_boot, p_w)
    better = None if not np.isfinite(delta) or delta == 0 else (delta > 0) == higher_is_better
    return PairedResult(delta=delta, ci95=ci, p_bootstrap=p_boot, p_wilcoxon=p_w, n=int(x.size),
                        significant=p < alpha, mark=significance_mark(p, alpha), better=better)


def rank_with_ties(values: Any, *, higher_is_better: bool, decimals: int = 6) -> list[int | None]:
    """Competition ranks (1 = best; equal values after rounding share a rank, next rank skips: 1,2,2,4).

    Args:
        values: shape (k,) floats; None/NaN get rank None.
    """
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    out: list[int | None] = [None] * arr.size
    ok = np.isfinite(arr)
    if not ok.any():
        return out
    r = np.round(arr, decimals)
    key = -r if higher_is_better else r
    for i in np.flatnonzero(ok):
        out[i] = int(np.count_nonzero(key[ok] < key[i]) + 1)
    return out
