"""fLPIPS: face-mask classes, parity with the lpips package on hand-masked images, and the whole metric with a
random ParseNet checkpoint placed in the weights cache (real weights cannot be downloaded here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from metrics_helpers import degrade, face_images, make_testset, torchvision_style_backbone

from bfrbench.errors import MissingWeightsError
from bfrbench.io import read_image, sha256_file
from bfrbench.metrics._base import ImageItem, Shared, create_metric
from bfrbench.metrics.cache import FeatureCache
from bfrbench.metrics.flpips import FACE_LABELS, FLPIPS, PARSENET_CLASSES, face_mask, masked_lpips
from bfrbench.metrics.lpips import LPIPS, build_lpips

torch = pytest.importorskip("torch")
lpips_pkg = pytest.importorskip("lpips")
pytest.importorskip("facexlib")

# The facexlib ParseNet label order (facexlib inference/inference_parsing_parsenet.py) and ReF-LDM's "face"
# definition, written out here independently of the module constants.
EXPECTED_ORDER = ["background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
                  "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth"]
EXPECTED_FACE = {"skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear", "mouth", "u_lip",
                 "l_lip"}


def _backbone(tmp_path: Path, net: str) -> tuple[object, Path]:
    ref = lpips_pkg.LPIPS(net=net, version="0.1", pretrained=True, pnet_rand=True, verbose=False).eval()
    ckpt = tmp_path / f"{net}.pth"
    torchvision_style_backbone(ref, ckpt)
    return ref, ckpt


def _random_parsenet_in_cache() -> Path:
    from facexlib.parsing.parsenet import ParseNet

    from bfrbench.weights import cache_path, get_weight

    path = cache_path(get_weight("facexlib-parsenet"))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(ParseNet(in_size=512, out_size=512, parsing_ch=19).state_dict(), path)
    return path


def test_face_mask_selects_exactly_the_face_classes() -> None:
    assert list(PARSENET_CLASSES) == EXPECTED_ORDER
    assert sorted(FACE_LABELS) == list(range(1, 13))
    labels = np.arange(19, dtype=np.uint8).reshape(1, 19).repeat(3, axis=0)
    mask = face_mask(labels)
    assert mask.dtype == bool and mask.shape == labels.shape
    picked = {EXPECTED_ORDER[k] for k in range(19) if mask[0, k]}
    assert picked == EXPECTED_FACE
    assert not face_mask(np.zeros((4, 4), np.int64)).any()
    with pytest.raises(Exception, match="integer"):
        face_mask(np.zeros((2, 2), np.float32))


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_masked_lpips_equals_package_lpips_on_masked_images(tmp_path: Path, net: str) -> None:
    ref, ckpt = _backbone(tmp_path, net)
    model = build_lpips(net, str(ckpt))
    hq = face_images(1, 64)[0]
    res = degrade(hq, 3)
    yy, xx = np.mgrid[:64, :64]
    mask = ((yy - 34) / 24.0) ** 2 + ((xx - 30) / 18.0) ** 2 <= 1  # an ellipse standing in for a face
    got = masked_lpips(model, mask, res, hq)
    with torch.no_grad():
        x = torch.from_numpy(res * mask[..., None]).permute(2, 0, 1)[None].float() / 255
        y = torch.from_numpy(hq * mask[..., None]).permute(2, 0, 1)[None].float() / 255
        expected = float(ref(x, y, normalize=True))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    plain = LPIPS(net, backbone_path=ckpt).distances([res], [hq])[0]
    np.testing.assert_allclose(masked_lpips(model, np.ones((64, 64), bool), res, hq), plain, rtol=1e-5)
    assert got != pytest.approx(plain)


def test_flpips_end_to_end_with_random_parsenet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """evaluate() on a 512x512 pair: ParseNet from the weights cache, mask cached per HQ image, finite value."""
    from bfrbench.metrics.engine import evaluate
    from bfrbench.weights import cache_path, get_weight

    _, ckpt = _backbone(tmp_path, "alex")
    ts, rs, ids = make_testset(tmp_path / "data", 1, 512)
    # The registered AlexNet file has a published SHA-256 a random file cannot match: mark the entry present
    # and give the metric the random backbone directly; ParseNet goes through the registry and the cache.
    alex = cache_path(get_weight("torchvision-alexnet"))
    alex.parent.mkdir(parents=True)
    alex.write_bytes(b"placeholder")
    monkeypatch.setattr(FLPIPS, "_model", lambda self: build_lpips("alex", str(ckpt), self.device))
    with pytest.raises(MissingWeightsError, match=r"flpips:alex.*parsing_parsenet\.pth' \(facexlib-parsenet\).*bfrbench weights fetch facexlib-parsenet"):
        evaluate(ts, rs, tmp_path / "e0", metrics=["flpips:alex"])
    _random_parsenet_in_cache()
    s = evaluate(ts, rs, tmp_path / "e", metrics=["flpips:alex"], log=None)
    df = pd.read_parquet(tmp_path / "e" / "per_image.parquet")
    val = float(df["flpips:alex"].iloc[0])
    assert np.isfinite(val) and val > 0 and df["error"].isna().all()
    assert s["metrics"]["flpips:alex"]["higher_is_better"] is False

    # The HQ mask is in the feature cache: a second restored image on the same HQ reuses it (no parsing).
    m = create_metric("flpips:alex")
    assert isinstance(m, FLPIPS)
    cache = FeatureCache()
    hq_path = ts / "hq" / f"{ids[0]}.png"
    hq_item = ImageItem(ids[0], read_image(hq_path), sha256_file(hq_path))
    packed = cache.get(m.mask_extractor_id(), hq_item.sha256)
    assert packed is not None
    mask = np.unpackbits(packed, axis=-1, count=512).astype(bool)
    assert 0 < mask.sum() < mask.size
    other = degrade(hq_item.image, 7)
    shared = Shared(cache)
    vals, errs = m.score_pairs([ImageItem(ids[0], other, "other")], [hq_item], shared)
    assert shared.computed == {m.cache_id(): 1} and errs == [None]
    np.testing.assert_allclose(vals[0], masked_lpips(m._model(), mask, other, hq_item.image), rtol=1e-6)


def test_flpips_without_parsenet_names_the_weights(tmp_path: Path) -> None:
    _, ckpt = _backbone(tmp_path, "alex")
    m = FLPIPS("alex", backbone_path=ckpt)
    assert m.weights_for("vgg") == ("torchvision-vgg16", "facexlib-parsenet")
    assert not m.weights_present("alex")
    img = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(MissingWeightsError, match="facexlib-parsenet"):
        m.score_pairs([ImageItem("a", img, "r")], [ImageItem("a", img, "h")], Shared())
