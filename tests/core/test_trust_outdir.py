"""Issue 10, bullet 3: --out never equals or lies inside an input, and one writer per output folder.

Accidents reproduced: ``restore --out TESTSET/lq`` (and hq, and the test set itself), evaluate into the
run folder, align/build/fid-stats/refgroups writing into their --src, and two restores sharing one --out
(the second process is a real one holding the lock through the same code path).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from trust_helpers import snapshot

from bfrbench.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("sub", ["lq", "hq", "", "lq/deeper"])
def test_restore_refuses_out_inside_the_testset(trust_ts: Path, tmp_path: Path, sub: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(tmp_path)
    out = trust_ts / sub if sub else trust_ts
    assert main(["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"--out {str(out)!r} {'is' if not sub else 'is inside'} --testset {str(trust_ts)!r}" in err
    assert "outputs must not overwrite or mix with inputs" in err
    assert snapshot(tmp_path) == before


def test_every_command_refuses_out_inside_its_inputs(trust_ts: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(run)]) == 0
    src = trust_ts.parent.parent / "src"
    src.mkdir()
    (src / "a.png").write_bytes((trust_ts / "hq" / "face0.png").read_bytes())
    before = snapshot(tmp_path)
    cases = [
        (["evaluate", "--testset", str(trust_ts), "--restored", str(run), "--out", str(run), "--metrics", "psnr"], "--restored"),
        (["evaluate", "--testset", str(trust_ts), "--restored", str(run), "--out", str(trust_ts / "e")], "--testset"),
        (["align", "--src", str(src), "--out", str(src / "aligned")], "--src"),
        (["build", "testset", "--preset", "gfpgan", "--src", str(src), "--out", str(src)], "--src"),
        (["fid-stats", "--src", str(src), "--out", str(src / "stats.npz")], "--src"),
        (["build", "refgroups", "--src", str(src), "--out", str(src / "rg"), "--embedder", "dlib"], "--src"),
        (["build", "refgroups", "--src", str(src), "--pool", str(run), "--out", str(run / "rg"), "--embedder", "dlib"], "--pool"),
    ]
    for argv, label in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert f"{label} " in err and "outputs must not overwrite or mix with inputs" in err, (argv, err)
    assert snapshot(tmp_path) == before


def _holder(out: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    code = ("import sys, time\nfrom bfrbench.io.outdir import output_lock\n"
            f"with output_lock({str(out)!r}, 'bfrbench restore --method bicubic'):\n"
            "    print('held', flush=True)\n    time.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


def test_second_writer_is_refused_while_another_process_holds_the_folder(
        trust_ts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    holder = _holder(out)
    try:
        before = snapshot(tmp_path)
        assert main(["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert (f"{out}: another bfrbench command is writing this folder: pid {holder.pid} on {socket.gethostname()} "
                "(bfrbench restore --method bicubic)") in err and "use another --out" in err
        assert main(["evaluate", "--testset", str(trust_ts), "--restored", str(trust_ts / "lq"), "--out", str(out),
                     "--metrics", "psnr"]) == 1
        assert f"pid {holder.pid}" in capsys.readouterr().err
        assert snapshot(tmp_path) == before and not list(out.glob("*.png"))
    finally:
        holder.kill()
        holder.wait()
    # the holder died without releasing: its lock is stale and the next writer takes it over with a note
    lock = json.loads((out / ".bfrbench.lock").read_text())
    assert lock["pid"] == holder.pid
    assert main(["restore", "--method", "lq", "--testset", str(trust_ts), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"took over a stale lock (pid {holder.pid} on {socket.gethostname()}" in err and "no longer running" in err
    assert not (out / ".bfrbench.lock").exists()  # released at the end
    run = json.loads((out / "run.json").read_text())
    assert run["method"] == "lq" and run["counts"]["ok"] == 3


def test_lock_held_on_another_host_is_never_taken_over(tmp_path: Path) -> None:
    from bfrbench.io.outdir import OutputLockedError, output_lock

    (tmp_path / "o").mkdir()
    (tmp_path / "o" / ".bfrbench.lock").write_text(json.dumps(
        {"pid": 1, "host": "other-node", "command": "bfrbench evaluate", "started": "2026-01-01T00:00:00Z"}))
    with pytest.raises(OutputLockedError, match="pid 1 on other-node \\(bfrbench evaluate\\)"), \
            output_lock(tmp_path / "o", "x"):
        pass
