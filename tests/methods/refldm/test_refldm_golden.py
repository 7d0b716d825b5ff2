"""Golden tests: the native ReF-LDM reproduces the official code's tiny outputs (fixture README section 5).

Tolerances (README "Suggested checks for a float32 CPU re-implementation"): single-pass tensors atol 1e-4;
DDIM latents max|d| <= 1e-5 * max|ref| + 1e-4; decoded images atol 1e-4; indices exact; uint8 images within
+-1 in at most 0.1 % of values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bfrbench.methods.refldm.ddim import DDIMTrace, ddim_coefficients, ddim_timesteps
from bfrbench.methods.refldm.model import to_uint8
from bfrbench.methods.refldm.restorer import normalize_image
from bfrbench.methods.refldm.unet import stack_ref_kv, timestep_embedding

ATOL = 1e-4


def close(a: torch.Tensor, b: torch.Tensor, atol: float = ATOL) -> None:
    assert a.shape == b.shape, (a.shape, b.shape)
    err = float((a.float() - b.float()).abs().max())
    assert err <= atol, f"max abs error {err:.3g} > {atol}"


def latent_close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    err = float((a - b).abs().max())
    assert err <= 1e-5 * float(b.abs().max()) + 1e-4, f"max abs error {err:.3g} at max|ref| {float(b.abs().max()):.3g}"


# -- VQGAN -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vq(refldm_dir: Path) -> tuple[Any, dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    from bfrbench.methods.refldm.loading import check_vqgan_state_dict
    from bfrbench.methods.refldm.model import RefLDMConfig
    from bfrbench.methods.refldm.vqgan import VQGAN, VQGANConfig

    cfg = VQGANConfig(ch=32, ch_mult=(1, 1, 2, 1), num_res_blocks=1, resolution=128, n_embed=64)
    sd = check_vqgan_state_dict(load_file(str(refldm_dir / "tiny_vqgan_weights.safetensors")),
                                RefLDMConfig(vqgan=cfg))
    m = VQGAN(cfg).eval()
    m.load_state_dict(sd, strict=True)
    return m, load_file(str(refldm_dir / "tiny_vqgan_io.safetensors"))


@torch.no_grad()
def test_vqgan_encode_quantize_decode(vq: tuple[Any, dict[str, torch.Tensor]]) -> None:
    m, io = vq
    x = io["input.image_u8"].float() / 127.5 - 1.0
    close(x, io["input.image"], 0.0)
    h = m.encoder(x)
    close(h, io["encode.encoder_out"])
    z = m.encode(x)
    close(z, io["encode.z"])
    zq, loss, idx = m.quantize(z)
    assert torch.equal(idx, io["quantize.indices"])
    close(zq, io["quantize.z_q"])
    close(m.quantize.embedding.weight[idx].reshape(2, 16, 16, 8).permute(0, 3, 1, 2), io["quantize.codebook_lookup"], 0.0)
    close(loss, io["quantize.emb_loss"], 1e-6)
    close(m.post_quant_conv(zq), io["decode.post_quant_conv"])
    close(m.decode(z), io["decode.image"])


@torch.no_grad()
def test_vqgan_internal_activations(vq: tuple[Any, dict[str, torch.Tensor]]) -> None:
    m, io = vq
    x = io["input.image"][:1]
    enc = m.encoder
    h = enc.conv_in(x)
    for level in enc.down:
        for block in level.block:
            h = block(h)
        if hasattr(level, "downsample"):
            h = level.downsample(h)
    h = enc.mid.attn_1(enc.mid.block_1(h))
    close(h, io["act.b0.encoder.mid.attn_1"])
    h = enc.mid.block_2(h)
    close(h, io["act.b0.encoder.mid.block_2"])
    close(enc.conv_out(torch.nn.functional.silu(enc.norm_out(h))), io["act.b0.encoder.conv_out"])
    zq, _, _ = m.quantize(m.quant_conv(m.encoder(x)))
    d = m.decoder.conv_in(m.post_quant_conv(zq))
    close(d, io["act.b0.decoder.conv_in"])
    d = m.decoder.mid.attn_1(m.decoder.mid.block_1(d))
    close(d, io["act.b0.decoder.mid.attn_1"])
    close(m.decoder.mid.block_2(d), io["act.b0.decoder.mid.block_2"])


# -- conditioning and the UNet with CacheKV ----------------------------------------------------------------
@torch.no_grad()
def test_preprocessing_and_conditioning_latents(tiny_model: Any, unet_io: dict[str, torch.Tensor]) -> None:
    io = unet_io
    src = io["preprocess.src_u8_chw"].permute(1, 2, 0).numpy()
    close(normalize_image(src, 128), io["preprocess.out"], 1e-6)
    lq = normalize_image(io["input.lq_image_u8"].permute(1, 2, 0).numpy(), 128)
    close(lq, io["input.lq_image"], 0.0)
    refs = [normalize_image(r.permute(1, 2, 0).numpy(), 128) for r in io["input.ref_images_u8"]]
    wide = torch.cat(refs, dim=-1)
    close(wide, io["input.ref_image"], 0.0)
    close(tiny_model.vqgan.encode(lq), io["cond.lq_latent"])
    lat = tiny_model.encode_refs(wide, 2)
    close(torch.cat(list(lat), dim=-1)[None], io["cond.ref_latent"])
    # encoding the references one at a time is *not* what the official code does (README section 3)
    sep = torch.cat([tiny_model.vqgan.encode(r) for r in refs], dim=-1)
    assert float((sep - io["cond.ref_latent"]).abs().max()) > 0.1


@torch.no_grad()
def test_timestep_embedding(tiny_model: Any, unet_io: dict[str, torch.Tensor]) -> None:
    s = timestep_embedding(unet_io["input.t"], 32)
    close(s, unet_io["t_emb.sinusoid"], 1e-6)
    close(tiny_model.unet.time_embed(s), unet_io["t_emb.time_embed"])


@torch.no_grad()
def test_unet_cachekv_forward(attention_backend: str, tiny_model: Any, unet_io: dict[str, torch.Tensor],
                              io_meta: dict[str, Any]) -> None:
    io, u = unet_io, tiny_model.unet
    layers = io_meta["unet_forward"]["attention_layers_in_cache_order"]
    assert [f"{n}.attention" for n in u.attention_layers()] == layers
    refs = torch.cat(io["cond.ref_latent"].chunk(2, dim=-1))
    cond = tiny_model.reference_kv(refs)
    null = tiny_model.reference_kv(refs * 0)
    for tag, kv in (("cond", cond), ("uncond", null)):
        for j in range(2):
            for li, name in enumerate(layers):
                close(kv[j][li][0], io[f"kv.{tag}.{name}.ref{j}.k"])
                close(kv[j][li][1], io[f"kv.{tag}.{name}.ref{j}.v"])
    x = torch.cat([io["input.x_t"], io["cond.lq_latent"]], dim=1)
    t = io["input.t"]
    e_c, _ = u(x, t, stack_ref_kv([cond]))
    close(e_c, io["eps.cond"])
    e_u, _ = u(x, t, stack_ref_kv([null]))
    close(e_u, io["eps.uncond"])
    e_n, _ = u(x, t, None)
    close(e_n, io["eps.noref"])
    e2, _ = u(torch.cat([x, x]), torch.cat([t, t]), stack_ref_kv([null, cond]))
    close(e2, io["eps.cfg_batch2"])
    close(e2[0] + 1.5 * (e2[1] - e2[0]), io["eps.cfg1.5_guided"][0])
    out, _ = u(io["refpass.input_ref0"], torch.zeros(1, dtype=torch.long))
    close(out, io["refpass.output_ref0"])


# -- DDIM -------------------------------------------------------------------------------------------------
def test_ddim_schedules_full_size(refldm_dir: Path) -> None:
    import json

    lay = json.loads((refldm_dir / "layout_refldm.json").read_text())["ddim_schedules_S50_full_size"]
    for schedule in ("uniform", "uniform_trailing"):
        want = lay[schedule]
        assert ddim_timesteps(50, schedule).tolist() == want["ddim_timesteps_ascending"]
        c = ddim_coefficients(50, schedule, 0.0)
        np.testing.assert_array_equal(c.a_t[::-1], np.asarray(want["a_t"], dtype=np.float32))
        np.testing.assert_array_equal(c.a_prev[::-1], np.asarray(want["a_prev"], dtype=np.float32))


RUNS = ["trailing_cfg1.5_eta0", "uniform_cfg1.5_eta0", "trailing_cfg1.5_eta0.5", "trailing_cfg1.0_eta0"]


@pytest.mark.parametrize("run", RUNS)
def test_ddim_run_replays_official(run: str, tiny_model: Any, ddim_io: dict[str, torch.Tensor],
                                   io_meta: dict[str, Any]) -> None:
    io, meta = ddim_io, io_meta["ddim_runs"][run]
    c = ddim_coefficients(meta["ddim_steps"], meta["schedule"], meta["eta"], tiny_model.acp)
    assert c.timesteps.tolist() == meta["timesteps_in_loop_order"] == io[f"{run}.timesteps"].tolist()
    for i, st in enumerate(meta["per_step"]):
        for ours, key in ((c.a_t, "a_t"), (c.a_prev, "a_prev"), (c.sigma, "sigma_t"),
                          (c.sqrt_one_minus_a_t, "sqrt_one_minus_a_t")):
            assert abs(float(ours[i]) - st[key]) <= 1e-7 * max(1.0, abs(st[key])), (i, key)
    # the per-image generator with the official seed replays the official random stream exactly
    g = torch.Generator().manual_seed(meta["seed"])
    close(torch.randn((1, 8, 16, 16), generator=g), io[f"{run}.x_T"], 0.0)
    for i in range(4):
        close(torch.randn((1, 8, 16, 16), generator=g), io[f"{run}.noise_raw"][i], 0.0)
    g = torch.Generator().manual_seed(meta["seed"])
    x_T = torch.randn((1, 8, 16, 16), generator=g)
    refs = torch.cat(io["cond.ref_latent"].chunk(2, dim=-1))
    tr = DDIMTrace()
    z = tiny_model.sample(io["cond.lq_latent"], [tiny_model.reference_kv(refs)], [2], x_T, c,
                          cfg_scale=meta["cfg_scale"], generators=[g], trace=tr)
    for i in range(5):
        latent_close(tr.x_inter[i], io[f"{run}.x_inter"][i])
    for i in range(4):
        latent_close(tr.pred_x0[i], io[f"{run}.pred_x0"][i])
        close(tr.eps[i], io[f"{run}.eps_guided"][i])
        close(tr.eps_cond[i], io[f"{run}.eps_cond"][i])
        close(tr.noise[i], io[f"{run}.noise_raw"][i], 0.0)
        if meta["cfg_scale"] != 1.0:
            close(tr.eps_uncond[i], io[f"{run}.eps_uncond"][i])
    assert tr.eps_uncond == [] or meta["cfg_scale"] != 1.0
    latent_close(z, io[f"{run}.sample_latent"])
    with torch.no_grad():
        zq, _, idx = tiny_model.vqgan.quantize(z)
        assert torch.equal(idx, io[f"{run}.decode.indices"])
        close(zq, io[f"{run}.decode.z_q"], 1e-5 * 256)
        img = tiny_model.decode(z)
    close(img, io[f"{run}.decode.image"])
    u8 = to_uint8(img)[0].astype(np.int16)
    ref = io[f"{run}.image_u8_hwc"].numpy().astype(np.int16)
    diff = np.abs(u8 - ref)
    assert diff.max() <= 1 and (diff > 0).mean() <= 0.001


@pytest.mark.parametrize("run", ["trailing_cfg1.5_eta0", "uniform_cfg1.5_eta0"])
def test_restorer_path_reproduces_official_image(run: str, refldm_dir: Path, ddim_io: dict[str, torch.Tensor],
                                                 io_meta: dict[str, Any]) -> None:
    """From the uint8 inputs to the uint8 output through RefLDM's own path (preprocess, wide reference encoding,
    CacheKV, CFG DDIM with the per-image generator at the official seed, decode, truncation)."""
    from bfrbench.methods.refldm import RefLDM

    meta = io_meta["ddim_runs"][run]
    r = RefLDM(weights=str(refldm_dir / "tiny_refldm_weights.safetensors"),
               config=str(refldm_dir / "tiny_refldm_config.json"), steps=meta["ddim_steps"],
               schedule=meta["schedule"], cfg_scale=meta["cfg_scale"], eta=meta["eta"])
    lq = ddim_io["input.lq_image_u8"].permute(1, 2, 0).numpy()[None]  # (1, 128, 128, 3): the model size
    refs = [[x.permute(1, 2, 0).numpy() for x in ddim_io["input.ref_images_u8"]]]
    out = r.restore_tensors(lq, refs, [meta["seed"]])[0].astype(np.int16)
    diff = np.abs(out - ddim_io[f"{run}.image_u8_hwc"].numpy().astype(np.int16))
    assert diff.max() <= 1 and (diff > 0).mean() <= 0.001
