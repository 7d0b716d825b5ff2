"""bfrbench.tables.format_table: the one plain-text table formatter of the CLI, demo and regression gate."""

from __future__ import annotations

import pytest

from bfrbench.tables import Column, format_table


def test_widths_alignment_rule_and_stripping() -> None:
    out = format_table(["name", Column("value", ">"), "note"], [("a", 1.5, None), ("long-name", 12, "x")], rule=True)
    assert out.splitlines() == [
        "name       value  note",
        "---------  -----  ----",
        "a            1.5",
        "long-name     12  x",
    ]


def test_min_and_max_width_and_per_gap_separators() -> None:
    cols = [Column("m", min_width=4), Column("src", max_width=6), "z"]
    out = format_table(cols, [("ab", "abcdefghij", "q"), ("c", "abc", "")], sep=(" ", " | "))
    assert out.splitlines() == ["m    src    | z", "ab   abc... | q", "c    abc    |"]


def test_evaluate_table_keeps_its_layout() -> None:
    from bfrbench.cli.evaluate import format_table as evaluate_table

    summary = {"metrics": {"psnr:rgb": {"mean": 30.0, "ci95": [29.0, 31.0], "n": 4, "higher_is_better": True}},
               "set_metrics": {"fid:clean-hq": {"value": None, "n": 1, "higher_is_better": False, "error": "too few"}},
               "counts": {"scored": 4, "expected": 5, "missing": 1, "extra": 0, "with_errors": 1}}
    assert evaluate_table(summary).splitlines() == [
        "metric                       mean                  95% CI      n  better",
        "psnr:rgb                  30.0000      [29.0000, 31.0000]      4  higher",
        "fid:clean-hq                  n/a                              1  lower  (too few)",
        "images: 4 scored of 5 expected; 1 missing, 0 extra, 1 with errors",
    ]


def test_bad_shapes_are_errors() -> None:
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        format_table(["a", "b", "c"], [(1, 2)])
    with pytest.raises(ValueError, match="1 separators for 3 columns"):
        format_table(["a", "b", "c"], [], sep=[" "])
