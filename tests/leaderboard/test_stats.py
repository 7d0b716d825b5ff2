"""Statistics: bootstrap CIs (coverage, determinism), paired tests, significance marks, ranks with ties."""

from __future__ import annotations

import numpy as np
import pytest

from bfrbench.errors import ConfigError
from bfrbench.leaderboard import stats


def test_bootstrap_ci_is_seeded_by_key_and_contains_mean() -> None:
    x = np.random.default_rng(1).normal(10, 2, 40)
    a = stats.bootstrap_ci(x, resamples=1000, seed=0, key="m")
    assert a == stats.bootstrap_ci(x, resamples=1000, seed=0, key="m")
    assert a != stats.bootstrap_ci(x, resamples=1000, seed=0, key="other")
    assert a[0] < x.mean() < a[1]
    # standard error of the mean is 2/sqrt(40) ~ 0.32: the 95% interval is about +-1.96 SE wide
    assert 0.9 < (a[1] - a[0]) / (2 * 1.96 * x.std(ddof=1) / np.sqrt(40)) < 1.1


def test_bootstrap_ci_coverage_close_to_95_percent() -> None:
    rng = np.random.default_rng(123)
    hits = 0
    reps = 200
    for r in range(reps):
        x = rng.exponential(1.0, 60)  # skewed, true mean 1
        lo, hi = stats.bootstrap_ci(x, resamples=400, seed=r, key="cov")
        hits += lo <= 1.0 <= hi
    assert 0.88 <= hits / reps <= 0.99


def test_bootstrap_edge_cases() -> None:
    assert stats.bootstrap_ci([3.0]) == (3.0, 3.0)
    lo, hi = stats.bootstrap_ci([np.nan, np.nan])
    assert np.isnan(lo) and np.isnan(hi)
    with pytest.raises(ConfigError):
        stats.bootstrap_ci([1.0, 2.0], resamples=10)
    s = stats.summarize([1.0, 2.0, np.nan, 3.0], resamples=200)
    assert s["n"] == 3 and s["mean"] == 2.0 and s["std"] == 1.0


def test_paired_comparison_detects_planted_shift_and_not_noise() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(25, 3, 50)  # between-image spread is large ...
    b = a + 0.3 + rng.normal(0, 0.1, 50)  # ... but the paired shift is consistent
    res = stats.paired_comparison(a, b, higher_is_better=True, resamples=1000, key="k")
    assert res.significant and res.better is True and res.mark == "**"
    assert res.ci95[0] < 0.3 < res.ci95[1] and abs(res.delta - 0.3) < 0.05
    worse = stats.paired_comparison(a, b, higher_is_better=False, resamples=1000, key="k")
    assert worse.better is False and worse.significant
    noise = stats.paired_comparison(a, a + rng.normal(0, 0.1, 50) - 0.0, higher_is_better=True, resamples=1000)
    assert noise.p_wilcoxon > 0.01 or noise.p_bootstrap > 0.01
    same = stats.paired_comparison(a, a, higher_is_better=True)
    assert same.p_bootstrap == 1.0 and same.p_wilcoxon == 1.0 and not same.significant and same.better is None


def test_paired_drops_nan_pairs_and_checks_lengths() -> None:
    a = np.array([1.0, 2.0, np.nan, 4.0])
    b = np.array([1.5, np.nan, 3.0, 4.5])
    assert stats.paired_comparison(a, b, higher_is_better=True, resamples=200).n == 2
    with pytest.raises(ConfigError):
        stats.paired_bootstrap([1.0, 2.0], [1.0])


def test_significance_marks() -> None:
    assert stats.significance_mark(0.001) == "**"
    assert stats.significance_mark(0.02) == "*"
    assert stats.significance_mark(0.2) == ""
    assert stats.significance_mark(float("nan")) == ""


def test_rank_with_ties() -> None:
    assert stats.rank_with_ties([30.0, 28.0, 28.0, 25.0], higher_is_better=True) == [1, 2, 2, 4]
    assert stats.rank_with_ties([0.2, 0.1, None, 0.1], higher_is_better=False) == [3, 1, None, 1]
    assert stats.rank_with_ties([1.00000001, 1.0], higher_is_better=True, decimals=4) == [1, 1]
