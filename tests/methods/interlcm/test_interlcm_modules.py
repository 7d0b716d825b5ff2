"""Strict loads from the full-size layouts (meta device, no allocation) and the tiny module I/O fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from bfrbench.errors import WeightsError
from bfrbench.methods.interlcm import loading as L
from bfrbench.methods.interlcm.clip_vit import (
    VIT_B_16,
    CLIPVisionConfig,
    CLIPVisionTokens,
    clip_preprocess,
)
from bfrbench.methods.interlcm.visual_encoder import (
    FULL_VISUAL_ENCODER,
    VisualEncoder,
    VisualEncoderConfig,
)


def _meta_sd(layout: dict) -> dict[str, torch.Tensor]:
    return {k: torch.empty(v["shape"], device="meta") for k, v in layout["keys"].items()}


def test_interlcm_full_visual_encoder_matches_layout(ilcm_dir: Path) -> None:
    lay = json.loads((ilcm_dir / "layout_visual_encoder.json").read_text())
    with torch.device("meta"):
        m = VisualEncoder(FULL_VISUAL_ENCODER)
    sd = m.state_dict()
    assert {k: list(v.shape) for k, v in sd.items()} == {k: v["shape"] for k, v in lay["keys"].items()}
    assert list(sd) == list(lay["keys"])
    assert sum(p.numel() for p in m.parameters()) == lay["num_parameters"]
    types = {str(i): type(b).__name__ for i, b in enumerate(m.blocks)}
    official = {"Upsample_visual_encoder": "Upsample1D"}
    assert types == {k: official.get(v, v) for k, v in lay["blocks_index_to_type"].items()}
    L.build_visual_encoder(_meta_sd(lay), "layout")  # strict load of a layout-shaped state dict


def test_interlcm_full_spatial_encoder_matches_layout(ilcm_dir: Path) -> None:
    lay = json.loads((ilcm_dir / "layout_spatial_encoder.json").read_text())
    hub_cfg = lay["source"]["sd15_unet_config_json"]
    m = L._controlnet_on_meta(hub_cfg)  # ControlNetModel.from_unet(SD-1.5 UNet config), 361M params on meta
    sd = m.state_dict()
    assert {k: list(v.shape) for k, v in sd.items()} == {k: v["shape"] for k, v in lay["keys"].items()}
    assert sum(p.numel() for p in m.parameters()) == lay["num_parameters"] == 361_279_120
    want = lay["source"]["controlnet_config_resolved_by_diffusers"]
    got = L.controlnet_config(hub_cfg)
    assert {k: (list(v) if isinstance(v, tuple) else v) for k, v in got.items() if k in want} == want
    built = L.build_controlnet(_meta_sd(lay), "layout", hub_cfg)
    assert built.config.conditioning_embedding_out_channels == (16, 32, 96, 256)
    bad = _meta_sd(lay)
    bad.pop("controlnet_mid_block.weight")
    with pytest.raises(WeightsError, match="missing key.*controlnet_mid_block.weight"):
        L.build_controlnet(bad, "spatial_encoder_3step.pth", hub_cfg)


def test_interlcm_full_clip_matches_layout(ilcm_dir: Path) -> None:
    lay = json.loads((ilcm_dir / "layout_clip_vit_b16_visual.json").read_text())
    with torch.device("meta"):
        m = CLIPVisionTokens(VIT_B_16)
    want = {k[len("visual."):]: v["shape"] for k, v in lay["keys"].items()}
    assert {k: list(v.shape) for k, v in m.state_dict().items()} == want
    sd = {k: torch.empty(s, device="meta") for k, s in want.items()}
    sd["conv1.weight"] = torch.empty(768, 3, 14, 14, device="meta")
    with pytest.raises(WeightsError, match=r"conv1.weight has shape \(768, 3, 14, 14\)"):
        L.build_clip(sd, "ViT-B-14.pt")


def test_interlcm_visual_encoder_io(ilcm_dir: Path, ilcm_cfg: dict) -> None:
    kw = ilcm_cfg["visual_encoder"]["kwargs"]
    cfg = VisualEncoderConfig(nf=kw["nf"], emb_dim=kw["emb_dim"], ch_mult=tuple(kw["ch_mult"]),
                              res_blocks=kw["res_blocks"], out_channels=kw["out_channels"])
    ve = L.build_visual_encoder(L.read_params_ema(ilcm_dir / "tiny_visual_encoder.safetensors"), "tiny", cfg)
    io = load_file(str(ilcm_dir / "visual_encoder_io.safetensors"))
    with torch.no_grad():
        out = ve(io["input"])
    assert out.shape == (1, 77, 768)
    assert float((out - io["output"]).abs().max()) <= 1e-5


def test_interlcm_clip_preprocess_and_tokens(ilcm_dir: Path, ilcm_cfg: dict) -> None:
    io = load_file(str(ilcm_dir / "clip_preprocess_io.safetensors"))
    x = ((io["image_uint8_rgb"].permute(2, 0, 1)[None].double() / 255).float() - 0.5) / 0.5
    lq64 = torch.nn.functional.interpolate(x, size=(64, 64), mode="area")  # any 64 px [-1, 1] image
    vit = L.build_clip(L.read_clip_state_dict(ilcm_dir / "tiny_clip_vit.safetensors"), "tiny",
                       CLIPVisionConfig(**ilcm_cfg["clip_vit"]["kwargs"]))
    for aa in (False, True):
        tag = str(aa).lower()
        assert torch.equal(clip_preprocess(x, antialias=aa), io[f"preprocessed_antialias_{tag}"])
        with torch.no_grad():
            tokens = vit(io[f"preprocessed_antialias_{tag}"])
        assert tokens.shape == (1, 197, 64)
        assert float((tokens - io[f"tiny_vit_tokens_from_antialias_{tag}"]).abs().max()) <= 1e-5
    assert lq64.shape[-1] == 64 and io["lq64_preprocessed_antialias_false"].shape == (1, 3, 224, 224)
    # the two antialias modes really differ (the caveat the option exists for)
    assert float((io["preprocessed_antialias_true"] - io["preprocessed_antialias_false"]).abs().max()) > 0.5


def test_interlcm_read_params_ema_refuses_other_dicts(tmp_path: Path) -> None:
    p = tmp_path / "x.pth"
    torch.save({"params": {"a": torch.zeros(1)}}, p)
    with pytest.raises(WeightsError, match="params_ema"):
        L.read_params_ema(p)
    torch.save({"params_ema": {"blocks.0.weight": torch.zeros(1)}}, p)
    assert list(L.read_params_ema(p)) == ["blocks.0.weight"]
