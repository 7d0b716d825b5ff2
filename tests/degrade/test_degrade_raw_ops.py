"""DT-BFR RAW-domain ops against plain numpy restatements of the official arithmetic.

Official source: SamsungLabs/DT-BFR @ ec3d4043e4d0c610fe7e345448cc1298e132b5dd, data_prep/generate_LQ_from_HQ.py,
demo_ccm_sampling.py, utils/raw_utils.py, utils/image_utils.py, noise_profiler/image_synthesizer.py.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
import pytest
from dtbfr_raw_helpers import write_dictionary

from bfrbench.degrade import raw as R
from bfrbench.degrade._base import quantize
from bfrbench.degrade.raw_ccm import knn_ccm, load_ccm_dictionary, sample_ccm_illuminant, sample_illuminant
from bfrbench.degrade.raw_noise_model import noise_params
from bfrbench.degrade.recipe import Recipe
from bfrbench.degrade.steps import DEGRADATIONS
from bfrbench.errors import ArtifactError, ConfigError


def _rand(shape: tuple[int, ...], seed: int = 0, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(lo, hi, shape)


# -- de-gamma, inverse/forward ISP -----------------------------------------------------------------------
def test_degamma_is_float64_power_and_close_to_uint8_path() -> None:
    k = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, 2)
    f32 = k.astype(np.float32) / 255.0  # what the recipe engine hands the first step
    out = R.degamma(f32)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, f32.astype(np.float64) ** 2.2)
    official = (k / 255) ** 2.2  # cv2.imread(...) / 255 in float64, then ** 2.2
    np.testing.assert_allclose(out, official, rtol=2e-7, atol=0)  # float32 rounding of k / 255 only
    assert not np.array_equal(out, official)
    np.testing.assert_array_equal(R.degamma(f32, exact_uint8=True), official)  # the presets' setting: exact
    with pytest.raises(ValueError, match="8-bit levels"):
        R.degamma(f32 + np.float32(0.3 / 255), exact_uint8=True)


def test_inverse_ccm_wb_matches_restatement() -> None:
    img = _rand((5, 7, 3), 1)
    ccm = np.array([[1.63, -0.59, -0.05], [-0.23, 1.36, -0.13], [0.04, -0.92, 1.88]])
    illum = np.array([0.55, 1.0, 0.62])
    m = ccm / ccm.sum(axis=1, keepdims=True)
    ref = np.einsum("ij,hwj->hwi", np.linalg.inv(m), img) * illum
    out = R.inverse_ccm_wb(img, ccm, illum)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-15)


def test_render_matches_restatement_and_inverts_row_normalised_ccm() -> None:
    x = _rand((6, 6, 3), 2, 0.25, 0.6)
    ccm = np.array([[1.2, -0.1, -0.1], [-0.05, 1.1, -0.05], [0.0, -0.2, 1.2]])  # rows sum to 1
    illum = np.array([0.55, 1.0, 0.63])
    cam = R.inverse_ccm_wb(R.degamma(x), ccm, illum)
    y = R.render(cam.astype(np.float32), ccm, illum)
    ref = np.clip(np.clip(cam.astype(np.float32) * (1 / illum), 0, 1) @ ccm.T, 0, 1) ** (1 / 2.2)
    np.testing.assert_allclose(y, ref, rtol=1e-12)
    np.testing.assert_allclose(y, x, atol=1e-6)  # float32 hand-over only
    # the official render uses the sampled matrix un-normalised: rows summing to s scale the output by s
    y2 = R.render(cam, ccm * 1.1, illum)
    assert not np.allclose(y2, x, atol=1e-3)


# -- CCM/AWB dictionary and 3-NN -------------------------------------------------------------------------
def test_dictionary_loader_and_statistics(tmp_path: Path) -> None:
    p = write_dictionary(tmp_path / "d.p")
    d = load_ccm_dictionary(p)
    raw = pickle.loads(p.read_bytes())
    illums = 1 / np.array(raw["awb"])
    illums = illums / illums[:, 1:2]
    np.testing.assert_allclose(d.illums, illums, rtol=1e-15)
    np.testing.assert_array_equal(d.mean, illums.mean(0))
    np.testing.assert_allclose(d.cov, np.cov(illums.T), rtol=1e-12)
    assert d.ccms.shape == (8, 3, 3)


def test_dictionary_loader_refuses_other_objects(tmp_path: Path) -> None:
    bad = tmp_path / "bad.p"
    bad.write_bytes(pickle.dumps({"ccm": OrderedDict(a=1), "awb": []}))
    with pytest.raises(ArtifactError, match="refusing to load collections.OrderedDict"):
        load_ccm_dictionary(bad)
    shapes = tmp_path / "shapes.p"
    shapes.write_bytes(pickle.dumps({"ccm": [np.eye(2)] * 4, "awb": [np.ones(3)] * 4}))
    with pytest.raises(ArtifactError, match="expected ccm"):
        load_ccm_dictionary(shapes)
    with pytest.raises(ArtifactError, match="cannot read"):
        load_ccm_dictionary(tmp_path / "missing.p")


def test_knn_ccm_reproduces_official_first_k_indexing(tmp_path: Path) -> None:
    d = load_ccm_dictionary(write_dictionary(tmp_path / "d.p", n=10, seed=3))
    illum = d.illums[7] + np.array([0.004, 0.0, -0.003])
    mse = ((d.illums[:, [0, 2]] - illum[[0, 2]]) ** 2).mean(1)
    inds = np.argsort(mse)[:3]
    w = (1 / mse[inds]) / (1 / mse[inds]).sum()
    ccm, got_inds, got_w = knn_ccm(d, illum, 3, "first_k")
    np.testing.assert_array_equal(got_inds, inds)
    np.testing.assert_array_equal(got_w, mse[inds])
    assert inds[0] == 7 and 0 not in inds[:1]
    np.testing.assert_allclose(ccm, sum(w[i] * d.ccms[i] for i in range(3)), rtol=1e-13)  # rows 0, 1, 2
    ccm_nb, _, _ = knn_ccm(d, illum, 3, "neighbours")
    np.testing.assert_allclose(ccm_nb, sum(w[i] * d.ccms[inds[i]] for i in range(3)), rtol=1e-13)
    assert not np.allclose(ccm, ccm_nb)


def test_illuminant_sampling_rejects_outside_bounds_and_is_seeded(tmp_path: Path) -> None:
    d = load_ccm_dictionary(write_dictionary(tmp_path / "d.p", n=12, seed=5))
    rejected_total = 0
    for seed in range(40):
        s, rej = sample_illuminant(d, np.random.default_rng(seed))
        rejected_total += rej
        assert d.illums[:, 0].min() < s[0] < d.illums[:, 0].max()
        assert d.illums[:, 2].min() < s[2] < d.illums[:, 2].max()
        assert s[1] == pytest.approx(1.0, abs=1e-12)
    assert rejected_total > 0  # the Gaussian fitted to 12 points often leaves the bounding box
    a = sample_ccm_illuminant(d, np.random.default_rng(11))
    b = sample_ccm_illuminant(d, np.random.default_rng(11))
    np.testing.assert_array_equal(a["ccm"], b["ccm"])


# -- mosaic, noise, black level ----------------------------------------------------------------------------
def test_bayer_mosaic_grbg_layout_and_raw_units() -> None:
    img = _rand((4, 6, 3), 4)
    m = R.bayer_mosaic(img)
    assert m.dtype == np.float32 and m.shape == (4, 6, 3)
    g, r, b = img[..., 1].astype(np.float32), img[..., 0].astype(np.float32), img[..., 2].astype(np.float32)
    np.testing.assert_array_equal(m[0::2, 0::2, 1], g[0::2, 0::2] * 959 + 64)
    np.testing.assert_array_equal(m[0::2, 1::2, 0], r[0::2, 1::2] * 959 + 64)
    np.testing.assert_array_equal(m[1::2, 0::2, 2], b[1::2, 0::2] * 959 + 64)
    np.testing.assert_array_equal(m[1::2, 1::2, 1], g[1::2, 1::2] * 959 + 64)
    assert np.count_nonzero(m) == 4 * 6  # one sample per pixel
    np.testing.assert_array_equal(R.mosaic_from_plane(R.plane_from_mosaic(m)), m)


# Values of the official pickled splines (iso2b1/iso2b2_interp_splines.npy of the IMX754 model), evaluated
# with scipy at ISO 1500 and 3000 from the files at commit ec3d404.
OFFICIAL_1500 = ([5.337484801450378, 6.341276952748947, 6.376303042198336, 5.373720451100063],
                 [-246.47615155505636, -270.6522207408367, -284.92065501635795, -245.40861073935577])
OFFICIAL_3000 = ([11.065346004078478, 13.048396227763778, 12.787767669345419, 11.049712972429848],
                 [-327.29248415067184, -427.6072059770177, -416.2792312290717, -313.25959075331383])


@pytest.mark.parametrize(("iso", "expected"), [(1500, OFFICIAL_1500), (3000, OFFICIAL_3000)])
def test_noise_params_equal_official_splines(iso: int, expected: tuple[list[float], list[float]]) -> None:
    shot, read = noise_params(iso)
    assert shot.tolist() == expected[0]
    assert read.tolist() == expected[1]


def test_noise_params_calibrated_iso_uses_table_row() -> None:
    shot, read = noise_params(1599)
    assert shot[0] == 5.674788927168605 and read[3] == -255.49056932237647
    with pytest.raises(ValueError, match="unknown noise model"):
        noise_params(100, "gn3")


def test_sensor_noise_matches_restatement_and_variance() -> None:
    img = _rand((64, 64, 3), 6, 0.05, 0.9)
    m = R.bayer_mosaic(img)
    shot, read = noise_params(1500)
    out = R.sensor_noise(m, shot, read, np.random.default_rng(9))
    # restatement of synthesize_noisy_image_v2 (per_channel, black_diff 0), numpy 1.26 dtype rules
    x = R.plane_from_mosaic(m)
    var = np.zeros(x.shape)
    for c, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        var[i::2, j::2] = (x[i::2, j::2] + 0) * np.float32(shot[c]) + np.float32(read[c])
    var[var < 0] = 0
    noisy = np.clip((x + np.random.default_rng(9).normal(0, 1, x.shape) * np.sqrt(var)).astype(np.float32), 0, 1023)
    np.testing.assert_array_equal(R.plane_from_mosaic(out), noisy)
    assert out.dtype == np.float32
    # the same source line under numpy >= 2 computes the variance in float64
    out64 = R.sensor_noise(m, shot, read, np.random.default_rng(9), variance_dtype="float64")
    var64 = np.zeros(x.shape)
    for c, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        var64[i::2, j::2] = x[i::2, j::2].astype(np.float64) * shot[c] + read[c]
    noisy64 = np.clip((x + np.random.default_rng(9).normal(0, 1, x.shape) * np.sqrt(var64)).astype(np.float32), 0, 1023)
    np.testing.assert_array_equal(R.plane_from_mosaic(out64), noisy64)
    assert not np.array_equal(out64, out)
    # statistics on a flat field: variance of raw values = x * shot + read
    flat = R.bayer_mosaic(np.full((256, 256, 3), 0.5))
    n = R.plane_from_mosaic(R.sensor_noise(flat, shot, read, np.random.default_rng(1))) - R.plane_from_mosaic(flat)
    level = 0.5 * 959 + 64
    for c, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        assert n[i::2, j::2].var() == pytest.approx(level * shot[c] + read[c], rel=0.05)


def test_black_level_matches_restatement() -> None:
    m = R.bayer_mosaic(_rand((8, 8, 3), 7))
    m[0, 0, 1] = 10.0  # below black
    out = R.black_level(m)
    np.testing.assert_array_equal(out, np.clip((m - 64) / 959, 0, 1).astype(np.float32))
    assert out[0, 0, 1] == 0 and out.dtype == np.float32
    assert np.count_nonzero(out == 0) >= 2 * 64  # the unsampled channels stay 0


# -- demosaic, final conversion ------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["ea", "bilinear"])
def test_opencv_demosaic_recovers_flat_colour(algorithm: str) -> None:
    colour = np.array([0.7, 0.4, 0.2])
    m = R.black_level(R.bayer_mosaic(np.broadcast_to(colour, (16, 16, 3))))
    out = R.demosaic_opencv(m, "GRBG", algorithm)  # type: ignore[arg-type]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[4:-4, 4:-4], np.broadcast_to(colour, (8, 8, 3)), atol=2 / 16383)
    # the GBRG flag on this GRBG plane swaps red and blue: the flag table matters
    plane = (R.plane_from_mosaic(m, "GRBG") * 16383).astype(np.uint16)
    swapped = cv2.cvtColor(plane, cv2.COLOR_BAYER_GR2RGB_EA if algorithm == "ea" else cv2.COLOR_BAYER_GR2RGB)
    assert abs(float(swapped[8, 8, 0]) / 16383 - 0.2) < 1e-3 and abs(float(swapped[8, 8, 2]) / 16383 - 0.7) < 1e-3


def test_truncate_uint8_then_engine_quantize_gives_official_bytes() -> None:
    x = np.concatenate([_rand((32, 32, 3), 8).ravel(), np.arange(256) / 255, [0.0, 1.0]])
    x = x[: (x.size // 3) * 3].reshape(-1, 1, 3)
    assert np.array_equal(quantize(R.truncate_uint8(x)), np.uint8(x * 255))


# -- steps --------------------------------------------------------------------------------------------------
def test_raw_steps_are_registered() -> None:
    from bfrbench.degrade.raw_steps import RAW_STEPS

    for name, cls in RAW_STEPS.items():
        assert DEGRADATIONS.get(name).__name__ == cls


@pytest.mark.parametrize(("step", "match"), [
    ({"op": "raw_noise", "iso": 0}, "iso must be > 0"),
    ({"op": "raw_noise", "iso": 1500, "pattern": "XYZW"}, "pattern must be one of"),
    ({"op": "demosaic", "method": "magic"}, "method must be one of"),
    ({"op": "demosaic", "pattern": "RGGB"}, "trained on GRBG"),
    ({"op": "bayer_mosaic", "black_level": 1023}, "must exceed black_level"),
    ({"op": "raw_inverse_isp", "knn_ccm": "all"}, "knn_ccm must be"),
])
def test_bad_raw_step_options(step: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Recipe({"name": "t", "version": 1, "steps": [step]})


def test_raw_render_without_inverse_step_is_a_clear_error() -> None:
    rec = Recipe({"name": "t", "version": 1, "size": 8, "steps": [{"op": "raw_render"}, {"op": "truncate_uint8"}]})
    with pytest.raises(ConfigError, match="needs the columns of a raw_inverse_isp"):
        rec.degrade(np.zeros((8, 8, 3), np.uint8), np.random.default_rng(0))


def test_classical_chain_on_real_face_keeps_structure(tmp_path: Path) -> None:
    """The whole chain with the OpenCV demosaic on a real face: PSNR against HQ in a sane band."""
    import skimage.data

    hq = cv2.resize(skimage.data.astronaut()[0:240, 100:340], (128, 128), interpolation=cv2.INTER_AREA)
    dict_path = write_dictionary(tmp_path / "d.p")
    rec = Recipe({"name": "t", "version": 1, "size": 128, "steps": [
        {"op": "degamma"}, {"op": "raw_inverse_isp", "dictionary": str(dict_path)},
        {"op": "downsample", "scale": 4, "interpolation": "area"}, {"op": "clip", "name": "c1"},
        {"op": "bayer_mosaic"}, {"op": "raw_noise", "iso": 1500}, {"op": "black_level"},
        {"op": "demosaic", "method": "opencv_ea"}, {"op": "raw_render"}, {"op": "resize"},
        {"op": "clip", "name": "c2"}, {"op": "truncate_uint8"}]})
    lq, params = rec.degrade(hq, np.random.default_rng(0))
    assert lq.shape == hq.shape and lq.dtype == np.uint8
    mse = np.mean((lq.astype(np.float64) - hq) ** 2)
    assert 12 < 10 * np.log10(255**2 / mse) < 30
    assert params["iso"] == 1500 and params["scale"] == 4.0
