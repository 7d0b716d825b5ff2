"""LPIPS parity with the lpips package given identical (random) backbone weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from metrics_helpers import degrade, face_images, torchvision_style_backbone

from bfrbench.errors import MissingWeightsError
from bfrbench.metrics._base import ImageItem, Shared
from bfrbench.metrics.lpips import LPIPS

torch = pytest.importorskip("torch")
lpips_pkg = pytest.importorskip("lpips")


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_matches_package_with_same_random_backbone(tmp_path: Path, net: str) -> None:
    ref = lpips_pkg.LPIPS(net=net, version="0.1", pretrained=True, pnet_rand=True, verbose=False).eval()
    ckpt = tmp_path / f"{net}.pth"
    torchvision_style_backbone(ref, ckpt)
    hq = face_images(2, 64)
    res = [degrade(hq[0], 1), degrade(hq[1], 5)]
    m = LPIPS(net, backbone_path=ckpt, batch_size=1)
    vals, errs = m.score_pairs([ImageItem("a", res[0], "r0"), ImageItem("b", res[1], "r1")],
                               [ImageItem("a", hq[0], "h0"), ImageItem("b", hq[1], "h1")], Shared())
    with torch.no_grad():
        x = torch.from_numpy(np.stack(res)).permute(0, 3, 1, 2).float() / 255
        y = torch.from_numpy(np.stack(hq)).permute(0, 3, 1, 2).float() / 255
        expected = ref(x, y, normalize=True).reshape(-1).double().numpy()  # normalize: [0,1] -> [-1,1]
    np.testing.assert_allclose(vals, expected, rtol=1e-5, atol=1e-6)
    assert errs == [None, None]
    assert vals[0] != pytest.approx(vals[1])


def test_lpips_without_backbone_weights_names_the_file() -> None:
    m = LPIPS("vgg")
    with pytest.raises(MissingWeightsError, match=r"vgg16-397923af\.pth.*bfrbench weights fetch torchvision-vgg16"):
        m.score_pairs([ImageItem("a", np.zeros((32, 32, 3), np.uint8), "r")],
                      [ImageItem("a", np.zeros((32, 32, 3), np.uint8), "h")], Shared())
