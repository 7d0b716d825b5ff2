"""Metric registry, spec strings, metadata and the metric weight catalogue."""

from __future__ import annotations

import numpy as np
import pytest

from bfrbench.errors import ConfigError, MissingWeightsError, RegistryError
from bfrbench.metrics import METRICS, create_metric, list_metrics, parse_spec
from bfrbench.metrics._base import ImageItem, Shared


def test_specs_are_canonical_name_variant() -> None:
    assert parse_spec("psnr").column == "psnr:rgb"
    assert parse_spec(" ssim:y ").column == "ssim:y"
    assert parse_spec("fid").column == "fid:legacy-hq"
    assert parse_spec("niqe").column == "niqe:basicsr"
    assert create_metric("lmd").spec == "lmd:dlib68"
    with pytest.raises(RegistryError, match="did you mean 'niqe'"):
        parse_spec("nique")
    with pytest.raises(ConfigError, match="accepted: legacy-hq, clean-hq"):
        parse_spec("fid:tf")
    with pytest.raises(ConfigError, match="empty metric spec"):
        parse_spec("")


def test_every_metric_has_complete_metadata() -> None:
    for name, cls in METRICS.items():
        assert cls.name == name and cls.kind in ("FR", "NR", "set")
        assert cls.default_variant in cls.variants and cls.reference and cls.paper
        lo, hi = cls.value_range
        assert lo is None or hi is None or lo < hi
    rows = list_metrics()
    assert len({r["spec"] for r in rows}) == len(rows)
    assert sum(r["default"] for r in rows) == len(METRICS)


def test_metric_weights_are_declared_with_sources() -> None:
    from bfrbench.metrics._weights import WEIGHTS
    from bfrbench.weights import all_weights

    table = all_weights()
    for w in WEIGHTS:
        assert table[w.name] == w
        assert w.urls or w.package or w.note, w.name
        if "sha256_prefix" in w.extra and w.urls:
            assert w.extra["sha256_prefix"] in w.urls[0]
            assert w.sha256 is None or w.sha256.startswith(w.extra["sha256_prefix"])
    for name, cls in METRICS.items():
        for v in cls.variants:
            for wname in cls.weights_for(v):
                assert wname in table, (name, v, wname)
    assert all_weights()["fid-inception-default_1"].sha256 is not None


@pytest.mark.parametrize("spec,file", [("musiq", "musiq_koniq_ckpt-e95806b9.pth"), ("maniqa", "ckpt_koniq10k.pt"),
                                       ("clipiqa", "RN50.pt")])
def test_pyiqa_metrics_need_their_weights(spec: str, file: str) -> None:
    m = create_metric(spec)
    assert not m.weights_present(m.variant)
    with pytest.raises(MissingWeightsError, match=file.replace(".", r"\.")):
        m.score_images([ImageItem("a", np.zeros((32, 32, 3), np.uint8), "x")], Shared())  # type: ignore[attr-defined]


def test_musiq_loads_its_checkpoint_from_the_weights_cache(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Plumbing with a random MUSIQ checkpoint placed in the cache: same score as pyiqa given that file."""
    torch = pytest.importorskip("torch")
    pyiqa = pytest.importorskip("pyiqa")
    from pyiqa.archs.musiq_arch import MUSIQ

    from bfrbench.weights import cache_path, get_weight

    path = cache_path(get_weight("pyiqa-musiq-koniq"))
    path.parent.mkdir(parents=True)
    torch.save(MUSIQ(pretrained=False).state_dict(), path)
    m = create_metric("musiq")
    assert m.weights_present("pyiqa")
    img = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    vals, errs = m.score_images([ImageItem("a", img, "x")], Shared())  # type: ignore[attr-defined]
    ref = pyiqa.create_metric("musiq", device=torch.device("cpu"), pretrained_model_path=str(path), as_loss=False)
    with torch.no_grad():
        expected = float(ref(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255))
    assert vals[0] == pytest.approx(expected, rel=1e-5) and errs == [None]
