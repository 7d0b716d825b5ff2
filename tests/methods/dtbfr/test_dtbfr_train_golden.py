"""Golden test of one DT-BFR fine-tuning step against the official trainer (finetune_step.json/.safetensors).

The fixture ran ``trainer.py::TrainerSR.training_step`` of SamsungLabs/DT-BFR@ec3d404 twice: scenario A (batch 4,
micro-batch 4) and B (batch 4, micro-batch 2: two accumulation passes, exposing the D-gradient leak of quirk 1).
LPIPS weight 0 there (no VGG weights); tolerances from the fixture README.
"""

from __future__ import annotations

import math

import pytest
import torch
from dtbfr_train_helpers import load_finetune_fixture, tiny_disc, tiny_swinir

from bfrbench.methods.dtbfr.losses import LossWeights
from bfrbench.methods.dtbfr.train import make_optimizers, training_step


def _grad_close(got: torch.Tensor, want: torch.Tensor, name: str) -> None:
    atol = 1e-6 * float(want.abs().max())
    torch.testing.assert_close(got, want, rtol=1e-3, atol=max(atol, 1e-12), msg=lambda m: f"{name}: {m}")


def _run(shared, scenario: str, micro: int, leak: bool = True):
    meta, t = load_finetune_fixture(shared)
    G, D = tiny_swinir(shared), tiny_disc(t)
    opt_g, opt_d, _ = make_optimizers(G, D, lr=2e-5, lr_min=5e-6, iterations=20000)
    logits, preds = [], []
    res = training_step(G, D, opt_g, opt_d, t["lq"], t["gt"], t["gan_real"], micro_batch=micro,
                        weights=LossWeights(l1=1.0, lpips=0.0, gan=0.1), d_grad_leak=leak,
                        on_d_logits=logits.append, on_pred=preds.append)
    return meta, t, G, D, res, logits, preds


@pytest.mark.parametrize("scenario,micro", [("A", 4), ("B", 2)])
def test_training_step_matches_official(shared_fixtures, scenario, micro):
    meta, t, G, D, res, logits, preds = _run(shared_fixtures, scenario, micro)
    # losses per micro-batch (tolerance 1e-6)
    want = meta["losses"][scenario]
    assert len(res.micro) == len(want)
    for got, ref in zip(res.micro, want, strict=True):
        for k_got, k_ref in (("l1", "L1"), ("gan", "gan"), ("l_d_real", "l_d_real"), ("l_d_fake", "l_d_fake")):
            assert math.isclose(got[k_got], ref[k_ref], abs_tol=1e-6), (scenario, k_got, got[k_got], ref[k_ref])
    # every discriminator output, in call order, and every prediction
    n_calls = len([k for k in t if k.startswith(f"{scenario}.D_call")])
    assert len(logits) == n_calls == 3 * len(want)
    for i, lg in enumerate(logits):
        torch.testing.assert_close(lg, t[f"{scenario}.D_call{i}.logits"], rtol=1e-5, atol=1e-5)
    for j, p in enumerate(preds):
        torch.testing.assert_close(p, t[f"{scenario}.micro{j}.hq_pred"], rtol=1e-5, atol=1e-5)
    # accumulated gradients of G and D
    g_keys = [k for k in t if k.startswith(f"{scenario}.G_grad.")]
    params_g = dict(G.named_parameters())
    assert len(g_keys) == len(params_g)
    for k in g_keys:
        _grad_close(params_g[k.split(".G_grad.", 1)[1]].grad, t[k], k)
    params_d = dict(D.named_parameters())
    d_keys = [k for k in t if k.startswith(f"{scenario}.D_grad.")]
    assert len(d_keys) == len(params_d) == 12
    for k in d_keys:
        _grad_close(params_d[k.split(".D_grad.", 1)[1]].grad, t[k], k)
    # D state after the AdamW step, spectral-norm buffers included (updated by all 3 forwards per micro-batch)
    after = D.state_dict()
    for k in [k for k in t if k.startswith(f"{scenario}.D_after.")]:
        torch.testing.assert_close(after[k.split(".D_after.", 1)[1]], t[k], rtol=1e-5, atol=1e-6)
    # G after the step: first AdamW step = p - lr * g / (|g| + eps) (weight decay 0)
    w0 = tiny_swinir(shared_fixtures).state_dict()
    name = "conv_last.weight"
    g = t[f"{scenario}.G_grad.{name}"]
    torch.testing.assert_close(params_g[name].detach(), w0[name] - 2e-5 * g / (g.abs() + 1e-8), rtol=0, atol=2e-7)


def test_d_gradient_leak_is_the_official_quirk(shared_fixtures):
    """Without the leak, B's D gradient moves by the fixture's diagnostic amount; G's gradient does not change."""
    meta, t, G, D, _, _, _ = _run(shared_fixtures, "B", 2, leak=False)
    diffs = []
    for name, p in D.named_parameters():
        ref = t[f"B.D_grad.{name}"]
        diffs.append(float((p.grad - ref).abs().max() / ref.abs().max()))
    assert math.isclose(max(diffs), meta["diagnostics"]["B_D_grad_part_from_generator_loss_leak_max_rel"], rel_tol=1e-2)
    for name, p in G.named_parameters():
        _grad_close(p.grad, t[f"B.G_grad.{name}"], name)
