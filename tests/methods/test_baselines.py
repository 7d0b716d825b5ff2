import numpy as np
import pytest

from bfrbench.errors import ConfigError, MethodError
from bfrbench.methods import METHODS
from bfrbench.methods.baselines import bicubic_down_up


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def test_lq_is_identity_and_a_copy(astronaut_face):
    batch = np.stack([astronaut_face, astronaut_face[::-1]])
    out = METHODS.create("lq").restore(batch, seeds=[0, 1])
    assert out.shape == batch.shape and out.dtype == np.uint8
    assert np.array_equal(out, batch) and out is not batch


def test_bicubic_uses_manifest_scale_and_option(astronaut_face):
    r = METHODS.create("bicubic")
    batch = astronaut_face[None]
    out4 = r.restore(batch, seeds=[0], context=[{"id": "a", "scale": 4.0}])
    out2 = r.restore(batch, seeds=[0], context=[{"id": "a", "scale": 2.0}])
    # a larger factor loses more detail
    assert _psnr(out2[0], astronaut_face) > _psnr(out4[0], astronaut_face) + 2
    assert np.array_equal(out4[0], bicubic_down_up(astronaut_face, 4.0))
    forced = METHODS.create("bicubic", scale=2.0).restore(batch, seeds=[0], context=[{"id": "a", "scale": 4.0}])
    assert np.array_equal(forced, out2)


def test_bicubic_without_scale_is_a_clear_error(astronaut_face):
    with pytest.raises(MethodError, match="no 'scale'.*`options` scale=4"):
        METHODS.create("bicubic").restore(astronaut_face[None], seeds=[0], context=[{"id": "x", "scale": None}])
    with pytest.raises(ConfigError, match="scale must be a number > 0"):
        METHODS.create("bicubic", scale=-1.0)


def test_classical_denoises_real_noise(astronaut_face):
    rng = np.random.default_rng(3)
    noisy = np.clip(np.rint(astronaut_face + 20.0 * rng.standard_normal(astronaut_face.shape)), 0, 255).astype(np.uint8)
    out = METHODS.create("classical").restore(noisy[None], seeds=[0])[0]
    before, after = _psnr(noisy, astronaut_face), _psnr(out, astronaut_face)
    assert after > before + 3, (before, after)
    # the unsharp mask increases high-frequency energy over plain NLM
    plain = METHODS.create("classical", sharpen_amount=0.0).restore(noisy[None], seeds=[0])[0]
    lap = lambda x: np.abs(np.diff(x.astype(np.float64), axis=1)).mean()  # noqa: E731
    assert lap(out) > lap(plain)


def test_classical_rejects_even_windows():
    with pytest.raises(ConfigError, match="template_window must be an odd integer"):
        METHODS.create("classical", template_window=6)


def test_baselines_check_batch_shape():
    with pytest.raises(MethodError, match=r"expected a \(B, 512, 512, 3\) uint8 batch"):
        METHODS.create("lq").restore(np.zeros((1, 256, 256, 3), np.uint8))
