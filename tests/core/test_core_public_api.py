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


@pytest.mark.parametrize("argv, cli, api", [
    (["restore", "--method", "lq", "--testset", "t", "--out", "o"], "restore", "bfrbench.methods.runner:restore"),
    (["align", "--src", "s", "--out", "o"], "align", "bfrbench.faces.align:align_folder"),
    (["build", "testset", "--src", "s", "--out", "o"], "build_testset",
     "bfrbench.testset:build_testset_with_references"),
])
def test_cli_forwards_only_given_flags_so_api_defaults_apply(argv: list[str], cli: str, api: str) -> None:
    import importlib
    import inspect

    from bfrbench.cli import build_parser, given

    args = build_parser().parse_args(argv)
    module = importlib.import_module(f"bfrbench.cli.{cli}")
    assert given(args, *module.API_PARAMS) == {}  # nothing the user left out is repeated by the CLI
    mod, name = api.split(":")
    params = inspect.signature(getattr(importlib.import_module(mod), name)).parameters
    assert set(module.API_PARAMS) <= set(params)  # every forwarded flag is a parameter of the API function
    full = build_parser().parse_args(argv + ["--workers", "2", "--limit" if argv[0] != "align" else "--size", "3"])
    assert given(full, *module.API_PARAMS) == {"workers": 2, "limit" if argv[0] != "align" else "size": 3}
