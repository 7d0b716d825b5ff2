"""Forward shapes of every CLR-Face module, the config round trip, and the VP SDE arithmetic."""

from __future__ import annotations

import math

import pytest
import torch

from bfrbench.errors import ConfigError
from bfrbench.methods.clrface.config import CLRFaceConfig


@pytest.fixture(scope="module")
def cfg() -> CLRFaceConfig:
    return CLRFaceConfig.tiny()


def test_config_json_round_trip_and_validation(cfg: CLRFaceConfig) -> None:
    import json

    for c in (cfg, CLRFaceConfig()):
        assert CLRFaceConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert CLRFaceConfig().autoencoder.factor == 4 and CLRFaceConfig().latent_size == 128
    bad = cfg.to_dict()
    bad["score"]["nope"] = 1
    with pytest.raises(ConfigError, match="nope"):
        CLRFaceConfig.from_dict(bad)
    bad = cfg.to_dict()
    bad["image_size"] = 66
    with pytest.raises(ConfigError, match="multiple"):
        CLRFaceConfig.from_dict(bad)


def test_autoencoder_shapes_and_codebook(cfg: CLRFaceConfig) -> None:
    from bfrbench.methods.clrface.autoencoder import VQAutoencoder

    torch.manual_seed(0)
    ae = VQAutoencoder(cfg.autoencoder).eval()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    z = ae.encode(x)
    assert z.shape == (2, 4, 16, 16)  # f = 4
    zq, vq, idx = ae.codebook(z)
    assert idx.shape == (2, 16, 16) and vq.ndim == 0
    codes = torch.nn.functional.normalize(ae.codebook.embedding.weight, dim=1)
    # every quantised vector is a unit codebook row, the nearest one to the unit-normalised latent
    flat = zq.permute(0, 2, 3, 1).reshape(-1, 4)
    zn = z.permute(0, 2, 3, 1).reshape(-1, 4)
    d = torch.cdist(zn / zn.norm(dim=1, keepdim=True), codes)
    assert torch.equal(idx.reshape(-1), d.argmin(1))
    assert torch.allclose(flat, codes[d.argmin(1)], atol=1e-7)  # straight-through: z + (zq - z).detach()
    rec, _ = ae(x)
    assert rec.shape == x.shape
    assert ae.decode(zq).shape == (2, 3, 64, 64)


def test_score_net_irn_mask_fr_shapes(cfg: CLRFaceConfig) -> None:
    from bfrbench.methods.clrface.face_recognition import ResNetArcFace, gray_resize
    from bfrbench.methods.clrface.irn import IdentityRecoveryNetwork
    from bfrbench.methods.clrface.mask import LatentMask
    from bfrbench.methods.clrface.score import ScoreUNet

    net = ScoreUNet(cfg.score, 4)
    z = torch.randn(3, 4, 16, 16)
    assert net(z, torch.rand(3), z).shape == (3, 4, 16, 16)
    irn = IdentityRecoveryNetwork(cfg.irn, cfg.fr.embedding)
    assert irn(torch.rand(2, 3, 64, 64)).shape == (2, 32)
    m = LatentMask(cfg.mask, 4, 16)
    assert m.soft().shape == (1, 4, 16, 16) and torch.allclose(m.soft(), torch.full((1, 4, 16, 16), 0.8807971))
    with torch.no_grad():
        m.logits.fill_(-1.0)
    with torch.no_grad():
        m.logits[0, :3] = 2.0
    assert set(m.hard().unique().tolist()) == {0.0, 1.0} and m.fraction() == 3 * 16 / (4 * 16 * 16)
    fr = ResNetArcFace(cfg.fr).eval()
    g = gray_resize(torch.rand(2, 3, 64, 64) * 2 - 1, 32)
    assert g.shape == (2, 1, 32, 32) and fr(g).shape == (2, 32)


def test_full_size_fr_matches_gfpgan_arcface_resnet18_layout() -> None:
    """Key names and shapes of GFPGAN's arcface_resnet18.pth (ResNetArcFace, IRBlock, [2,2,2,2], use_se=False)."""
    from bfrbench.methods.clrface.config import FRConfig
    from bfrbench.methods.clrface.face_recognition import ResNetArcFace

    sd = ResNetArcFace(FRConfig()).state_dict()
    assert sd["conv1.weight"].shape == (64, 1, 3, 3)
    assert sd["fc5.weight"].shape == (512, 512 * 8 * 8)
    assert sd["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
    assert "layer1.0.downsample.0.weight" not in sd and "layer1.1.bn0.weight" in sd
    assert sd["layer4.1.conv2.weight"].shape == (512, 512, 3, 3) and sd["bn5.running_var"].shape == (512,)
    assert not any(".se." in k for k in sd)


def test_vp_sde_marginals() -> None:
    from bfrbench.methods.clrface.score import VPSDE

    sde = VPSDE(0.1, 20.0, 1e-3)
    for t in (1e-3, 0.3, 1.0):
        integral = 0.1 * t + 0.5 * t * t * (20.0 - 0.1)  # int_0^t beta(s) ds
        assert sde.alpha(t) == pytest.approx(math.exp(-0.5 * integral), rel=1e-12)
        assert sde.alpha(t) ** 2 + sde.sigma(t) ** 2 == pytest.approx(1.0, abs=1e-12)
    a, s = sde.marginal(torch.tensor([0.3, 1.0]))
    assert a.shape == (2, 1, 1, 1) and float(a[0]) == pytest.approx(sde.alpha(0.3), rel=1e-6)
    assert float(s[1]) == pytest.approx(sde.sigma(1.0), rel=1e-6)
    z0, eps = torch.ones(2, 1, 2, 2), torch.zeros(2, 1, 2, 2)
    assert torch.allclose(sde.perturb(z0, torch.tensor([0.3, 1.0]), eps)[1], torch.full((1, 2, 2), sde.alpha(1.0)))


def test_sampler_is_ddim_on_known_eps() -> None:
    """With eps_theta returning the true noise of a fixed z0, one-step and multi-step DDIM recover z0 exactly."""
    from bfrbench.methods.clrface.sampler import sample, sampling_times
    from bfrbench.methods.clrface.score import VPSDE

    sde = VPSDE(0.1, 20.0, 1e-3)
    z0 = torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(3))
    gens = [torch.Generator().manual_seed(7)]
    x_T = torch.randn((1, 2, 4, 4), generator=torch.Generator().manual_seed(7))

    def eps_fn(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a, s = sde.marginal(t)
        return (z - a * z0) / s  # the exact noise of z given z0

    out = sample(eps_fn, sde, torch.zeros_like(z0), gens, steps=5)
    assert torch.allclose(out, z0, atol=1e-4)
    assert sampling_times(sde, 5)[0] == 1.0 and sampling_times(sde, 5)[-1] == pytest.approx(1e-3)
    # initial latent is the generator's first draw
    seen = []
    sample(lambda z, t: seen.append(z.clone()) or torch.zeros_like(z), sde, torch.zeros_like(z0), gens[:0] or
           [torch.Generator().manual_seed(7)], steps=1)
    assert torch.equal(seen[0], x_T)
