"""bfrbench.artifacts: one reader for every artifact JSON, checking kind and required keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from bfrbench.artifacts import REQUIRED_KEYS, read_artifact, read_json_file
from bfrbench.errors import ArtifactError, ConfigError
from bfrbench.io import atomic_write_json


def test_read_artifact_checks_kind_and_required_keys(tmp_path: Path) -> None:
    run = {"kind": "run", "format_version": 1, "method": "lq", "images": {"a": {"sha256": "0" * 64}}}
    atomic_write_json(tmp_path / "run.json", run)
    assert read_artifact(tmp_path / "run.json", "run") == run
    assert read_artifact(tmp_path, "run")["images"]["a"]["sha256"] == "0" * 64  # folder: the kind's file name
    assert read_artifact(tmp_path / "run.json", ("evaluation", "run"))["method"] == "lq"
    with pytest.raises(ArtifactError, match=r"run\.json: expected kind 'testset', found 'run'"):
        read_artifact(tmp_path / "run.json", "testset")
    atomic_write_json(tmp_path / "run.json", {k: v for k, v in run.items() if k != "images"})
    with pytest.raises(ArtifactError, match=r"run\.json: run file lacks required key\(s\) images"):
        read_artifact(tmp_path, "run")
    with pytest.raises(ConfigError, match="unknown artifact kind 'runs'"):
        read_artifact(tmp_path, "runs")  # type: ignore[call-overload]
    assert set(REQUIRED_KEYS) == {"testset", "run", "evaluation", "leaderboard-results", "leaderboard-index"}


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"summary\.json: missing"):
        read_artifact(tmp_path / "summary.json", "evaluation")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ArtifactError, match=r"bad\.json: unreadable JSON"):
        read_json_file(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ArtifactError, match=r"bad\.json: must hold a JSON object, found list"):
        read_artifact(bad, "testset")


def test_published_results_and_demo_artifacts_pass_the_schema() -> None:
    from bfrbench.leaderboard.suite import suites_root

    res = read_artifact(suites_root() / "demo" / "results.json", "leaderboard-results")
    assert res["rows"] and res["content_sha256"]
