"""Fixtures for the methods tests: a tiny test set that follows docs/artifacts.md (real astronaut photo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bfrbench.io import write_png


def astronaut_512() -> np.ndarray:
    """The face region of skimage's astronaut photo (NASA, public domain) as (512, 512, 3) uint8."""
    import cv2
    from skimage import data

    img = data.astronaut()[20:260, 120:360]
    return cv2.resize(img, (512, 512), interpolation=cv2.INTER_CUBIC)


def degrade(hq: np.ndarray, rng: np.random.Generator, scale: float, noise: float) -> np.ndarray:
    import cv2

    small = cv2.resize(hq, (int(512 / scale), int(512 / scale)), interpolation=cv2.INTER_AREA)
    lq = cv2.resize(small, (512, 512), interpolation=cv2.INTER_CUBIC).astype(np.float64)
    lq += noise * rng.standard_normal(lq.shape)
    return np.clip(np.rint(lq), 0, 255).astype(np.uint8)


def make_testset(out: Path, n: int = 4, *, scale: float | None = 4.0, noise: float = 10.0,
                 with_refs: bool = False, seed: int = 0) -> Path:
    """Test set with ``n`` images ids ``face000``...; ``scale=None`` leaves the scale column null."""
    import pandas as pd
    from manifest_factory import image_row, write_testset

    out = Path(out)
    base = astronaut_512()
    rows, refs = [], []
    for i in range(n):
        item = f"face{i:03d}"
        rng = np.random.default_rng([seed, i])
        hq = np.roll(base, shift=8 * i, axis=1)
        lq = degrade(hq, rng, scale or 4.0, noise)
        rows.append(image_row(out, item, hq, lq, src_path=f"src/{item}.png", preset="tiny", seed=seed, scale=scale,
                              noise_sigma=noise))
        if with_refs:
            paths = []
            for k in range(3):
                write_png(out / "refs" / f"{item}_r{k}.png", np.roll(base, shift=-16 * (k + 1), axis=0))
                paths.append(f"refs/{item}_r{k}.png")
            refs.append({"id": item, "ref_paths": paths, "ref_ids": [f"{item}_r{k}" for k in range(3)]})
    if with_refs:
        out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(refs).to_parquet(out / "references.parquet", index=False)
    return write_testset(out, rows, preset="tiny", seed=seed, float_columns=["scale"])


@pytest.fixture(scope="session")
def tiny_testset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5 LQ faces (512x512, per-image degradations of a real photo), scale 4, with 3 references each."""
    return make_testset(tmp_path_factory.mktemp("ts") / "tiny", n=5, with_refs=True)


@pytest.fixture(scope="session")
def testset_factory():
    """``make_testset(out, n, scale=, noise=, with_refs=, seed=)``."""
    return make_testset


@pytest.fixture(scope="session")
def astronaut_face() -> np.ndarray:
    return astronaut_512()
