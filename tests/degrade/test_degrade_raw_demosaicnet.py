"""DemosaicNet (Bayer): official parameter layout, forward against a functional restatement, strict loading.

The layout is that of demosaicnet 0.0.14 ``BayerDemosaick`` / DT-BFR ``data_prep/demosaicnet/modules.py``
(commit ec3d404), whose released ``data/bayer.pth`` has exactly these 40 tensors. With the real weights our
module was checked bit-identical to the package's own module (report; the weights are not available here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bfrbench.degrade.demosaicnet import BayerDemosaicNet, demosaicnet_demosaic, load_demosaicnet
from bfrbench.errors import ArtifactError

OFFICIAL_SHAPES = {
    "main_processor.pack_mosaic.weight": (4, 3, 2, 2), "main_processor.pack_mosaic.bias": (4,),
    "main_processor.conv1.weight": (64, 4, 3, 3), "main_processor.conv1.bias": (64,),
    **{f"main_processor.conv{i}.weight": (64, 64, 3, 3) for i in range(2, 15)},
    **{f"main_processor.conv{i}.bias": (64,) for i in range(2, 15)},
    "main_processor.conv15.weight": (128, 64, 3, 3), "main_processor.conv15.bias": (128,),
    "residual_predictor.weight": (12, 64, 1, 1), "residual_predictor.bias": (12,),
    "upsampler.weight": (12, 1, 2, 2), "upsampler.bias": (3,),
    "fullres_processor.post_conv.weight": (64, 6, 3, 3), "fullres_processor.post_conv.bias": (64,),
    "fullres_processor.output.weight": (3, 64, 1, 1), "fullres_processor.output.bias": (3,),
}


def _random_net(seed: int = 0, pad: bool = True) -> BayerDemosaicNet:
    torch.manual_seed(seed)
    net = BayerDemosaicNet(pad=pad)
    with torch.no_grad():  # give the ReLU/mask path non-trivial values
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return net.eval()


def _restated_forward(sd: dict[str, torch.Tensor], x: torch.Tensor, pad: int) -> torch.Tensor:
    """BayerDemosaick.forward written out with functional ops from the state dict."""
    h = F.conv2d(x, sd["main_processor.pack_mosaic.weight"], sd["main_processor.pack_mosaic.bias"], stride=2)
    for i in range(1, 16):
        h = F.relu(F.conv2d(h, sd[f"main_processor.conv{i}.weight"], sd[f"main_processor.conv{i}.bias"],
                            padding=pad))
    res = F.conv2d(h[:, :64] * h[:, 64:], sd["residual_predictor.weight"], sd["residual_predictor.bias"])
    up = F.conv_transpose2d(res, sd["upsampler.weight"], sd["upsampler.bias"], stride=2, groups=3)
    ch, cw = (x.shape[-2] - up.shape[-2]) // 2, (x.shape[-1] - up.shape[-1]) // 2
    crop = x[..., ch: ch + up.shape[-2], cw: cw + up.shape[-1]]
    h = F.relu(F.conv2d(torch.cat([crop, up], 1), sd["fullres_processor.post_conv.weight"],
                        sd["fullres_processor.post_conv.bias"], padding=pad))
    return F.conv2d(h, sd["fullres_processor.output.weight"], sd["fullres_processor.output.bias"])


def test_parameter_layout_is_the_official_one() -> None:
    sd = BayerDemosaicNet().state_dict()
    assert {k: tuple(v.shape) for k, v in sd.items()} == OFFICIAL_SHAPES


@pytest.mark.parametrize("pad", [True, False])
def test_forward_matches_functional_restatement(pad: bool) -> None:
    net = _random_net(1, pad)
    x = torch.rand(1, 3, 72 if not pad else 16, 72 if not pad else 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ours = net(x)
        ref = _restated_forward(net.state_dict(), x, 1 if pad else 0)
    assert ours.shape == ref.shape == ((1, 3, 16, 16) if pad else (1, 3, 10, 10))
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)


def test_load_strict_and_numpy_wrapper(tmp_path: Path) -> None:
    net = _random_net(3)
    f = tmp_path / "bayer.pth"
    torch.save(net.state_dict(), f)
    loaded = load_demosaicnet(f)
    assert load_demosaicnet(f) is loaded  # cached per file
    mosaic = np.random.default_rng(0).random((8, 10, 3)).astype(np.float32)
    out = demosaicnet_demosaic(mosaic, loaded)
    with torch.no_grad():
        ref = net(torch.from_numpy(mosaic.transpose(2, 0, 1)).unsqueeze(0))[0].numpy().transpose(1, 2, 0)
    np.testing.assert_array_equal(out, ref.clip(0, 1))
    assert out.dtype == np.float32 and out.shape == (8, 10, 3)
    with pytest.raises(ValueError, match="even H and W"):
        demosaicnet_demosaic(mosaic[:7], loaded)


def test_bad_weight_files_are_reported(tmp_path: Path) -> None:
    sd = _random_net(4).state_dict()
    sd.pop("upsampler.bias")
    f = tmp_path / "missing_key.pth"
    torch.save(sd, f)
    with pytest.raises(ArtifactError, match="not a Bayer DemosaicNet state dict"):
        load_demosaicnet(f)
    g = tmp_path / "garbage.pth"
    g.write_bytes(b"not a checkpoint")
    with pytest.raises(ArtifactError, match="cannot read DemosaicNet weights"):
        load_demosaicnet(g)


def test_output_independent_of_caller_thread_count(tmp_path: Path) -> None:
    net = _random_net(5)
    mosaic = np.random.default_rng(1).random((32, 32, 3)).astype(np.float32)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        a = demosaicnet_demosaic(mosaic, net)
        assert torch.get_num_threads() == 2  # restored after the 1-thread forward
        torch.set_num_threads(1)
        b = demosaicnet_demosaic(mosaic, net)
    finally:
        torch.set_num_threads(old)
    np.testing.assert_array_equal(a, b)


def test_reduced_precision_path_runs_on_cpu() -> None:
    """The GPU options (device, dtype) go through the same wrapper; bfloat16 on CPU stays close to float32."""
    net = _random_net(6)
    mosaic = np.random.default_rng(2).random((16, 16, 3)).astype(np.float32)
    ref = demosaicnet_demosaic(mosaic, net, device="cpu", dtype=torch.float32)
    low = demosaicnet_demosaic(mosaic, net, device="cpu", dtype=torch.bfloat16)
    assert low.dtype == np.float32
    assert 0 < np.abs(low - ref).max() < 0.05
    np.testing.assert_array_equal(demosaicnet_demosaic(mosaic, net, dtype=torch.float32), ref)
