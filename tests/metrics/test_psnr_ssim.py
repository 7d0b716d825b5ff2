"""PSNR / SSIM parity with scikit-image and pyiqa, variants and crop border."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_helpers import degrade, face_images

from bfrbench.errors import ConfigError
from bfrbench.metrics import create_metric, parse_spec
from bfrbench.metrics._base import ImageItem, Shared
from bfrbench.metrics.psnr_ssim import psnr, rgb_to_y, ssim


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    hq = face_images(1, 128)[0]
    return degrade(hq, 2), hq


def test_psnr_matches_skimage(pair: tuple[np.ndarray, np.ndarray]) -> None:
    from skimage.metrics import peak_signal_noise_ratio

    a, b = pair
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(b, a, data_range=255), rel=1e-12)
    # Y variant equals skimage PSNR on the BT.601 luma planes
    ref_y = peak_signal_noise_ratio(rgb_to_y(b), rgb_to_y(a), data_range=255)
    assert psnr(a, b, y=True) == pytest.approx(ref_y, rel=1e-12)
    assert psnr(a, a) == float("inf")


def test_ssim_matches_skimage_gaussian(pair: tuple[np.ndarray, np.ndarray]) -> None:
    from skimage.metrics import structural_similarity

    a, b = pair
    ref = structural_similarity(b.astype(np.float64), a.astype(np.float64), gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False, data_range=255, channel_axis=2)
    assert ssim(a, b) == pytest.approx(ref, abs=1e-6)
    ref_y = structural_similarity(rgb_to_y(b), rgb_to_y(a), gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False, data_range=255)
    assert ssim(a, b, y=True) == pytest.approx(ref_y, abs=1e-6)
    assert ssim(b, b) == pytest.approx(1.0, abs=1e-12)


def test_psnr_ssim_match_pyiqa(pair: tuple[np.ndarray, np.ndarray]) -> None:
    torch = pytest.importorskip("torch")
    pyiqa = pytest.importorskip("pyiqa")
    a, b = pair
    ta = torch.from_numpy(a).permute(2, 0, 1)[None].double() / 255
    tb = torch.from_numpy(b).permute(2, 0, 1)[None].double() / 255
    cpu = torch.device("cpu")
    # pyiqa's Y defaults to YIQ; BasicSR/MATLAB use YCbCr, which pyiqa offers as color_space="ycbcr"
    p_rgb = pyiqa.create_metric("psnr", device=cpu, as_loss=False)
    p_y = pyiqa.create_metric("psnr", device=cpu, as_loss=False, test_y_channel=True, color_space="ycbcr")
    s_y = pyiqa.create_metric("ssim", device=cpu, as_loss=False, color_space="ycbcr")
    s_rgb = pyiqa.create_metric("ssim", device=cpu, as_loss=False, test_y_channel=False)
    assert psnr(a, b) == pytest.approx(float(p_rgb(ta, tb)), rel=1e-6)
    assert psnr(a, b, y=True) == pytest.approx(float(p_y(ta, tb)), rel=1e-4)  # pyiqa rounds Y to 0..255 integers
    assert ssim(a, b, y=True) == pytest.approx(float(s_y(ta, tb)), abs=2e-3)
    assert ssim(a, b) == pytest.approx(float(s_rgb(ta, tb)), abs=2e-3)


def test_crop_variant_and_metric_class(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    m = create_metric("psnr:y-crop4")
    assert m.spec == "psnr:y-crop4" and m.crop_border == 4 and m.y
    r, h = ImageItem("x", a, "ra"), ImageItem("x", b, "hb")
    vals, errs = m.score_pairs([r], [h], Shared())
    assert vals[0] == pytest.approx(psnr(a[4:-4, 4:-4], b[4:-4, 4:-4], y=True), rel=1e-12)
    assert errs == [None]
    assert vals[0] != pytest.approx(psnr(a, b, y=True), rel=1e-6)
    with pytest.raises(ConfigError, match="rgb-cropN"):
        parse_spec("psnr:yuv")
    with pytest.raises(ConfigError, match="at least 11x11"):
        ssim(a[:8, :8], b[:8, :8])
