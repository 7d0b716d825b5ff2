"""niqe:basicsr = BasicSR's float32 NIQE; niqe:matlab = the float64 computation.

The reference below restates, step by step and in the same dtypes, what BasicSR's ``calculate_niqe`` does
(XPixelGroup/BasicSR basicsr/metrics/niqe.py, metric_util.to_y_channel, color_util.bgr2ycbcr,
matlab_functions.imresize; commit 8d56e3a045f9fb3e1d8872f92ee4a4f07f886b0a):

* img = uint8 BGR -> float32; to_y_channel: float32 / 255; Y = np.dot(img, [24.966, 128.553, 65.481]) + 16
  (float64), / 255, astype float32, * 255 (float32); round (float32).
* mu = scipy.ndimage.convolve(Y, window, mode='nearest') (float32 out), sigma = sqrt(|conv(Y^2) - mu^2|),
  MSCN = (Y - mu) / (sigma + 1), all float32.
* per block (idx_w outer, idx_h inner): AGGD with np.mean over the float32 negatives/positives, ratio table
  from 1/gam in float64, alpha = gam[argmin], beta = float32 std * float64 factor.
* scale 2: imresize(Y / 255, 0.5) in torch float32: weights from torch.linspace, cubic, normalised by
  torch.sum; rows then columns on symmetric-padded data; * 255. BasicSR sums the 8 float32 products of each
  output with torch.mv (BLAS sgemv), whose order is not fixed: on this machine (MKL, AVX-512) the row pass
  sums in tap order and the column pass in another order that even changes with the memory layout
  (contiguous vs strided rows), up to 3 ulp. The restatement sums in tap order (what bfrbench fixes);
  test_float32_resize_matches_basicsr_imresize bounds the torch.mv difference.
* mean = np.nanmean, cov = np.cov of nan-free rows, quality = sqrt(d pinv((S_p + S_d) / 2) d^T) (float64).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from metrics_helpers import degrade, face_images
from scipy.ndimage import convolve
from scipy.special import gamma

from bfrbench.metrics.niqe import load_pristine_params, niqe
from bfrbench.metrics.niqe_basicsr import imresize_half, y_plane_basicsr


def _ref_y(rgb: np.ndarray) -> np.ndarray:
    bgr = rgb[..., ::-1].astype(np.float32)
    img = bgr.astype(np.float32) / 255.0
    y = np.dot(img, [24.966, 128.553, 65.481]) + 16.0
    y = (y / 255.0).astype(np.float32) * 255.0
    return y.round()


def _ref_resize_half(img: np.ndarray, *, torch_mv: bool = False) -> np.ndarray:
    torch = pytest.importorskip("torch")

    def weights(n_in: int) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        scale, n_out = 0.5, math.ceil(n_in * 0.5)
        kw = 4 / scale
        x = torch.linspace(1, n_out, n_out)
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = torch.floor(u - kw / 2)
        p = math.ceil(kw) + 2
        ind = left.view(n_out, 1).expand(n_out, p) + torch.linspace(0, p - 1, p).view(1, p).expand(n_out, p)
        d = (u.view(n_out, 1).expand(n_out, p) - ind) * scale
        a = d.abs()
        cub = ((1.5 * a ** 3 - 2.5 * a ** 2 + 1) * (a <= 1).type_as(a)
               + (-0.5 * a ** 3 + 2.5 * a ** 2 - 4 * a + 2) * ((a > 1) * (a <= 2)).type_as(a))
        w = scale * cub
        w = w / torch.sum(w, 1).view(n_out, 1).expand(n_out, p)
        zeros = torch.sum(w == 0, 0)
        if zeros[0] != 0:
            ind, w = ind.narrow(1, 1, p - 2), w.narrow(1, 1, p - 2)
        if zeros[-1] != 0:
            ind, w = ind.narrow(1, 0, p - 2), w.narrow(1, 0, p - 2)
        s, e = int(-ind.min() + 1), int(ind.max() - n_in)
        return w.contiguous(), (ind + s - 1).contiguous(), s, e

    def dot(m: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # m (n, taps) @ v (taps,) in float32
        if torch_mv:
            return m.mv(v)
        acc = torch.zeros(m.shape[0], dtype=torch.float32)
        for k in range(v.shape[0]):
            acc = acc + m[:, k] * v[k]
        return acc

    t = torch.from_numpy(np.ascontiguousarray(img)).float()
    h, w_ = t.shape
    wh, ih, sh, eh = weights(h)
    pad = torch.cat([t[:sh].flip(0), t, t[h - eh:].flip(0)], 0)
    out1 = torch.stack([dot(pad[int(ih[i][0]):int(ih[i][0]) + wh.shape[1], :].transpose(0, 1), wh[i])
                        for i in range(wh.shape[0])], 0)
    ww, iw, sw, ew = weights(w_)
    pad = torch.cat([out1[:, :sw].flip(1), out1, out1[:, w_ - ew:].flip(1)], 1)
    out2 = torch.stack([dot(pad[:, int(iw[i][0]):int(iw[i][0]) + ww.shape[1]], ww[i]) for i in range(ww.shape[0])], 1)
    return out2.numpy()


def _ref_aggd(block: np.ndarray) -> tuple[float, float, float]:
    block = block.flatten()
    gam = np.arange(0.2, 10.001, 0.001)
    rec = np.reciprocal(gam)
    r_gam = np.square(gamma(rec * 2)) / (gamma(rec) * gamma(rec * 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        ls = np.sqrt(np.mean(block[block < 0] ** 2))
        rs = np.sqrt(np.mean(block[block > 0] ** 2))
        gh = ls / rs
        rhat = (np.mean(np.abs(block))) ** 2 / np.mean(block ** 2)
        rn = (rhat * (gh ** 3 + 1) * (gh + 1)) / ((gh ** 2 + 1) ** 2)
    alpha = gam[np.argmin((r_gam - rn) ** 2)]
    f = np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, ls * f, rs * f


def _ref_features(block: np.ndarray) -> list[float]:
    a, bl, br = _ref_aggd(block)
    feat = [a, (bl + br) / 2]
    for sh in ([0, 1], [1, 0], [1, 1], [1, -1]):
        a, bl, br = _ref_aggd(block * np.roll(block, sh, axis=(0, 1)))
        feat.extend([a, (br - bl) * (gamma(2 / a) / gamma(1 / a)), bl, br])
    return feat


def ref_basicsr_niqe(rgb: np.ndarray) -> float:
    mu_p, cov_p, win = load_pristine_params()
    img = _ref_y(rgb)
    h, w = img.shape
    nh, nw = h // 96, w // 96
    img = img[:nh * 96, :nw * 96]
    dist = []
    for scale in (1, 2):
        mu = convolve(img, win, mode="nearest")
        sigma = np.sqrt(np.abs(convolve(np.square(img), win, mode="nearest") - np.square(mu)))
        n = (img - mu) / (sigma + 1)
        assert n.dtype == np.float32
        b = 96 // scale
        dist.append(np.array([_ref_features(n[ih * b:(ih + 1) * b, iw * b:(iw + 1) * b])
                              for iw in range(nw) for ih in range(nh)]))
        if scale == 1:
            img = _ref_resize_half(img / 255.0) * 255.0
    d = np.concatenate(dist, axis=1)
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mu_d = np.nanmean(d, axis=0)
    cov_d = np.cov(d[~np.isnan(d).any(axis=1)], rowvar=False)
    diff = mu_p - mu_d
    return float(np.sqrt(diff @ np.linalg.pinv((cov_p + cov_d) / 2) @ diff))


@pytest.fixture(scope="module")
def faces() -> list[np.ndarray]:
    hq = face_images(3, 288)
    return [hq[0], degrade(hq[1], 3), degrade(hq[2], 1)]


def test_y_plane_matches_basicsr_to_y_channel(faces: list[np.ndarray]) -> None:
    for im in faces:
        y = y_plane_basicsr(im)
        assert y.dtype == np.float32
        np.testing.assert_array_equal(y, _ref_y(im))


def test_float32_resize_matches_basicsr_imresize(faces: list[np.ndarray]) -> None:
    y = y_plane_basicsr(faces[1])[:288, :192] / np.float32(255.0)
    ours = imresize_half(y)
    assert ours.dtype == np.float32 and ours.shape == (144, 96)
    np.testing.assert_array_equal(ours, _ref_resize_half(y))  # tap-order float32 sums: bit-identical
    # BasicSR's torch.mv: the same 8 float32 products per output summed in a BLAS-chosen order (<= 3 ulp)
    np.testing.assert_allclose(ours, _ref_resize_half(y, torch_mv=True), rtol=0, atol=4e-7)


def test_niqe_basicsr_parity_float32(faces: list[np.ndarray]) -> None:
    for im in faces:
        ours, ref = niqe(im, variant="basicsr"), ref_basicsr_niqe(im)
        assert abs(ours - ref) <= 1e-6, (ours, ref)


def test_niqe_matlab_is_float64_and_differs_from_basicsr(faces: list[np.ndarray]) -> None:
    b = np.array([niqe(im, variant="basicsr") for im in faces])
    m = np.array([niqe(im, variant="matlab") for im in faces])
    assert np.all(np.abs(b - m) < 0.05) and np.any(b != m)
    assert m[1] > m[0] and b[1] > b[0]  # blur raises NIQE in both
