"""The learnable latent mask gates the face-recognition gradient exactly; the FR network loads strictly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from bfrbench.methods.clrface.config import CLRFaceConfig


@pytest.fixture(scope="module")
def parts() -> dict:
    from bfrbench.methods.clrface.autoencoder import VQAutoencoder
    from bfrbench.methods.clrface.face_recognition import build_fr
    from bfrbench.methods.clrface.mask import LatentMask

    cfg = CLRFaceConfig.tiny()
    torch.manual_seed(1)
    ae = VQAutoencoder(cfg.autoencoder).eval().requires_grad_(False)
    fr, _ = build_fr(cfg.fr)
    mask = LatentMask(cfg.mask, 4, 16)
    with torch.no_grad():  # a checkerboard of channels/positions: half the features selected
        mask.logits.copy_(torch.randn(4, 16, 16, generator=torch.Generator().manual_seed(5)))
    return {"cfg": cfg, "ae": ae, "fr": fr, "mask": mask.hard()}


def _reference_grad(z: torch.Tensor, ae, fr, target: torch.Tensor) -> torch.Tensor:
    """Independent restatement: d/dz sum_i (1 - cos(FR(gray128(clamp(G(z))))_i, target_i))."""
    z = z.detach().clone().requires_grad_(True)
    img = ae.decode(z).clamp(-1, 1)
    grey = (0.2989 * img[:, 0] + 0.5870 * img[:, 1] + 0.1140 * img[:, 2])[:, None]
    grey = F.interpolate(grey, size=(32, 32), mode="bilinear", align_corners=False)
    e = fr(grey)
    loss = (1 - (e * target).sum(1) / (e.norm(dim=1).clamp_min(1e-8) * target.norm(dim=1).clamp_min(1e-8))).sum()
    loss.backward()
    return z.grad


def test_mask_gates_identity_gradient_exactly(parts: dict) -> None:
    from bfrbench.methods.clrface.guidance import guided_estimate, identity_gradient

    ae, fr, m = parts["ae"], parts["fr"], parts["mask"]
    z = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(2))
    target = torch.randn(2, 32, generator=torch.Generator().manual_seed(3))
    g = identity_gradient(z, ae.decode, fr, target)
    ref = _reference_grad(z, ae, fr, target)
    assert torch.allclose(g, ref, rtol=1e-4, atol=1e-7)
    on = m.expand_as(z).bool()
    assert 0.3 < on.float().mean() < 0.7
    assert (g[on] != 0).float().mean() > 0.9  # the gradient really is there where the mask lets it through
    out = guided_estimate(z, m, g, 0.7)
    assert torch.equal(out[~on], z[~on])  # untouched, bit for bit
    assert torch.equal(out[on], z[on] - 0.7 * g[on])
    # per-image gradients do not depend on the batch (sum of per-image losses)
    g1 = identity_gradient(z[1:], ae.decode, fr, target[1:])
    assert torch.allclose(g1, g[1:], rtol=1e-4, atol=1e-7)


def test_guided_sampler_step_changes_only_masked_features(parts: dict) -> None:
    from bfrbench.methods.clrface.sampler import Guidance, sample
    from bfrbench.methods.clrface.score import VPSDE

    ae, fr, m = parts["ae"], parts["fr"], parts["mask"]
    sde = VPSDE(0.1, 20.0, 1e-3)
    cond = torch.zeros(1, 4, 16, 16)
    def eps_fn(z, t):
        return 0.5 * z

    target = torch.randn(1, 32, generator=torch.Generator().manual_seed(4))
    plain = sample(eps_fn, sde, cond, [torch.Generator().manual_seed(9)], steps=1)
    guide = Guidance(mask=m, fr=fr, target=target, decode=ae.decode, strength=0.3)
    guided = sample(eps_fn, sde, cond, [torch.Generator().manual_seed(9)], steps=1, guidance=guide)
    on = m.expand_as(plain).bool()
    assert torch.equal(guided[~on], plain[~on])
    assert not torch.equal(guided[on], plain[on])
    g = _reference_grad(plain, ae, fr, target)
    assert torch.allclose(guided[on], plain[on] - 0.3 * g[on], rtol=1e-4, atol=1e-6)


def test_fr_checkpoint_loads_strictly_with_module_prefix(tmp_path: Path, parts: dict) -> None:
    from bfrbench.errors import WeightsError
    from bfrbench.methods.clrface.face_recognition import (
        ResNetArcFace,
        build_fr,
        init_seeded_,
    )

    cfg = parts["cfg"].fr
    src = init_seeded_(ResNetArcFace(cfg), 42).eval()
    torch.save({f"module.{k}": v for k, v in src.state_dict().items()}, tmp_path / "arcface.pth")  # DataParallel style
    fr, path = build_fr(cfg, str(tmp_path / "arcface.pth"))
    assert path == str(tmp_path / "arcface.pth") and not any(p.requires_grad for p in fr.parameters())
    x = torch.rand(2, 1, 32, 32)
    assert torch.equal(fr(x), src(x))
    torch.save({"conv1.weight": torch.zeros(3)}, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match="not a ResNetArcFace checkpoint"):
        build_fr(cfg, str(tmp_path / "bad.pth"))


def test_registered_fr_weights_missing_offline_says_how_to_get_them() -> None:
    from bfrbench import weights as W
    from bfrbench.errors import MissingWeightsError
    from bfrbench.methods.clrface.config import FRConfig
    from bfrbench.methods.clrface.face_recognition import build_fr

    w = W.get_weight("arcface-resnet18-gfpgan")
    assert w.urls == ("https://github.com/TencentARC/GFPGAN/releases/download/v0.1.0/arcface_resnet18.pth",)
    with pytest.raises(MissingWeightsError, match="bfrbench weights fetch arcface-resnet18-gfpgan"):
        build_fr(FRConfig())
