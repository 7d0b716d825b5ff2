"""Recipe engine: presets and their ranges, include/override, grid stratification, validation errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bfrbench.degrade import list_presets, load_recipe
from bfrbench.degrade.recipe import Recipe, presets_dir
from bfrbench.errors import ConfigError
from bfrbench.rng import item_generator

# ranges from issue 2: (sigma, scale, noise, jpeg)
RANGES = {
    "gfpgan": ((0.1, 10), (0.8, 8), (0, 20), (60, 100)),
    "codeformer": ((1, 15), (4, 30), (0, 20), (30, 80)),
    "gfpgan-paper": ((0.2, 10), (1, 8), (0, 15), (60, 100)),
    "vqfr": ((0.1, 10), (0.8, 8), (0, 20), (60, 100)),
    "vqfr-v2": ((1, 15), (1, 30), (0, 20), (30, 90)),
    "diffbir": ((0.1, 12), (1, 12), (0, 15), (30, 100)),
    "diffbir-face": ((0.1, 15), (0.8, 32), (0, 20), (30, 100)),
    "refldm-moderate": ((0, 8), (1, 8), (0, 15), (60, 100)),
    "refldm-severe": ((8, 16), (8, 32), (0, 20), (30, 100)),
}


def test_presets_listed_and_found_relative_to_package() -> None:
    assert presets_dir() == Path(__file__).resolve().parents[2] / "datasets_build" / "presets"
    assert set(list_presets()) == set(RANGES) | {"difface-grid"} | {
        f"dtbfr-raw-iso{iso}{v}" for iso in (1500, 3000) for v in ("", "-classical")}  # tests/test_testset_dtbfr_raw.py


@pytest.mark.parametrize("name", sorted(RANGES))
def test_preset_ranges_and_sources(name: str) -> None:
    r = load_recipe(name)
    assert r.name == name and r.version >= 1 and r.size == 512
    assert r.data["source"]["paper"] and r.data["source"]["code"].startswith("https://")
    (s_lo, s_hi), (d_lo, d_hi), (n_lo, n_hi), (q_lo, q_hi) = RANGES[name]
    rows = [r.sample(item_generator(0, str(i))) for i in range(300)]
    sig = np.array([p["sigma_x"] for p in rows])
    sc = np.array([p["scale"] for p in rows])
    no = np.array([p["noise_sigma"] for p in rows])
    q = np.array([p["jpeg_quality"] for p in rows])
    assert s_lo <= sig.min() and sig.max() <= s_hi and sig.max() - sig.min() > 0.8 * (s_hi - s_lo)
    assert d_lo <= sc.min() and sc.max() <= d_hi and sc.max() - sc.min() > 0.8 * (d_hi - d_lo)
    assert n_lo <= no.min() and no.max() <= n_hi
    assert q_lo <= q.min() and q.max() <= q_hi and q.dtype.kind == "i"
    kinds = [p["kernel_type"] for p in rows]
    assert 0.4 < kinds.count("iso") / len(kinds) < 0.6
    for p in rows:  # undrawn parameters are None
        if p["kernel_type"] == "iso":
            assert p["sigma_y"] is None and p["angle"] is None
        else:
            assert s_lo <= p["sigma_y"] <= s_hi and -math.pi <= p["angle"] <= math.pi
        assert p["beta"] is None and p["noise_gray"] is None


def test_sampling_is_a_function_of_the_generator() -> None:
    r = load_recipe("codeformer")
    assert r.sample(item_generator(1, "x")) == r.sample(item_generator(1, "x"))
    assert r.sample(item_generator(1, "x")) != r.sample(item_generator(1, "y"))


def test_difface_grid_covers_every_cell_once() -> None:
    r = load_recipe("difface-grid")
    assert r.grid_size == 5 * 10 * 5 * 4 * 4 == 4000
    rng = np.random.default_rng(0)
    combos = {tuple(r.sample(rng, index=i)[c] for c in ("jpeg_quality", "scale", "noise_sigma", "sigma_x", "angle"))
              for i in range(4000)}
    assert len(combos) == 4000
    assert r.sample(rng, index=0)["jpeg_quality"] == 30 and r.sample(rng, index=3999)["jpeg_quality"] == 70
    assert r.sample(rng, index=1)["angle"] != r.sample(rng, index=0)["angle"]  # angle varies fastest


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_include_override_and_user_order(tmp_path: Path) -> None:
    f = write(tmp_path / "mine.yaml", """
include: gfpgan
name: mine
version: 3
override:
  gaussian_noise: {sigma: [5, 6]}
  jpeg: {quality: 50}
""")
    r = load_recipe(f)
    assert r.name == "mine" and r.version == 3
    assert [s.step_name for s in r.steps] == ["blur", "downsample", "gaussian_noise", "jpeg", "resize"]
    p = r.sample(item_generator(0, "a"))
    assert 5 <= p["noise_sigma"] <= 6 and p["jpeg_quality"] == 50
    assert "include" not in r.to_dict() and "override" not in r.to_dict()
    assert r.sha256 != load_recipe("gfpgan").sha256
    # a recipe with its own op order and a second blur with a prefix
    g = write(tmp_path / "order.yaml", """
name: order
version: 1
size: 32
steps:
  - {op: downsample, scale: 2}
  - {op: gaussian_noise, sigma: [0, 5], gray_prob: 0.5}
  - {op: blur, kernel_size: 5, sigma: [0.5, 1.5], kernel_list: [generalized_aniso, plateau_iso], kernel_prob: [1, 1]}
  - {op: blur, name: blur2, prefix: second_, kernel_size: 3, kernel_type: iso, sigma: 0.8}
  - {op: sinc, cutoff: [1.0, 3.0], kernel_size: {choice: [5, 7]}, prob: 0.5}
  - {op: resize}
  - {op: color_jitter, shift: 20, prob: 0.5}
  - {op: grayscale, prob: 0.5}
""")
    r2 = load_recipe(g)
    assert list(r2.columns)[:2] == ["scale", "noise_sigma"] and "second_sigma_x" in r2.columns
    seen = set()
    img = np.full((32, 32, 3), 128, np.uint8)
    for i in range(40):
        rng = item_generator(0, str(i))
        lq, p = r2.degrade(img, rng)
        assert lq.shape == (32, 32, 3) and p["scale"] == 2.0 and p["second_sigma_x"] == 0.8
        assert p["kernel_type"] in ("generalized_aniso", "plateau_iso") and p["beta"] is not None
        assert (p["sinc_cutoff"] is None) == (not p["sinc_applied"])
        if p["grayscale_applied"]:
            assert (lq[..., 0] == lq[..., 1]).all()
        seen.add((p["sinc_applied"], p["noise_gray"], p["grayscale_applied"]))
    assert len(seen) >= 6


def test_user_example_recipe_loads() -> None:
    r = load_recipe(presets_dir().parent / "examples" / "gfpgan_train_like.yaml")
    assert r.name == "gfpgan-train-like" and "color_jitter_applied" in r.columns


@pytest.mark.parametrize("text,match", [
    ("name: x\nversion: 1\nsteps: [{op: blurr, sigma: 1}]", "did you mean 'blur'"),
    ("name: x\nversion: 0\nsteps: [{op: blur, sigma: 1}]", "integer 'version'"),
    ("name: x\nsteps: [{op: blur, sigma: 1}]", "integer 'version'"),
    ("name: x\nversion: 1\ncolour: 2\nsteps: [{op: blur, sigma: 1}]", "unknown recipe key"),
    ("name: x\nversion: 1\nsteps: [{op: blur, sigma: [5, 1]}]", "lo > hi"),
    ("name: x\nversion: 1\nsteps: [{op: blur, sigma: 1, sigmax: 2}]", "unknown option"),
    ("name: x\nversion: 1\nsteps: [{op: blur}]", "missing required option 'sigma'"),
    ("name: x\nversion: 1\nsteps: [{op: blur, sigma: 1, kernel_size: 40}]", "odd integer"),
    ("name: x\nversion: 1\nsteps: [{op: jpeg, quality: [30, 120]}]", r"\[0, 100\]"),
    ("name: x\nversion: 1\nsteps: [{op: blur, sigma: 1}, {op: blur, sigma: 2}]", "two steps named"),
    ("name: x\nversion: 1\nsteps: [{op: blur, sigma: 1}, {op: blur, name: b2, sigma: 2}]", "prefix"),
    ("name: x\nversion: 1\nsteps: [{op: gaussian_noise, sigma: {choice: []}}]", "non-empty list"),
    ("name: x\nversion: 1\nsteps: []", "non-empty 'steps'"),
    ("name: x\nversion: 1\nsteps: [{op: blur, sigma: 1, prob: 2}]", "prob must"),
    ("- just a list", "mapping"),
    ("name: [unclosed", "not valid YAML"),
])
def test_validation_errors(tmp_path: Path, text: str, match: str) -> None:
    f = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ConfigError, match=match) as ei:
        load_recipe(f)
    assert str(f) in str(ei.value)


def test_include_cycle_and_missing(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "include: b.yaml\nname: a\nversion: 1\n")
    write(tmp_path / "b.yaml", "include: a.yaml\nname: b\nversion: 1\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_recipe(tmp_path / "a.yaml")
    with pytest.raises(ConfigError, match="not found.*gfpgan"):
        load_recipe("no-such-preset")
    write(tmp_path / "c.yaml", "include: gfpgan\nname: c\nversion: 1\noverride: {nosuch: {sigma: 1}}\n")
    with pytest.raises(ConfigError, match="unknown step 'nosuch'"):
        load_recipe(tmp_path / "c.yaml")


def test_recipe_from_resolved_mapping_roundtrip() -> None:
    r = load_recipe("vqfr")
    r2 = Recipe(r.to_dict())
    assert r2.sha256 == r.sha256
    assert r2.sample(item_generator(0, "q")) == r.sample(item_generator(0, "q"))
