"""bfrbench as users install it: build the sdist and wheel, install the wheel into a fresh virtual environment
outside the checkout, and run the smoke test there (presets and suites come from the wheel, not the checkout).

The fresh environment gets bfrbench from the wheel only. Its third-party dependencies are the ones already
installed for the test run, made visible through a ``.pth`` file that points at a folder of links to every
installed distribution except bfrbench itself (so nothing of the checkout or its editable install leaks in);
``pip check`` there proves the wheel's declared dependencies are satisfied by that stack.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_SKIP_TOP = {".venv", ".git", "demo_out", "build", "dist", ".pytest_cache"}
_NOT_DEPS = ("bfrbench", "__editable__", "_bfrbench", "bfrbench_toy")


def _copy_source(dst: Path) -> None:
    """The checkout without its virtualenv, git data and outputs (building writes egg-info into the tree)."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n in ("__pycache__",) or n.endswith((".pyc", ".egg-info"))}
        if Path(folder) == REPO:
            skip |= _SKIP_TOP & set(names)
        skip |= {n for n in names if n == "_data" and Path(folder).name == "bfrbench"}
        return skip
    shutil.copytree(REPO, dst, ignore=ignore, symlinks=True)


def _dependency_farm(farm: Path) -> None:
    """Links to every entry of this interpreter's site-packages except bfrbench's own (wheel or editable)."""
    site = Path(sysconfig.get_paths()["purelib"])
    farm.mkdir()
    for entry in site.iterdir():
        if entry.name.lower().startswith(_NOT_DEPS) or entry.suffix == ".pth":
            continue
        (farm / entry.name).symlink_to(entry)


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} -> {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    src, dist, work = tmp_path / "src", tmp_path / "dist", tmp_path / "work"
    _copy_source(src)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BFRBENCH_LEADERBOARDS",
                                                           "BFRBENCH_RECIPE_PATH")}
    # sdist first, then the wheel built from that sdist (python -m build's default): MANIFEST.in is tested too
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(src)], tmp_path, env)
    wheels, sdists = list(dist.glob("bfrbench-*.whl")), list(dist.glob("bfrbench-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1

    venv.EnvBuilder(with_pip=True).create(tmp_path / "venv")
    py = tmp_path / "venv" / "bin" / "python"
    _dependency_farm(tmp_path / "deps")
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "bfrbench_test_deps.pth").write_text(str(tmp_path / "deps") + "\n")
    # ensurepip's own old setuptools would shadow the stack's (torch declares setuptools>=77)
    _run([str(py), "-m", "pip", "uninstall", "-q", "-y", "setuptools"], tmp_path, env)
    _run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheels[0])], tmp_path, env)
    _run([str(py), "-m", "pip", "check"], tmp_path, env)

    work.mkdir()
    env.update(BFRBENCH_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1", NO_ALBUMENTATIONS_UPDATE="1",
               BFRBENCH_PROGRESS="0", OMP_NUM_THREADS="1")
    where = _run([str(py), "-c", "import bfrbench, bfrbench.degrade as d, bfrbench.leaderboard.suite as s; "
                  "print(bfrbench.__file__); print(','.join(d.list_presets())); print(','.join(s.list_suites()))"],
                 work, env).splitlines()
    assert where[0].startswith(str(tmp_path / "venv")), where[0]      # the wheel, not the checkout
    assert {"gfpgan", "refldm-severe"} <= set(where[1].split(",")), where[1]
    assert {"demo", "ffhq-ref"} <= set(where[2].split(",")), where[2]

    cli = str(tmp_path / "venv" / "bin" / "bfrbench")
    out = _run([cli, "demo", "--out", "demo_out"], work, env, timeout=1200)
    assert "numbers equal to the committed leaderboards/demo/results.json (floats to 1e-6 relative): yes" in out, out
    faces = sorted((work / "demo_out" / "work" / "source").glob("*/aligned"))
    assert faces, out
    _run([cli, "build", "testset", "--preset", "gfpgan", "--src", str(faces[0]), "--out", "ts", "--limit", "3"],
         work, env)
    _run([cli, "restore", "--method", "bicubic", "--testset", "ts", "--out", "run"], work, env)
    _run([cli, "evaluate", "--testset", "ts", "--restored", "run", "--out", "ev", "--metrics", "psnr:rgb,ssim:rgb"],
         work, env)
    import json

    summary = json.loads((work / "ev" / "summary.json").read_text())
    assert 15.0 < summary["metrics"]["psnr:rgb"]["mean"] < 40.0, summary["metrics"]
