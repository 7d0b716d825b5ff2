"""Shared test fixtures: offline environment, paths to ../shared/fixtures, small real images."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("BFRBENCH_PROGRESS", "0")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own BFRBENCH_HOME so caches never leak between tests or into the user's home."""
    monkeypatch.setenv("BFRBENCH_HOME", str(tmp_path_factory.mktemp("bfrbench_home")))


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """``../shared/fixtures`` beside the checkout; tests skip with a reason only where it is absent."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {SHARED_FIXTURES} (they sit beside the checkout in CI)")
    return SHARED_FIXTURES
