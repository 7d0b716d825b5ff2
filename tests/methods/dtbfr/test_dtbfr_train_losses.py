"""DT-BFR losses: LPIPS-VGG summed over the micro-batch with normalize=True, vanilla GAN BCE, frozen LPIPS."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from dtbfr_train_helpers import load_finetune_fixture, random_vgg_backbone, tiny_disc, tiny_swinir

from bfrbench.errors import ConfigError
from bfrbench.methods.dtbfr.losses import LossWeights, build_lpips_vgg, gan_bce, lpips_sum
from bfrbench.methods.dtbfr.train import make_optimizers, training_step


def test_gan_loss_is_vanilla_bce():
    x = torch.linspace(-4, 4, 50).view(2, 1, 5, 5)
    assert torch.allclose(gan_bce(x, True), F.softplus(-x).mean())
    assert torch.allclose(gan_bce(x, False), F.softplus(x).mean())
    with pytest.raises(ConfigError):
        LossWeights(l1=-1.0)


def test_lpips_term_in_the_training_step(shared_fixtures, tmp_path):
    lp = build_lpips_vgg(str(random_vgg_backbone(tmp_path / "vgg16.pth")))
    assert not lp.training and not any(p.requires_grad for p in lp.parameters())
    _, t = load_finetune_fixture(shared_fixtures)
    # the official call: LPIPS(pred, target, normalize=True) on [0, 1] images == LPIPS on [-1, 1], summed over the batch
    a, b = t["gt"][:2], t["lq"][:2]
    assert torch.allclose(lpips_sum(lp, a, b), lp(a * 2 - 1, b * 2 - 1).sum())
    lq, gt, real = (t[k][:2, :, :32, :32].contiguous() for k in ("lq", "gt", "gan_real"))  # small: VGG is costly
    grads, recs = {}, {}
    for w in (0.0, 0.1):
        G, D = tiny_swinir(shared_fixtures), tiny_disc(t)
        opt_g, opt_d, _ = make_optimizers(G, D)
        preds: list[torch.Tensor] = []
        res = training_step(G, D, opt_g, opt_d, lq, gt, real, micro_batch=1,
                            weights=LossWeights(lpips=w), lpips_model=lp, on_pred=preds.append)
        recs[w], grads[w] = res.micro, G.conv_last.weight.grad.clone()
    with torch.no_grad():
        want = [0.1 * float(lp(p * 2 - 1, gt[j:j + 1] * 2 - 1).sum()) for j, p in enumerate(preds)]
    assert [r["lpips"] for r in recs[0.1]] == pytest.approx(want, rel=1e-5)
    assert "lpips" not in recs[0.0][0] and all(math.isclose(recs[0.0][j]["l1"], recs[0.1][j]["l1"]) for j in range(2))
    assert not torch.allclose(grads[0.0], grads[0.1])  # the perceptual term reaches G's gradient
    with pytest.raises(ConfigError, match="LPIPS"):
        G, D = tiny_swinir(shared_fixtures), tiny_disc(t)
        training_step(G, D, *make_optimizers(G, D)[:2], lq, gt, None, weights=LossWeights())


def test_bf16_autocast_step_runs_close_to_fp32(shared_fixtures):
    """``train_dtype=bf16`` (a GPU option) through the same step on CPU: losses within bf16 rounding of fp32."""
    _, t = load_finetune_fixture(shared_fixtures)
    out = {}
    for dt in (None, torch.bfloat16):
        G, D = tiny_swinir(shared_fixtures), tiny_disc(t)
        opt_g, opt_d, _ = make_optimizers(G, D)
        res = training_step(G, D, opt_g, opt_d, t["lq"], t["gt"], t["gan_real"], micro_batch=2,
                            weights=LossWeights(lpips=0.0), autocast_dtype=dt)
        out[dt] = (res.mean(), G.conv_last.weight.detach().clone())
    for k, v in out[None][0].items():
        assert math.isclose(out[torch.bfloat16][0][k], v, rel_tol=3e-2), k
    assert torch.isfinite(out[torch.bfloat16][1]).all()
