"""Helpers for the DT-BFR fine-tuning tests (dtbfr-train): fixture loading, tiny models, real faces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

FIXTURE = "dtbfr"


def load_finetune_fixture(shared: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``finetune_step.json`` and its tensors (as torch tensors)."""
    from safetensors.torch import load_file

    root = shared / FIXTURE
    return json.loads((root / "finetune_step.json").read_text()), load_file(str(root / "finetune_step.safetensors"))


def tiny_swinir(shared: Path, *, drop_path_rate: float = 0.0) -> Any:
    """The fixture's tiny SwinIR (swinir_tiny.json config and weights), in train mode."""
    from bfrbench.methods.dtbfr.loading import load_into, read_state_dict
    from bfrbench.methods.dtbfr.swinir import SwinIR, SwinIRConfig

    meta = json.loads((shared / FIXTURE / "swinir_tiny.json").read_text())
    cfg = SwinIRConfig.from_dict({**meta["constructor_kwargs"], "drop_path_rate": drop_path_rate})
    path = shared / FIXTURE / "swinir_tiny_weights.safetensors"
    model = load_into(SwinIR(cfg), read_state_dict(path), path=str(path), what="SwinIR")
    return model.train()


def tiny_disc(state: dict[str, Any], prefix: str = "D_init.") -> Any:
    from bfrbench.methods.dtbfr.discriminator import UNetDiscriminatorSN, load_discriminator_state

    d = UNetDiscriminatorSN(3, num_feat=8, skip_connection=True)
    load_discriminator_state(d, {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}, "fixture")
    return d.train()


def real_faces(n: int, size: int) -> list[np.ndarray]:
    """n distinct real face crops (skimage's astronaut, NASA, public domain), (size, size, 3) uint8."""
    import cv2
    import skimage.data

    base = skimage.data.astronaut()[20:260, 120:360]
    out = []
    for k in range(n):
        crop = np.roll(base, shift=6 * k, axis=1)[: 240 - 2 * k, k: 240 - k]
        out.append(np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)))
    return out


def random_tiny_swinir(path: Path, seed: int = 0) -> dict[str, Any]:
    """Save a randomly initialised tiny SwinIR (official init, ``tiny`` preset) as safetensors; returns its config."""
    import torch
    from safetensors.torch import save_file

    from bfrbench.methods.dtbfr.swinir import SwinIR, swinir_config

    cfg = swinir_config("tiny")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SwinIR(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return cfg.to_dict()


def random_vgg_backbone(path: Path) -> Path:
    """A randomly initialised VGG16 ``features`` checkpoint in torchvision layout (LPIPS plumbing; no real weights)."""
    import torch
    from torchvision.models.vgg import cfgs, make_layers

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        feats = make_layers(cfgs["D"])  # VGG16's ``features`` (13 convs), without building the classifier
    torch.save({f"features.{k}": v for k, v in feats.state_dict().items()}, path)
    return path


def write_pairs(root: Path, n: int, size: int = 64) -> tuple[tuple[str, str, str], ...]:
    """n (id, LQ, target) PNG pairs from real faces: target = the face, LQ = a blurred, noisy copy."""
    import cv2

    from bfrbench.io import write_png

    pairs = []
    rng = np.random.default_rng(0)
    for i, face in enumerate(real_faces(n, size)):
        lq = cv2.GaussianBlur(face, (0, 0), 1.5).astype(np.float64) + rng.normal(0, 8, face.shape)
        write_png(root / "lq" / f"f{i}.png", np.clip(np.rint(lq), 0, 255).astype(np.uint8))
        write_png(root / "gt" / f"f{i}.png", face)
        pairs.append((f"f{i}", str(root / "lq" / f"f{i}.png"), str(root / "gt" / f"f{i}.png")))
    return tuple(pairs)
