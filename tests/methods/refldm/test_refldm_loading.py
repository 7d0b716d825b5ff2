"""Strict loading of the official checkpoint layouts (layout_refldm.json / layout_vqgan.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from bfrbench.errors import ConfigError, WeightsError
from bfrbench.methods.refldm.loading import (
    VQGAN_PREFIXES,
    check_vqgan_state_dict,
    ema_name,
    expected_refldm_layout,
    expected_vqgan_layout,
    load_model,
    read_state_dict,
    split_refldm_state_dict,
)
from bfrbench.methods.refldm.model import RefLDMConfig


def _layout(path: Path) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v["shape"]) for k, v in json.loads(path.read_text())["keys"].items()}


def _meta_sd(layout: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """State dict of meta tensors with exactly the layout's keys and shapes (full size: nothing allocated)."""
    return {k: torch.empty(s, device="meta") for k, s in layout.items()}


def test_full_size_layouts_match_official(refldm_dir: Path) -> None:
    want = _layout(refldm_dir / "layout_refldm.json")
    got = expected_refldm_layout(RefLDMConfig())
    assert got == want  # every key and shape of refldm.ckpt (1493 keys)
    assert len(got) == 1493
    ema_map = json.loads((refldm_dir / "layout_refldm.json").read_text())["ema_to_param"]
    assert len(ema_map) == 366
    assert all(ema_name(p[len("model.diffusion_model."):]) == e for e, p in ema_map.items())
    assert expected_vqgan_layout(RefLDMConfig()) == _layout(refldm_dir / "layout_vqgan.json")


def test_full_size_strict_check_accepts_layout_and_rejects_changes(refldm_dir: Path) -> None:
    from bfrbench.methods.refldm import loading

    want = expected_refldm_layout(RefLDMConfig())
    sd = _meta_sd(_layout(refldm_dir / "layout_refldm.json"))
    loading._check_keys("refldm.ckpt", sd, want)  # passes
    bad = dict(sd)
    bad.pop("model_ema.diffusion_modelout2weight")
    with pytest.raises(WeightsError, match="1 missing keys"):
        loading._check_keys("refldm.ckpt", bad, want)
    bad = dict(sd, **{"model.diffusion_model.extra.weight": torch.empty(1, device="meta")})
    with pytest.raises(WeightsError, match="1 unexpected keys"):
        loading._check_keys("refldm.ckpt", bad, want)
    bad = dict(sd, **{"first_stage_model.quantize.embedding.weight": torch.empty(8191, 8, device="meta")})
    with pytest.raises(WeightsError, match="wrong shape.*8191"):
        loading._check_keys("refldm.ckpt", bad, want)
    vq = _meta_sd(_layout(refldm_dir / "layout_vqgan.json"))
    loss = json.loads((refldm_dir / "layout_vqgan.json").read_text())["probably_also_present_ignored"]["keys"]
    vq.update({k: torch.empty(v["shape"], device="meta") for k, v in loss.items()})
    assert len(check_vqgan_state_dict(vq, RefLDMConfig())) == 249  # loss.* ignored, everything else strict


@pytest.fixture(scope="module")
def tiny_sd(refldm_dir: Path) -> dict[str, torch.Tensor]:
    return read_state_dict(refldm_dir / "tiny_refldm_weights.safetensors")


def test_tiny_layout_and_ema_selection(tiny_sd: dict[str, torch.Tensor], tiny_cfg: Any) -> None:
    assert set(tiny_sd) == set(expected_refldm_layout(tiny_cfg))
    unet, vq, notes = split_refldm_state_dict(tiny_sd, tiny_cfg)
    raw, _, _ = split_refldm_state_dict(tiny_sd, tiny_cfg, use_ema=False)
    k = "input_blocks.1.0.in_layers.2.weight"
    assert torch.equal(unet[k], tiny_sd[ema_name(k)])
    assert torch.equal(raw[k], tiny_sd["model.diffusion_model." + k])
    assert not torch.equal(unet[k], raw[k])  # the fixture draws EMA independently of the raw weights
    assert vq is not None and set(vq) == set(expected_vqgan_layout(tiny_cfg)) and notes == []


def test_checkpoint_files_round_trip(tmp_path: Path, tiny_sd: dict[str, torch.Tensor], tiny_cfg: Any,
                                     refldm_dir: Path) -> None:
    # refldm.ckpt without the VQGAN groups + a Lightning-style vqgan.ckpt with loss.* keys
    no_vq = {k: v for k, v in tiny_sd.items() if not k.startswith(VQGAN_PREFIXES)}
    torch.save(no_vq, tmp_path / "refldm.ckpt")
    vq = {k[len("first_stage_model."):]: v for k, v in tiny_sd.items() if k.startswith("first_stage_model.")}
    torch.save({"state_dict": {**vq, "loss.logvar": torch.zeros(())}, "epoch": 3}, tmp_path / "vqgan.ckpt")
    with pytest.raises(ConfigError, match="no VQGAN weights"):
        load_model(tiny_cfg, tmp_path / "refldm.ckpt")
    m, notes = load_model(tiny_cfg, tmp_path / "refldm.ckpt", tmp_path / "vqgan.ckpt")
    assert notes == []
    assert torch.equal(m.vqgan.quantize.embedding.weight, vq["quantize.embedding.weight"])
    # partial VQGAN groups are refused
    partial = {k: v for k, v in tiny_sd.items() if not k.startswith("cond_stage_model.lq_image.")}
    with pytest.raises(WeightsError, match="only some VQGAN groups"):
        split_refldm_state_dict(partial, tiny_cfg)
    # differing alias copies: the ref_image copy wins (applied last by the official loader), with a note
    changed = dict(tiny_sd)
    changed["first_stage_model.quant_conv.bias"] = tiny_sd["first_stage_model.quant_conv.bias"] + 1
    _, vq2, notes = split_refldm_state_dict(changed, tiny_cfg)
    assert vq2 is not None and torch.equal(vq2["quant_conv.bias"], tiny_sd["cond_stage_model.ref_image.quant_conv.bias"])
    assert len(notes) == 1 and "first_stage_model" in notes[0]
    # a different diffusion schedule is refused
    wrong = dict(tiny_sd, alphas_cumprod=tiny_sd["alphas_cumprod"] * 0.99)
    with pytest.raises(WeightsError, match="alphas_cumprod"):
        split_refldm_state_dict(wrong, tiny_cfg)


class NotATensor:  # a pickled custom class cannot be read with weights_only=True
    pass


def test_unsafe_pickle_is_refused(tmp_path: Path) -> None:
    torch.save({"state_dict": {"x": torch.zeros(1)}, "obj": NotATensor()}, tmp_path / "evil.ckpt")
    with pytest.raises(WeightsError, match="weights_only"):
        read_state_dict(tmp_path / "evil.ckpt")
