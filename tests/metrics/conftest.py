"""Fixtures for the metrics tests (helpers live in metrics_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from metrics_helpers import make_testset


@pytest.fixture()
def small_set(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    return make_testset(tmp_path, 4, size=128)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> object:
    """The CI machine has 2 shared cores: one intra-op thread is ~5x faster there than oversubscribing."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield None
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield None
    torch.set_num_threads(before)
