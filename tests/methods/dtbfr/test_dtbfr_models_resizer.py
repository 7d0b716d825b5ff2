"""Golden tests: the low-pass filter equals the official ``resizer.py::Resizer`` (not ResizeRight).

Fixture: ../shared/fixtures/dtbfr/resizer.* (official SamsungLabs/DT-BFR at ec3d4043e4d0c610fe7e345448cc1298e132b5dd).
Tolerance (README): matrices to 1e-7 (they come out exact); filtered tensors 1e-6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bfrbench.errors import ConfigError
from bfrbench.methods.dtbfr.resizer import LowPass, resize_matrix


@pytest.fixture(scope="module")
def rz(dtbfr_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(dtbfr_dir / "resizer.safetensors"))


@pytest.mark.parametrize("size,n", [(512, 16), (512, 8), (64, 8)])
def test_dense_matrices(rz: dict[str, torch.Tensor], size: int, n: int) -> None:
    d, u = resize_matrix(size, 1 / n), resize_matrix(size // n, float(n))
    assert d.shape == (size // n, size) and u.shape == (size, size // n)
    np.testing.assert_allclose(d, rz[f"L{size}_N{n}.down_matrix"].double().numpy(), rtol=0, atol=1e-7)
    np.testing.assert_allclose(u, rz[f"L{size}_N{n}.up_matrix"].double().numpy(), rtol=0, atol=1e-7)
    np.testing.assert_allclose(d.sum(1), 1.0, atol=1e-12)
    lp = LowPass(size, n)
    assert torch.equal(lp.D, rz[f"L{size}_N{n}.down_matrix"]) and torch.equal(lp.U, rz[f"L{size}_N{n}.up_matrix"])


def test_forward_outputs(rz: dict[str, torch.Tensor]) -> None:
    lp8 = LowPass(64, 8)
    err = float((lp8.down(rz["x64"]) - rz["x64.resizer_down_N8"]).abs().max())
    assert err <= 1e-6
    assert float((lp8(rz["x64"]) - rz["x64.resizer_updown_N8"]).abs().max()) <= 1e-6
    lp16 = LowPass(512, 16)
    assert float((lp16.down(rz["x512"]) - rz["x512.resizer_down_N16"]).abs().max()) <= 1e-6
    assert float((lp16(rz["x512"]) - rz["x512.resizer_updown_N16"]).abs().max()) <= 1e-6
    # the filter is NOT ResizeRight: their border weights differ visibly
    assert float((lp8(rz["x64"]) - rz["x64.resizeright_updown_N8"]).abs().max()) > 0.01


def test_bad_sizes() -> None:
    with pytest.raises(ConfigError, match="must divide"):
        LowPass(60, 8)
    with pytest.raises(ConfigError, match="expects 64x64"):
        LowPass(64, 8).down(torch.zeros(1, 3, 32, 32))
