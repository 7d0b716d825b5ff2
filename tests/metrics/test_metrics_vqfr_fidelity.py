"""psnr:vqfr / ssim:vqfr against a plain restatement of VQFR's metric_paper/calculate_psnr_ssim.py, and
ssim:pyiqa against pyiqa's own ``create_metric('ssim')`` (ReF-LDM's SSIM).

VQFR (TencentARC/VQFR @239c77a78152473eca83270c40be083bb0ae0f4a), restated: images read by cv2 (BGR) as
float32 / 255; GT channel means/stds; per channel twice: r = r - mean(r) + mean_gt; r = r / std(r) * std_gt
(float32); then vqfr.metrics.calculate_psnr / calculate_ssim of gt * 255 and r * 255 with crop 0: float64,
PSNR = 20 log10(255 / sqrt(mse)); SSIM per channel with cv2.filter2D of the outer product of
cv2.getGaussianKernel(11, 1.5), [5:-5, 5:-5], mean over channels.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from metrics_helpers import degrade, face_images

from bfrbench.metrics import create_metric
from bfrbench.metrics._base import ImageItem, Shared
from bfrbench.metrics.fidelity_variants import psnr_vqfr, ssim_pyiqa, ssim_vqfr


def _vqfr_script(restored_rgb: np.ndarray, gt_rgb: np.ndarray) -> tuple[float, float]:
    img_gt = gt_rgb[..., ::-1].copy().astype(np.float32) / 255.0  # cv2.imread order (BGR)
    img_r = restored_rgb[..., ::-1].copy().astype(np.float32) / 255.0
    ml = [np.mean(img_gt[:, :, j]) for j in range(3)]
    sl = [np.std(img_gt[:, :, j]) for j in range(3)]
    for j in range(3):
        for _ in range(2):
            img_r[:, :, j] = img_r[:, :, j] - np.mean(img_r[:, :, j]) + ml[j]
            img_r[:, :, j] = img_r[:, :, j] / np.std(img_r[:, :, j]) * sl[j]
    a, b = (img_gt * 255).astype(np.float64), (img_r * 255).astype(np.float64)
    psnr = 20.0 * np.log10(255.0 / np.sqrt(np.mean((a - b) ** 2)))
    k = cv2.getGaussianKernel(11, 1.5)
    win = np.outer(k, k.transpose())
    vals = []
    for c in range(3):
        x, z = a[..., c], b[..., c]
        mu1, mu2 = cv2.filter2D(x, -1, win)[5:-5, 5:-5], cv2.filter2D(z, -1, win)[5:-5, 5:-5]
        s1 = cv2.filter2D(x ** 2, -1, win)[5:-5, 5:-5] - mu1 ** 2
        s2 = cv2.filter2D(z ** 2, -1, win)[5:-5, 5:-5] - mu2 ** 2
        s12 = cv2.filter2D(x * z, -1, win)[5:-5, 5:-5] - mu1 * mu2
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        vals.append(np.mean(((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 ** 2 + mu2 ** 2 + c1) * (s1 + s2 + c2))))
    return float(psnr), float(np.mean(vals))


@pytest.fixture(scope="module")
def pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    hq = face_images(3, 128)
    out = [(degrade(hq[0], 2), hq[0]), (degrade(hq[1], 5), hq[1])]
    shifted = np.clip(hq[2].astype(np.int16) * 0.8 + 30, 0, 255).astype(np.uint8)  # colour/contrast shift
    out.append((shifted, hq[2]))
    return out


def test_vqfr_psnr_ssim_parity_with_script(pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    for r, g in pairs:
        ref_p, ref_s = _vqfr_script(r, g)
        assert psnr_vqfr(r, g) == pytest.approx(ref_p, abs=1e-10)
        assert ssim_vqfr(r, g) == pytest.approx(ref_s, abs=1e-10)


def test_vqfr_correction_changes_the_numbers(pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    from bfrbench.metrics.psnr_ssim import psnr

    r, g = pairs[2]  # a pure contrast/brightness change is almost undone by the correction
    assert psnr_vqfr(r, g) > psnr(r, g) + 10


def test_vqfr_variants_through_the_registry(pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    r, g = pairs[0]
    items_r, items_h = [ImageItem("a", r, "r0")], [ImageItem("a", g, "h0")]
    for spec, fn in (("psnr:vqfr", psnr_vqfr), ("ssim:vqfr", ssim_vqfr), ("ssim:pyiqa", ssim_pyiqa)):
        m = create_metric(spec)
        vals, errs = m.score_pairs(items_r, items_h, Shared())
        assert m.spec == spec and errs == [None] and vals[0] == fn(r, g)


def test_ssim_pyiqa_parity_with_pyiqa(pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    torch = pytest.importorskip("torch")
    pyiqa = pytest.importorskip("pyiqa")
    metric = pyiqa.create_metric("ssim", device="cpu")

    def t(im: np.ndarray) -> torch.Tensor:  # ReF-LDM read_image: float32 / 255, (1, 3, H, W)
        return torch.from_numpy(im.astype(np.float32).transpose(2, 0, 1)[None]) / 255.0

    for r, g in pairs:
        with torch.no_grad():
            ref = float(metric(t(r), t(g)))
        assert ssim_pyiqa(r, g) == pytest.approx(ref, abs=1e-9), (ssim_pyiqa(r, g), ref)
