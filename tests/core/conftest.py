"""Fixtures for the trust-boundary tests (tests/core/test_trust_*.py): a tiny real test set."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from trust_helpers import face


@pytest.fixture(scope="session")
def trust_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test set built by `bfrbench build testset --preset gfpgan` from 3 faces (ids face0..face2)."""
    from bfrbench.io import write_png
    from bfrbench.testset import build_testset

    root = tmp_path_factory.mktemp("trust")
    for i in range(3):
        write_png(root / "src" / f"face{i}.png", face(i))
    build_testset("gfpgan", root / "src", root / "ts", seed=1)
    return root / "ts"


@pytest.fixture()
def trust_ts(trust_built: Path, tmp_path: Path) -> Path:
    """A private copy of :func:`trust_built` under ``tmp_path/work/ts`` (tests may tamper with it)."""
    dst = tmp_path / "work" / "ts"
    shutil.copytree(trust_built, dst)
    return dst
