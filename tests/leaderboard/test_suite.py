"""suite.yaml loading and validation; the published suites load."""

from __future__ import annotations

from pathlib import Path

import pytest

from bfrbench.errors import ConfigError
from bfrbench.leaderboard.suite import list_suites, load_suite, metric_higher_is_better


def test_toy_suite_loads(toy_suite: Path) -> None:
    s = load_suite(toy_suite / "suite.yaml")
    assert s.name == "toy" and s.main_score == "psnr:rgb" and s.baseline == "lq"
    assert [m.display for m in s.methods] == ["lq", "good", "poor"]
    assert s.methods[1].options == {"alpha": 0.8}
    assert s.statistics["bootstrap_resamples"] == 500 and s.statistics["alpha"] == 0.05
    assert s.reported[0].citation["table"] == "Table 1"
    assert metric_higher_is_better("mae:rgb", s.directions()) is False


@pytest.mark.parametrize("old,new,needle", [
    ("main_score: psnr:rgb", "main_score: ssim:rgb", "main_score"),
    ("table: \"Table 1\", ", "", "citation"),
    ("metrics: [psnr:rgb, mae:rgb, fid:toy]", "metrics: [psnr, mae:rgb]", "metric:variant"),
    ("seed: 0\nbaseline", "seed: 0\ncolour: red\nbaseline", "unknown keys"),
    ("baseline: lq", "baseline: nope", "baseline"),
    ("limit: 12", "limit: -1", "limit"),
    ("statistics: {bootstrap_resamples: 500, seed: 0}", "statistics: {resample: 5}", "statistics"),
])
def test_suite_errors_name_the_problem(toy_suite: Path, old: str, new: str, needle: str) -> None:
    p = toy_suite / "suite.yaml"
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new))
    with pytest.raises(ConfigError, match=needle) as ei:
        load_suite(toy_suite)
    assert str(p) in str(ei.value)


def test_unknown_metric_direction_and_missing_suite(toy_suite: Path) -> None:
    p = toy_suite / "suite.yaml"
    p.write_text(p.read_text().replace('  "mae:rgb": {higher_is_better: false, label: MAE}\n', ""))
    with pytest.raises(ConfigError, match="direction unknown"):
        load_suite(toy_suite)
    with pytest.raises(ConfigError, match="no such suite"):
        load_suite("definitely-not-a-suite")


def test_published_suites_load() -> None:
    names = list_suites()
    assert {"demo", "ffhq-ref"} <= set(names)
    for n in names:
        s = load_suite(n)
        assert s.name == n
        for r in s.reported:
            assert r.citation["paper"] and r.citation["table"] and r.citation["page"]
