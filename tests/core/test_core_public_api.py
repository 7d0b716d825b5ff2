"""Public API functions behind thin CLI commands (validate, env, leaderboard list) and parameter-named errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bfrbench.errors import ArtifactError, ConfigError


def test_validate_recipe_and_folder_errors(tmp_path: Path) -> None:
    from bfrbench.validation import validate

    rep = validate("gfpgan")
    assert rep["kind"] == "recipe" and rep["ok"] and rep["name"] == "gfpgan" and len(rep["samples"]) == 3
    assert rep == validate("gfpgan")  # samples come from seeded generators
    with pytest.raises(ArtifactError, match="no testset.json"):
        validate(tmp_path)


def test_environment_report_and_suite_summaries() -> None:
    from bfrbench.leaderboard.suite import suite_summaries
    from bfrbench.provenance import OPTIONAL_PACKAGES, environment_report

    rec = environment_report()
    assert set(rec["optional_packages"]) == {d for d, _ in OPTIONAL_PACKAGES}
    assert "date" not in rec["environment"] and rec["weights_dir"].endswith("weights")
    demo = next(r for r in suite_summaries() if r["name"] == "demo")
    assert demo["rendered"] and demo["methods"] == ["lq", "bicubic", "classical"]


def test_library_errors_name_parameters_not_flags() -> None:
    from bfrbench.leaderboard.regress import parse_tolerances
    from bfrbench.refgroups.split import parse_split_spec

    with pytest.raises(ConfigError, match=r"^split: ") as e1:
        parse_split_spec("dev=1.0")
    with pytest.raises(ConfigError, match=r"^tolerances: ") as e2:
        parse_tolerances(["psnr"])
    assert "--" not in str(e1.value) and "--" not in str(e2.value)


def test_cli_shows_backquoted_parameters_as_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bfrbench.cli import flags, main
    from bfrbench.methods.runner import restore
    from bfrbench.testset import build_testset

    assert flags("use `device=cpu`; pass `refs_csv` FILE, `unaligned=True`, `verify=False`, `options` scale=4; "
                 "`src`") == "use --device cpu; pass --refs-csv FILE, --unaligned, --no-verify, --option scale=4; --src"
    with pytest.raises(ConfigError, match=r"^`src` ") as e1:
        build_testset("gfpgan", tmp_path / "missing", tmp_path / "out")
    with pytest.raises(ConfigError, match=r"^`testset` ") as e2:
        restore("lq", tmp_path / "missing", tmp_path / "run", unaligned=True)
    assert "--" not in str(e1.value) + str(e2.value)
    assert main(["build", "testset", "--preset", "gfpgan", "--src", str(tmp_path / "missing"), "--out",
                 str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err.startswith("bfrbench: error: --src ")
