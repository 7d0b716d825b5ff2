"""Severity bins and per-subset means on hand-made manifests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bfrbench.leaderboard.breakdown import bin_edges, binned_means, breakdown_table, subset_means


def test_bin_edges_quantiles_and_few_values() -> None:
    assert bin_edges([1, 2, 3, 4, 5, 6], 3) == [1.0, 8 / 3, 13 / 3, 6.0]
    assert bin_edges([10, 10, 30, np.nan], 3) == [10.0, 20.0, 30.0]  # one bin per distinct value
    assert bin_edges([5.0, 5.0], 3) == [5.0, 5.0]
    assert bin_edges([np.nan], 3) is None


def test_binned_means_uses_manifest_parameter() -> None:
    man = pd.DataFrame({"id": list("abcdef"), "sigma_x": [1, 1, 2, 2, 3, None]})
    per = pd.DataFrame({"id": list("abcdef"), "psnr:rgb": [30.0, 32.0, 25.0, 27.0, 20.0, 99.0]})
    bins = binned_means(man, per, "sigma_x", bin_edges(man["sigma_x"], 3), ["psnr:rgb"])
    assert [b["n"] for b in bins] == [2, 2, 1]  # the null-parameter image is left out
    assert [b["mean"]["psnr:rgb"] for b in bins] == [31.0, 26.0, 20.0]


def test_breakdown_table_shares_edges_and_subsets() -> None:
    man = pd.DataFrame({"id": ["a", "b", "c", "d"], "scale": [1.0, 2.0, 3.0, 4.0], "preset": ["x", "x", "y", "y"],
                        "jpeg_quality": [None] * 4})
    per_a = pd.DataFrame({"id": ["a", "b", "c", "d"], "m:v": [1.0, 2.0, 3.0, 4.0]})
    per_b = pd.DataFrame({"id": ["a", "b", "c", "d"], "m:v": [2.0, 2.0, 2.0, np.nan]})
    t = breakdown_table(man, {"A": per_a, "B": per_b}, ["scale", "jpeg_quality", "sigma_x"], ["m:v"], 2)
    assert list(t) == ["scale"]  # all-null and absent parameters are skipped
    assert t["scale"]["edges"] == [1.0, 2.5, 4.0]
    assert [b["mean"]["m:v"] for b in t["scale"]["methods"]["A"]] == [1.5, 3.5]
    assert [b["mean"]["m:v"] for b in t["scale"]["methods"]["B"]] == [2.0, 2.0]
    sub = subset_means(man, per_a, "preset", ["m:v"])
    assert sub == {"x": {"n": 2, "mean": {"m:v": 1.5}}, "y": {"n": 2, "mean": {"m:v": 3.5}}}
