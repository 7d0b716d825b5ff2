"""Golden tests: the native DT-BFR SwinIR against the official module's outputs and checkpoint layout.

Fixtures: ../shared/fixtures/dtbfr/{swinir_tiny*, layout_swinir.json} (official SamsungLabs/DT-BFR at
ec3d4043e4d0c610fe7e345448cc1298e132b5dd). Tolerance (README "Tolerances observed"): forwards atol 1e-5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from bfrbench.errors import ConfigError, WeightsError
from bfrbench.methods.dtbfr.loading import expected_layout, load_swinir, official_key_fix, read_state_dict
from bfrbench.methods.dtbfr.swinir import SwinIR, SwinIRConfig, relative_position_index, swinir_config, window_mask

ATOL = 1e-5


def close(a: torch.Tensor, b: torch.Tensor, atol: float = ATOL) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    err = float((a.double() - b.double()).abs().max())
    assert err <= atol, f"max abs error {err:.3g} > {atol}"
    return err


@pytest.fixture(scope="module")
def io(dtbfr_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(dtbfr_dir / "swinir_tiny_io.safetensors"))


def test_full_size_layout_matches_official(dtbfr_json: Any) -> None:
    """swinir_gan.yaml on the meta device: the 732 keys, shapes and dtypes of layout_swinir.json, same order."""
    layout = dtbfr_json("layout_swinir.json")
    assert SwinIRConfig.from_dict(layout["source"]["constructor_kwargs"]) == swinir_config("gan-v1")
    with torch.device("meta"):
        model = SwinIR(swinir_config("gan-v1"))
    got = expected_layout(model)
    want = {k: (tuple(v["shape"]), v["dtype"]) for k, v in layout["keys"].items()}
    assert len(got) == layout["n_keys"] == 732
    assert list(got) == list(want)
    assert {k: (s, str(d).removeprefix("torch.")) for k, (s, d) in got.items()} == want
    assert set(dict(model.named_buffers(remove_duplicate=False))) - {"mean"} == set(layout["buffer_keys"])
    assert sum(p.numel() for p in model.parameters()) == 15792587


def test_buffers_equal_the_official_ones(dtbfr_dir: Path, swinir_tiny: Any) -> None:
    """relative_position_index and attn_mask recomputed here equal the file's (and the 512x512 full model's)."""
    from safetensors.torch import load_file

    sd = load_file(str(dtbfr_dir / "swinir_tiny_weights.safetensors"))
    ws = 4
    for k, v in sd.items():
        if k.endswith("relative_position_index"):
            assert v.dtype == torch.int64 and torch.equal(v, relative_position_index(ws))
        if k.endswith("attn_mask"):
            assert torch.equal(v, window_mask(8, 8, ws, ws // 2))
            assert set(v.unique().tolist()) == {0.0, -100.0}
    full = window_mask(64, 64, 8, 4)
    assert full.shape == (64, 64, 64) and int((full == -100).sum()) > 0


@torch.no_grad()
def test_tiny_forward_and_intermediates(swinir_tiny: Any, io: dict[str, torch.Tensor]) -> None:
    m = swinir_tiny
    x = io["x_64"]
    xm = x - m.mean
    close(torch.nn.functional.pixel_unshuffle(xm, 8), io["x_64_minus_mean_unshuffled"], 0.0)
    f = m.head(xm)
    close(f, io["conv_first_out_64"])
    close(m.body(f), io["body_plus_skip_64"])
    close(m(x), io["y_64"])


@torch.no_grad()
def test_tiny_forward_other_size_recomputes_mask(swinir_tiny: Any, io: dict[str, torch.Tensor]) -> None:
    """2x3x128x96: 16x12 tokens differ from img_size, so the shifted-window mask is rebuilt at run time."""
    close(swinir_tiny(io["x_128x96"]), io["y_128x96"])
    # batch invariance: each image alone gives the same output
    close(swinir_tiny(io["x_128x96"][1:]), io["y_128x96"][1:])


@torch.no_grad()
def test_bf16_path_runs_close(swinir_tiny: Any, io: dict[str, torch.Tensor]) -> None:
    import copy

    m = copy.deepcopy(swinir_tiny).to(torch.bfloat16)
    y = m(io["x_64"].to(torch.bfloat16)).float()
    assert float((y - io["y_64"]).abs().max()) < 0.05
    # another size: the shifted-window mask is rebuilt at run time in float32 and must not promote attn @ v
    y = m(io["x_128x96"].to(torch.bfloat16)).float()
    assert float((y - io["y_128x96"]).abs().max()) < 0.05


def test_module_prefix_rule_and_strict_errors(dtbfr_dir: Path, dtbfr_json: Any, tmp_path: Path,
                                             io: dict[str, torch.Tensor]) -> None:
    """The official reload_model rule: only the FIRST key decides; 'module.' is dropped from every key."""
    cfg = SwinIRConfig.from_dict(dtbfr_json("swinir_tiny.json")["constructor_kwargs"])
    sd = read_state_dict(dtbfr_dir / "swinir_tiny_weights.safetensors")
    wrapped = {"module." + k: v for k, v in sd.items()}
    assert official_key_fix(wrapped) == sd
    assert list(official_key_fix(sd, wrapped=True)) == list(wrapped)
    p = tmp_path / "ddp.pth"
    torch.save(wrapped, p)
    with torch.no_grad():
        close(load_swinir(p, cfg)(io["x_64"]), io["y_64"])
    # first key without prefix: nothing is stripped, so the prefixed keys are unexpected (as officially)
    mixed = dict(sd)
    k0 = next(iter(sd))
    mixed = {k0: sd[k0], **{("module." + k): v for k, v in sd.items() if k != k0}}
    torch.save(mixed, p)
    with pytest.raises(WeightsError, match="missing keys"):
        load_swinir(p, cfg)
    missing = dict(sd)
    mask_key = next(k for k in sd if k.endswith("attn_mask"))
    del missing[mask_key]
    torch.save(missing, p)
    with pytest.raises(WeightsError, match="1 missing keys.*attn_mask"):
        load_swinir(p, cfg)
    torch.save({"params": sd}, p)
    with pytest.raises(WeightsError, match="flat state dict"):
        load_swinir(p, cfg)
    with pytest.raises(WeightsError, match="wrong shape"):
        load_swinir(dtbfr_dir / "swinir_tiny_weights.safetensors", swinir_config("tiny", embed_dim=18,
                                                                                    num_heads=(2, 3)))


def test_config_validation_and_bad_sizes(swinir_tiny: Any) -> None:
    with pytest.raises(ConfigError, match="upsampler"):
        swinir_config("gan-v1", upsampler="pixelshuffle")
    with pytest.raises(ConfigError, match="unknown SwinIR config keys"):
        SwinIRConfig.from_dict({"img_size": 64, "bogus": 1})
    with pytest.raises(ConfigError, match="multiple of 32"), torch.no_grad():
        swinir_tiny(torch.zeros(1, 3, 48, 64))
    with pytest.raises(ConfigError, match="unshuffled by 8"), torch.no_grad():
        swinir_tiny(torch.zeros(1, 3, 60, 64))
