"""Fixtures for the DT-BFR tests: the official golden data in ../shared/fixtures/dtbfr/ (never copied)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def dtbfr_dir(shared_fixtures: Path) -> Path:
    d = shared_fixtures / "dtbfr"
    if not d.is_dir():
        pytest.skip(f"DT-BFR fixtures not found at {d}")
    return d


def read_json(d: Path, name: str) -> Any:
    return json.loads((d / name).read_text())


@pytest.fixture(scope="session")
def dtbfr_json(dtbfr_dir: Path) -> Any:
    """``dtbfr_json("swinir_tiny.json")`` -> the parsed fixture JSON."""
    return lambda name: read_json(dtbfr_dir, name)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Any:
    """Tiny models on the shared 2-core machines: 1 thread (restored after each module)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def swinir_tiny(dtbfr_dir: Path) -> Any:
    """The fixture's tiny SwinIR, built from its JSON config and loaded through the strict loader (eval)."""
    from bfrbench.methods.dtbfr.loading import load_swinir
    from bfrbench.methods.dtbfr.swinir import SwinIRConfig

    cfg = SwinIRConfig.from_dict(read_json(dtbfr_dir, "swinir_tiny.json")["constructor_kwargs"])
    return load_swinir(dtbfr_dir / "swinir_tiny_weights.safetensors", cfg)


@pytest.fixture(scope="session")
def iddpm_tiny(dtbfr_dir: Path) -> Any:
    """The fixture's tiny learned-sigma UNet through the strict loader (eval, float32)."""
    from bfrbench.methods.dtbfr.iddpm import IDDPMConfig
    from bfrbench.methods.dtbfr.loading import load_iddpm

    cfg = IDDPMConfig.from_dict(read_json(dtbfr_dir, "iddpm_tiny.json")["constructor_kwargs"])
    return load_iddpm(dtbfr_dir / "iddpm_tiny_weights.safetensors", cfg)
