"""Issue 15, item 4: every subcommand's exit statuses follow bfrbench/exitcodes.py and the README's table.

Each leaf subcommand (walked from the real parser, so a new command without a case here fails) is run
in-process with an input error: status ``EXIT_ERROR`` and exactly one ``bfrbench: error:`` line on stderr,
no traceback, and no backquoted library parameter left (the CLI shows flags). Cheap partial failures give
``EXIT_SOME_FAILED`` and the README's status-3 row must name each such command; cheap successes give
``EXIT_OK``; a command group without its action gives ``EXIT_USAGE``.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from trust_helpers import face

from bfrbench import exitcodes
from bfrbench.cli import build_parser, main
from bfrbench.exitcodes import EXIT_ERROR, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE

README = Path(__file__).resolve().parents[2] / "README.md"
PARAM_LEFT = re.compile(r"`[a-z][a-z0-9_]*(=[^` ]*)?`")  # a library parameter the CLI failed to turn into a flag

#: commands that read no user input: their only failure mode is a bad command line (status 2)
NO_INPUT = {"env", "leaderboard list", "methods list", "metrics list"}
# {m}: a path that does not exist; {t}: a fresh output folder root; {ts}: a real 3-image test set
ERROR_CASES: dict[str, list[str]] = {
    "align": ["--src", "{m}", "--out", "{t}/a"],
    "build testset": ["--preset", "gfpgan", "--src", "{m}", "--out", "{t}/b"],
    "build refgroups": ["--src", "{m}", "--out", "{t}/g", "--embedder", "dlib"],
    "restore": ["--method", "lq", "--testset", "{m}", "--out", "{t}/r"],
    "finetune dtbfr": ["--lq", "{m}", "--out", "{t}/f"],
    "evaluate": ["--testset", "{m}", "--restored", "{m}", "--out", "{t}/e"],
    "fid-stats": ["--src", "{m}", "--out", "{t}/s.npz"],
    "weights list": ["nosuchweight"],
    "weights fetch": ["nosuchweight"],
    "weights verify": ["nosuchweight"],
    "weights import": ["nosuchweight", "{m}"],
    "weights path": ["nosuchweight"],
    "leaderboard run": ["{m}"],
    "leaderboard render": ["{m}"],
    "verify": ["{m}/results.json"],
    "regress": ["--baseline", "{m}/a.json", "--candidate", "{m}/b.json"],
    "validate": ["{m}"],
    "demo": ["--suite", "{m}", "--out", "{t}/d"],
    "train clrface": ["--stage", "autoencoder", "--faces", "{m}", "--recipe", "gfpgan", "--out", "{t}/c"],
}


def _leaf_commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    out: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _leaf_commands(sub, f"{prefix} {name}".strip())
    return out or [prefix]


def _groups(parser: argparse.ArgumentParser) -> list[str]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [n for n, p in sub.choices.items() if any(isinstance(a, argparse._SubParsersAction) for a in p._actions)]


def _readme_statuses() -> dict[int, str]:
    """{status: meaning} from the README's "## Exit status" table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Exit status", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section, re.M)
    assert rows, "README's Exit status section has no table"
    return {int(s): meaning for s, meaning in rows}


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("bfrbench: error:")]
    assert len(lines) == 1, err
    assert not PARAM_LEFT.search(lines[0]), lines[0]
    return lines[0]


def test_every_subcommand_has_an_error_case() -> None:
    leaves = set(_leaf_commands(build_parser()))
    assert leaves == set(ERROR_CASES) | NO_INPUT, sorted(leaves ^ (set(ERROR_CASES) | NO_INPUT))


def test_readme_table_matches_exitcodes() -> None:
    statuses = _readme_statuses()
    consts = {getattr(exitcodes, n) for n in exitcodes.__all__ if n.startswith("EXIT_")}
    assert set(statuses) == consts
    leaves = set(_leaf_commands(build_parser()))
    named = re.findall(r"`([a-z][a-z -]*)`", statuses[EXIT_SOME_FAILED])
    for cmd in named:  # every command the status-3 row names exists (``weights fetch`` / ``verify`` ...)
        assert cmd in leaves or cmd.split()[0] in {c.split()[0] for c in leaves}, cmd


@pytest.mark.parametrize("command", sorted(ERROR_CASES))
def test_input_error_is_one_line_and_status_1(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = command.split() + [a.format(m=tmp_path / "missing", t=tmp_path / "out") for a in ERROR_CASES[command]]
    assert main(argv) == EXIT_ERROR
    line = _one_error_line(capsys.readouterr().err)
    assert str(tmp_path / "missing") in line or "'nosuchweight'" in line, line  # it names the bad input


def _assert_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse refuses the command line
        status = int(exc.code or 0)
    assert status == EXIT_USAGE, argv
    assert "Traceback" not in capsys.readouterr().err


def test_bad_command_line_and_bare_groups_are_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    for group in _groups(parser):
        _assert_usage([group], capsys)
    for argv in (["nosuchcommand"], ["restore", "--method", "lq"], *([*c.split(), "--nosuchflag"] for c in NO_INPUT)):
        _assert_usage(argv, capsys)
    assert "command line" in _readme_statuses()[EXIT_USAGE] and "group" in _readme_statuses()[EXIT_USAGE]


@pytest.fixture()
def src(tmp_path: Path) -> Path:
    from bfrbench.io import write_png

    for i in range(2):
        write_png(tmp_path / "src" / f"face{i}.png", face(i, size=256))
    return tmp_path / "src"


def _status_3(command: str) -> None:
    row = _readme_statuses()[EXIT_SOME_FAILED]
    assert f"`{command}`" in row, f"README's status-3 row does not name `{command}`"


def _partial_build_testset(tmp_path: Path, src: Path, ts: Path) -> list[str]:
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
    return ["build", "testset", "--preset", "gfpgan", "--src", str(src), "--out", str(tmp_path / "b")]


def _partial_restore(tmp_path: Path, src: Path, ts: Path) -> list[str]:
    (ts / "lq" / "face1.png").write_bytes((ts / "lq" / "face0.png").read_bytes())  # LQ hash no longer matches
    return ["restore", "--method", "lq", "--testset", str(ts), "--out", str(tmp_path / "r")]


def _partial_evaluate(tmp_path: Path, src: Path, ts: Path) -> list[str]:
    run = tmp_path / "r"
    assert main(["restore", "--method", "lq", "--testset", str(ts), "--out", str(run)]) == EXIT_OK
    (run / "face2.png").unlink()
    return ["evaluate", "--testset", str(ts), "--restored", str(run), "--out", str(tmp_path / "e"),
            "--metrics", "psnr"]


def _partial_weights_fetch(tmp_path: Path, src: Path, ts: Path) -> list[str]:
    from bfrbench import weights as W

    return ["weights", "fetch", W.fetchable()[0]]  # offline: the download fails


def _partial_weights_verify(tmp_path: Path, src: Path, ts: Path) -> list[str]:
    from bfrbench import weights as W

    name = "arcface-buffalo_l-w600k_r50"
    f = tmp_path / "w600k_r50.onnx"
    f.write_bytes(b"\0" * 4096)
    assert main(["weights", "import", name, str(f), "--trust-on-first-use"]) == EXIT_OK
    W.cache_path(W.get_weight(name)).write_bytes(b"\1" * 4096)  # the cached file changed after import
    return ["weights", "verify", name]


PARTIAL: dict[str, Callable[[Path, Path, Path], list[str]]] = {
    "build testset": _partial_build_testset,
    "restore": _partial_restore,
    "evaluate": _partial_evaluate,
    "weights fetch": _partial_weights_fetch,
    "weights verify": _partial_weights_verify,
}


@pytest.mark.parametrize("command", sorted(PARTIAL))
def test_partial_failure_is_status_3_and_listed_in_readme(command: str, tmp_path: Path, src: Path, trust_ts: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BFRBENCH_OFFLINE", "1")
    argv = PARTIAL[command](tmp_path, src, trust_ts)
    capsys.readouterr()
    assert main(argv) == EXIT_SOME_FAILED
    err = capsys.readouterr().err
    assert "Traceback" not in err and not PARAM_LEFT.search(err), err
    _status_3(command)


SUCCESS: dict[str, list[str]] = {
    "build testset": ["build", "testset", "--preset", "gfpgan", "--src", "{src}", "--out", "{t}/b", "--seed", "3"],
    "restore": ["restore", "--method", "lq", "--testset", "{ts}", "--out", "{t}/r"],
    "methods list": ["methods", "list"],
    "metrics list": ["metrics", "list"],
    "weights list": ["weights", "list", "--no-hash"],
    "weights verify": ["weights", "verify"],
    "leaderboard list": ["leaderboard", "list"],
    "validate": ["validate", "gfpgan"],
    "env": ["env", "--json"],
}


@pytest.mark.parametrize("command", sorted(SUCCESS))
def test_success_is_status_0(command: str, tmp_path: Path, src: Path, trust_ts: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(src=src, t=tmp_path / "out", ts=trust_ts) for a in SUCCESS[command]]
    assert main(argv) == EXIT_OK
    assert "bfrbench: error" not in capsys.readouterr().err


def test_regress_and_verify_statuses(tmp_path: Path, trust_ts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A summary compared with itself: no regression (0); a results file with nothing recorded to re-hash."""
    run, ev = tmp_path / "r", tmp_path / "e"
    assert main(["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(run)]) == EXIT_OK
    assert main(["evaluate", "--testset", str(trust_ts), "--restored", str(run), "--out", str(ev),
                 "--metrics", "psnr"]) == EXIT_OK
    summary = ev / "summary.json"
    assert main(["regress", "--baseline", str(summary), "--candidate", str(summary)]) == EXIT_OK
    assert main(["verify", str(summary)]) == EXIT_ERROR  # not a leaderboard results.json: an input error
    _one_error_line(capsys.readouterr().err)
