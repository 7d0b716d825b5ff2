"""Build hook: ship the top-level data folders inside the package.

``datasets_build/`` (degradation presets, protocols, examples) and ``leaderboards/`` (published suites) are
the source of truth at the top of the checkout. Building a wheel copies them to ``bfrbench/_data/`` in the
build tree, where :func:`bfrbench._resources.data_root` finds them with ``importlib.resources``. Editable
installs read the checkout directly and copy nothing. Everything else lives in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("datasets_build", "leaderboards")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.tmp")


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        here = Path(__file__).resolve().parent
        for folder in DATA_FOLDERS:
            src = here / folder
            if not src.is_dir():
                raise SystemExit(f"setup.py: {src} is missing (an sdist must include it: see MANIFEST.in)")
            dst = Path(self.build_lib) / "bfrbench" / "_data" / folder
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(src, dst, ignore=SKIP)


setup(cmdclass={"build_py": BuildPyWithData})
