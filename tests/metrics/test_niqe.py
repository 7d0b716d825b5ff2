"""NIQE: packaged parameters, MATLAB resize, parity with pyiqa's NIQE given the same parameters."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_helpers import degrade, face_images

from bfrbench.metrics.niqe import PRISTINE_SHA256, load_pristine_params, matlab_resize_matrix, niqe, niqe_pyiqa


def test_pristine_params_are_the_basicsr_file() -> None:
    import hashlib
    from importlib import resources

    data = resources.files("bfrbench.metrics").joinpath("data/niqe_pris_params.npz").read_bytes()
    assert hashlib.sha256(data).hexdigest() == PRISTINE_SHA256
    mu, cov, win = load_pristine_params()
    assert mu.shape == (36,) and cov.shape == (36, 36) and win.shape == (7, 7)
    assert np.allclose(cov, cov.T) and win.sum() == pytest.approx(1.0)


def test_matlab_resize_matches_pyiqa_imresize() -> None:
    torch = pytest.importorskip("torch")
    from pyiqa.matlab_utils import imresize

    x = np.random.default_rng(0).random((96, 80))
    ours = matlab_resize_matrix(96, 0.5) @ x @ matlab_resize_matrix(80, 0.5).T
    ref = imresize(torch.from_numpy(x)[None, None], scale=0.5, antialiasing=True)[0, 0].numpy()
    assert ours.shape == (48, 40)
    np.testing.assert_allclose(ours, ref, atol=1e-6)


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    hq = face_images(2, 192)
    return [hq[0], degrade(hq[1], 4)]


def test_niqe_parity_with_pyiqa_same_params(images: list[np.ndarray]) -> None:
    ours = np.array([niqe(im, variant="matlab") for im in images])  # pyiqa computes in float64 too
    ref_ycbcr = niqe_pyiqa(images, color_space="ycbcr")
    rel = np.abs(ours - ref_ycbcr) / ref_ycbcr
    assert np.all(rel < 0.015), (ours, ref_ycbcr)  # measured 0.07-0.74% on 512 px faces (docs/metrics/niqe.md)
    # blur raises NIQE in both implementations
    assert ours[1] > ours[0] and ref_ycbcr[1] > ref_ycbcr[0]


def test_niqe_small_and_flat_images() -> None:
    from bfrbench.errors import ConfigError

    with pytest.raises(ConfigError, match="at least 96x96"):
        niqe(np.zeros((64, 64, 3), np.uint8))
    assert np.isnan(niqe(np.full((96, 96, 3), 128, np.uint8)))
