"""Fixtures for the clrface tests: a handful of offline real faces and a tiny trained run (via the CLI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _real_faces() -> list[np.ndarray]:
    """Real face crops at 96x96: skimage's astronaut (public domain) and insightface's Tom Hanks, plus mirrors."""
    import cv2
    from skimage import data

    faces = [data.astronaut()[20:260, 120:360]]
    try:
        from bfrbench.faces.samples import sample_photos
        from bfrbench.io.images import read_image

        faces.append(read_image(sample_photos(names=("tom_hanks",))["tom_hanks"]))
    except Exception:  # noqa: BLE001 - insightface wheel absent: astronaut crops only
        faces.append(data.astronaut()[30:250, 130:350])
    faces += [f[:, ::-1] for f in faces]
    return [cv2.resize(np.ascontiguousarray(f), (96, 96), interpolation=cv2.INTER_AREA) for f in faces]


@pytest.fixture(scope="session")
def clr_faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of 4 real aligned-ish faces (96x96 PNG)."""
    from bfrbench.io import write_png

    d = tmp_path_factory.mktemp("clr_faces")
    for i, f in enumerate(_real_faces()):
        write_png(d / f"face{i}.png", f)
    return d


@pytest.fixture(scope="session")
def clr_recipe(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The gfpgan preset at 96 px with a 9x9 blur kernel (the same ops, cheap enough for tests)."""
    p = tmp_path_factory.mktemp("clr_recipe") / "clr-test.yaml"
    p.write_text("include: gfpgan\nname: clr-test\nversion: 1\nsize: 96\nmin_size: 32\n"
                 "override:\n  blur: {kernel_size: 9, sigma: [0.1, 2]}\n  downsample: {scale: [1, 4]}\n")
    return str(p)


@pytest.fixture(scope="session")
def clr_run(tmp_path_factory: pytest.TempPathFactory, clr_faces: Path, clr_recipe: str) -> Path:
    """A tiny run folder with all four stages trained for 3 iterations each by ``bfrbench train clrface``."""
    import os

    from bfrbench.cli import main

    home = tmp_path_factory.mktemp("clr_home")
    old = os.environ.get("BFRBENCH_HOME")
    os.environ["BFRBENCH_HOME"] = str(home)
    run = tmp_path_factory.mktemp("clr_run") / "run"
    try:
        for stage in ("autoencoder", "prior", "irn", "mask"):
            rc = main(["train", "clrface", "--stage", stage, "--faces", str(clr_faces), "--recipe", clr_recipe,
                       "--out", str(run), "--iters", "3", "--config", "tiny", "--no-tensorboard"])
            assert rc == 0, stage
    finally:
        if old is None:
            os.environ.pop("BFRBENCH_HOME", None)
        else:
            os.environ["BFRBENCH_HOME"] = old
    return run
