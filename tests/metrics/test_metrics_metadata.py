"""Every registered metric carries complete, consistent metadata, and the leaderboard derives from it."""

from __future__ import annotations

import pytest

from bfrbench.errors import ConfigError, RegistryError
from bfrbench.metrics import METRICS, list_metrics, metric_info
from bfrbench.metrics._base import AXES, KINDS, NoRefMetric, PairMetric, SetMetric
from bfrbench.metrics._faces import FaceBackendMetric, backend_class


def test_registry_walk_metadata_complete_and_consistent() -> None:
    from bfrbench.weights import all_weights

    table = all_weights()
    base_kind = {PairMetric: "FR", NoRefMetric: "NR", SetMetric: "set"}
    assert len(METRICS) >= 13
    for name, cls in METRICS.items():
        assert cls.kind in KINDS and cls.axis in AXES, name
        assert isinstance(cls.higher_is_better, bool) and isinstance(cls.include_by_default, bool), name
        (base,) = [b for b in base_kind if issubclass(cls, b)]
        assert cls.kind == base_kind[base], name
        assert cls.resolve_default_variant() in cls.variants, name
        desc = cls.describe()
        assert desc["axis"] == cls.axis and set(desc["cpu_only"]) == set(cls.variants)
        for v in cls.variants:
            info = metric_info(f"{name}:{v}")
            assert info.known_variant and info.name == name and info.variant == v
            assert (info.kind, info.higher_is_better, info.axis) == (cls.kind, cls.higher_is_better, cls.axis)
            assert info.set_level == (cls.kind == "set")
            assert isinstance(info.cpu_only, bool) and info.cpu_only == cls.variant_cpu_only(v)
            assert info.weights == tuple(cls.weights_for(v))
            assert all(w in table for w in info.weights), (name, v, info.weights)
            if issubclass(cls, FaceBackendMetric) and cls.is_backend_variant(v):  # metadata from the backend class
                backend = backend_class(v, cls.backend_role)
                assert info.cpu_only == backend.cpu_only
                assert info.weights in backend.weight_options
    rows = {r["spec"]: r for r in list_metrics()}
    assert rows["lmd:dlib68"]["cpu_only"] is True and rows["lmd:awing98"]["cpu_only"] is False
    assert rows["niqe:basicsr"]["axis"] == "perception" and rows["psnr:rgb"]["axis"] == "distortion"


def test_metric_info_values_and_unknowns() -> None:
    assert metric_info("fid:legacy-hq").set_level and not metric_info("niqe").set_level
    assert METRICS.get("kid").include_by_default is False and METRICS.get("fid").include_by_default is True
    psnr = metric_info("psnr")
    assert (psnr.variant, psnr.kind, psnr.higher_is_better, psnr.axis) == ("rgb", "FR", True, "distortion")
    # a variant quoted from a paper but not reproduced keeps the class-level metadata
    quoted = metric_info("fid:ffhq70k")
    assert not quoted.known_variant and quoted.set_level and quoted.higher_is_better is False
    with pytest.raises(RegistryError, match="did you mean 'lpips'"):
        metric_info("lpipz:vgg")


def test_leaderboard_directions_and_axes_come_from_the_registry() -> None:
    from bfrbench.leaderboard.plots import pick_pd_axes
    from bfrbench.leaderboard.suite import MetricSpec, metric_higher_is_better, metric_is_set_level

    for spec in ("psnr:rgb", "ssim:y", "ids:arcface", "musiq:pyiqa", "niqe:basicsr", "lpips:vgg", "fid:clean-hq",
                 "kid:legacy-hq", "lmd:dlib68", "deg:dlib", "flpips:vgg", "maniqa:pyiqa", "clipiqa:pyiqa"):
        name = spec.split(":")[0]
        assert metric_higher_is_better(spec) is METRICS.get(name).higher_is_better
        assert metric_is_set_level(spec) == (name in ("fid", "kid")) == MetricSpec(spec).is_set_level
    assert metric_higher_is_better("mae:rgb", {"mae:rgb": False}) is False
    with pytest.raises(ConfigError, match="direction unknown"):
        metric_higher_is_better("mae:rgb")
    assert not metric_is_set_level("mae:rgb")
    assert pick_pd_axes(["mae:rgb", "fid:legacy-hq", "ids:dlib", "psnr:rgb", "niqe:basicsr"]) == ("ids:dlib",
                                                                                                "fid:legacy-hq")
    assert pick_pd_axes(["niqe:basicsr", "psnr:rgb"], {"x": "psnr:rgb", "y": "niqe:basicsr"}) == ("psnr:rgb",
                                                                                                 "niqe:basicsr")
    assert pick_pd_axes(["psnr:rgb", "ssim:rgb"]) is None
