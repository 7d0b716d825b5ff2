"""Fixtures for the ReF-LDM tests: the official tiny golden data in ../shared/fixtures/refldm/ (never copied)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def refldm_dir(shared_fixtures: Path) -> Path:
    d = shared_fixtures / "refldm"
    if not d.is_dir():
        pytest.skip(f"ReF-LDM fixtures not found at {d}")
    return d


@pytest.fixture(scope="session")
def tiny_cfg(refldm_dir: Path) -> Any:
    from bfrbench.methods.refldm.model import load_config

    return load_config(refldm_dir / "tiny_refldm_config.json")


@pytest.fixture(scope="session")
def tiny_model(refldm_dir: Path, tiny_cfg: Any) -> Any:
    """The tiny LatentDiffusion loaded through the strict loader (EMA UNet), float32, eval."""
    from bfrbench.methods.refldm.loading import load_model

    model, notes = load_model(tiny_cfg, refldm_dir / "tiny_refldm_weights.safetensors")
    assert notes == []
    return model


@pytest.fixture(scope="session")
def unet_io(refldm_dir: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(refldm_dir / "tiny_refldm_unet_io.safetensors"))


@pytest.fixture(scope="session")
def ddim_io(refldm_dir: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(refldm_dir / "tiny_refldm_ddim_io.safetensors"))


@pytest.fixture(scope="session")
def io_meta(refldm_dir: Path) -> dict[str, Any]:
    return json.loads((refldm_dir / "tiny_refldm_io_meta.json").read_text())


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Any:
    """These tiny models are dominated by thread hand-off on the shared 2-core machines: run them on 1 thread
    (restored after each module; results differ from 2 threads only by float re-association)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(params=["einsum", "sdpa"])
def attention_backend(request: pytest.FixtureRequest, tiny_model: Any) -> Any:
    """Runs a test with each attention backend of the shared tiny model, restoring ``einsum`` afterwards."""
    tiny_model.unet.set_attention_backend(request.param)
    yield request.param
    tiny_model.unet.set_attention_backend("einsum")
