"""Every shipped preset's header cites the file and commit it was read from; diffbir-face adds grayscale."""

from __future__ import annotations

import re

import numpy as np

from bfrbench.degrade import list_presets, load_recipe
from bfrbench.degrade.recipe import presets_dir
from bfrbench.rng import item_generator


def test_every_preset_header_cites_a_commit() -> None:
    for name in [*list_presets(), "_bfr_pipeline"]:
        text = (presets_dir() / f"{name}.yaml").read_text()
        header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
        assert re.search(r"@ ?[0-9a-f]{40}", header), f"{name}: no 'repo @ commit' in the header"


def test_diffbir_face_grays_about_one_percent() -> None:
    r = load_recipe("diffbir-face")
    assert [s["op"] for s in r.data["steps"]][-1] == "grayscale"
    flags = np.array([r.sample(item_generator(0, str(i)))["grayscale_applied"] for i in range(3000)])
    assert 10 <= flags.sum() <= 60  # p = 0.01 (DifFace swinir_ffhq512.yaml gray_prob)


def test_vqfr_is_the_papers_gfpgan_setting_and_v2_is_separate() -> None:
    v1, v2, g = load_recipe("vqfr"), load_recipe("vqfr-v2"), load_recipe("gfpgan")
    assert v1.version == 2 and v1.data["steps"] == g.data["steps"]
    assert v2.data["steps"] != g.data["steps"]
