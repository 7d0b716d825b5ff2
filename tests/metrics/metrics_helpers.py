"""Helpers for the metrics tests: real face crops, deterministic degradations, a tiny test set on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def face_images(n: int, size: int = 512) -> list[np.ndarray]:
    """n distinct 'HQ' RGB uint8 images: crops of skimage's astronaut (a real face photo), shifted and resized."""
    import cv2
    import skimage.data

    base = skimage.data.astronaut()  # (512, 512, 3) uint8, public domain (NASA)
    out = []
    for k in range(n):
        off = 4 * k
        crop = base[off:off + 480, off:off + 480]
        out.append(np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)))
    return out


def degrade(img: np.ndarray, k: int) -> np.ndarray:
    """A deterministic 'restored' version: blur + quantisation noise varying with k."""
    import cv2

    out = cv2.GaussianBlur(img, (0, 0), 0.8 + 0.3 * k)
    rng = np.random.default_rng(k)
    noise = rng.normal(0, 2.0, size=img.shape)
    return np.clip(np.rint(out.astype(np.float64) + noise), 0, 255).astype(np.uint8)


def make_testset(root: Path, n: int, size: int = 512) -> tuple[Path, Path, list[str]]:
    """Write TESTSET (hq/, lq/, manifest.parquet) and RESTORED (<id>.png) under ``root``."""
    from manifest_factory import image_row, write_manifest

    from bfrbench.io import write_png

    ts, rs = root / "testset", root / "restored"
    ids = [f"img{k:03d}" for k in range(n)]
    rows = []
    for k, (i, hq) in enumerate(zip(ids, face_images(n, size))):
        rows.append(image_row(ts, i, hq, degrade(hq, k + 3), src_path=f"astronaut#{k}", preset="test", seed=0))
        write_png(rs / f"{i}.png", degrade(hq, k))
    write_manifest(ts, rows)
    return ts, rs, ids


def torchvision_style_backbone(ref: object, path: Path) -> None:
    """Save an ``lpips.LPIPS`` model's (random) backbone as a torchvision checkpoint (``features.<i>.*`` keys)."""
    import torch

    state = {}
    for key, val in ref.net.state_dict().items():  # type: ignore[attr-defined]
        _, idx, param = key.split(".", 2)
        state[f"features.{idx}.{param}"] = val.clone()
    torch.save(state, path)
