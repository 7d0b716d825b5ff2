"""deg:vqfr / ids:vqfr: resnet_face18 key layout, and tiny random weights through the real path (weights registry,
engine, feature cache) against a plain restatement of VQFR's metric_paper/calculate_cos_dist.py:

    image = cv2.imread(path, 0); image = cv2.resize(image, (128, 128), interpolation=cv2.INTER_LINEAR)
    x = (image[None].astype(float32) - 127.5) / 127.5; out = model(stack([gt, restored]))
    dist = degrees(arccos(dot(o0, o1) / (|o0| |o1|))); dist < 1 -> counted as identical, left out of the mean.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from metrics_helpers import make_testset  # noqa: E402

from bfrbench.metrics.vqfr_identity import WEIGHT_NAME, build_resnet_face18, load_resnet_face18  # noqa: E402


def test_resnet_face18_key_layout_is_arcface_pytorch() -> None:
    sd = build_resnet_face18(64).state_dict()
    # 7 stem + 2 x 18 (layer1) + 3 x (24 + 18) (layers 2-4, first block with a 1x1 shortcut) + 12 head = 181
    assert len(sd) == 181 and sum(v.numel() for k, v in sd.items() if "num_batches" not in k) > 20_000_000
    assert sd["conv1.weight"].shape == (64, 1, 3, 3) and sd["fc5.weight"].shape == (512, 512 * 8 * 8)
    for k in ("prelu.weight", "layer1.0.bn0.running_var", "layer1.1.prelu.weight", "layer2.0.downsample.0.weight",
              "layer2.0.downsample.1.running_mean", "layer4.1.conv2.weight", "bn4.bias", "bn5.running_var"):
        assert k in sd, k
    assert "layer1.0.downsample.0.weight" not in sd and "layer1.0.se.fc.0.weight" not in sd  # use_se=False


def _tiny_checkpoint(path) -> dict:  # type: ignore[no-untyped-def]
    g = torch.Generator().manual_seed(0)
    net = build_resnet_face18(4)
    sd = {}
    for k, v in net.state_dict().items():
        if v.dtype.is_floating_point:
            if "running_var" in k:
                v = torch.rand(v.shape, generator=g) + 0.5
            elif k.endswith(("bias", "running_mean")):
                v = torch.zeros(v.shape)  # keep the features driven by the image, not by offsets
            else:
                v = torch.randn(v.shape, generator=g) * 0.5
        sd["module." + k] = v  # saved from DataParallel
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sd, path)
    return sd


def test_deg_vqfr_tiny_weights_through_the_engine(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bfrbench.metrics import evaluate, vqfr_identity

    monkeypatch.setenv("BFRBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(vqfr_identity, "_NETS", {})
    sd = _tiny_checkpoint(tmp_path / "home" / "weights" / WEIGHT_NAME / "resnet18_110.pth")
    ts, rs, ids = make_testset(tmp_path, 3, size=128)
    (rs / f"{ids[2]}.png").write_bytes((ts / "hq" / f"{ids[2]}.png").read_bytes())  # identical pair: 0 degrees
    s = evaluate(ts, rs, tmp_path / "ev", metrics=["deg:vqfr", "ids:vqfr"], cache=False, log=None)
    df = pd.read_parquet(tmp_path / "ev" / "per_image.parquet").set_index("id")

    model = load_resnet_face18(sd)
    def load(p):  # type: ignore[no-untyped-def]
        im = cv2.resize(cv2.imread(str(p), 0), (128, 128), interpolation=cv2.INTER_LINEAR)
        x = im[np.newaxis].astype(np.float32)
        return torch.from_numpy((x - 127.5) / 127.5)
    ref = {}
    for i in ids:
        with torch.no_grad():
            out = model(torch.stack([load(ts / "hq" / f"{i}.png"), load(rs / f"{i}.png")])).numpy()
        cos = np.dot(out[0], out[1]) / (np.linalg.norm(out[0]) * np.linalg.norm(out[1]))
        ref[i] = (float(cos), float(np.arccos(min(cos, np.float32(1.0))) / math.pi * 180))
    for i in ids:
        assert df.loc[i, "deg:vqfr"] == pytest.approx(ref[i][1], abs=1e-3 if ref[i][1] < 1 else 1e-4)
        assert df.loc[i, "ids:vqfr"] == pytest.approx(ref[i][0], abs=1e-5)
    assert ref[ids[0]][1] > 1 and ref[ids[1]][1] > 1 and df.loc[ids[2], "deg:vqfr"] < 1
    m = s["metrics"]["deg:vqfr"]
    assert m["identical_count"] == 1 and m["n"] == 2  # the identical pair is counted, not averaged
    assert m["mean"] == pytest.approx((df.loc[ids[0], "deg:vqfr"] + df.loc[ids[1], "deg:vqfr"]) / 2)
    assert m["stored_digits"] == 6 and "identical_count" not in s["metrics"]["ids:vqfr"]
    assert s["provenance"]["weights"][WEIGHT_NAME]  # hash recorded on first use


def test_bad_checkpoint_is_a_clear_error() -> None:
    from bfrbench.errors import WeightsError

    with pytest.raises(WeightsError, match="resnet_face18"):
        load_resnet_face18({"module.conv1.weight": torch.zeros(4, 1, 3, 3)})
