"""Exit statuses of ``leaderboard run|render|list``, ``validate`` and ``verify`` (README "Exit status")."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bfrbench import exitcodes
from bfrbench.cli import main


def test_exit_code_constants() -> None:
    assert (exitcodes.EXIT_OK, exitcodes.EXIT_ERROR, exitcodes.EXIT_USAGE, exitcodes.EXIT_SOME_FAILED) == (0, 1, 2, 3)
    assert exitcodes.status_for([]) == 0 and exitcodes.status_for(["x"]) == 3 and exitcodes.status_for(2) == 3


def test_leaderboard_run_partial_failure_is_3_and_clean_run_is_0(toy_suite: Path, fake: Any, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    import bfrbench.leaderboard.run as run_mod

    def restore(method: str, testset: Path, out: Path, **kw: Any) -> None:
        if kw["options"].get("alpha") == 0.8:
            raise RuntimeError("planted failure")
        fake.restore(method, testset, out, **kw)

    monkeypatch.setattr(run_mod, "default_pipeline", lambda: replace(fake.pipeline(), restore=restore))
    assert main(["leaderboard", "run", str(toy_suite), "--no-render"]) == exitcodes.EXIT_SOME_FAILED
    assert "1 failed" in capsys.readouterr().err
    monkeypatch.setattr(run_mod, "default_pipeline", fake.pipeline)
    assert main(["leaderboard", "run", str(toy_suite), "--no-render"]) == exitcodes.EXIT_OK


def test_usage_and_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["leaderboard", "run", str(tmp_path / "no-such-suite")]) == exitcodes.EXIT_ERROR
    assert "no such suite" in capsys.readouterr().err
    assert main(["leaderboard"]) == exitcodes.EXIT_USAGE
    assert main(["verify", str(tmp_path / "missing.json")]) == exitcodes.EXIT_ERROR
    assert "missing" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "nothing-here")]) == exitcodes.EXIT_ERROR
