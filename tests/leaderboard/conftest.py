"""Fixtures for leaderboard tests: a fake pipeline that writes real artifact folders (docs/artifacts.md).

The fake stages are tiny (32x32 images) but produce every file the leaderboard reads, with real numbers:
``psnr:rgb`` is computed from the pixels, ``mae:rgb`` is the mean absolute error in [0, 1] (lower is better),
``fid:toy`` is a set-level number. Degradation parameters are drawn per image from ``item_generator``.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bfrbench.io import atomic_write_json, read_image, sha256_file, write_png
from bfrbench.leaderboard.pipeline import Pipeline
from bfrbench.rng import item_generator

SIZE = 32

SUITE_YAML = """
name: toy
version: 1
title: Toy suite
description: fake pipeline for tests
main_score: psnr:rgb
seed: 0
baseline: lq
source: {kind: folder, path: faces}
testsets:
  - {name: mild, preset: toy, seed: 3, limit: 12}
metrics: [psnr:rgb, mae:rgb, fid:toy]
metric_info:
  "mae:rgb": {higher_is_better: false, label: MAE}
methods:
  - lq
  - {name: blend, label: good, options: {alpha: 0.8}}
  - {name: blend, label: poor, options: {alpha: 0.1}}
statistics: {bootstrap_resamples: 500, seed: 0}
breakdowns: {bins: 3}
plots: {samples: 3}
reported:
  - method: PaperNet
    testset: mild
    citation: {paper: "A. Author, Toy paper, 2024", table: "Table 1", page: "5"}
    values: {"psnr:rgb": 30.5, "mae:rgb": 0.01}
"""


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def make_faces(folder: Path, n: int = 12) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for i in range(n):
        g = item_generator(7, f"face{i}")
        base = 128 + 60 * np.sin(xx / (3 + i % 4)) * np.cos(yy / (2 + i % 3))
        img = np.clip(base[..., None] + g.normal(0, 10, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
        write_png(folder / f"face{i:02d}.png", img)
    return folder


class FakeStages:
    """Fake stages counting their calls."""

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()

    def prepare_source(self, source: dict[str, Any], suite_dir: Path, out: Path) -> Path:
        self.calls["source"] += 1
        return suite_dir / source["path"]

    def build_testset(self, preset: str, src: Path, out: Path, *, seed: int, limit: int | None, workers: int) -> None:
        from manifest_factory import image_row, write_testset

        self.calls["testset"] += 1
        files = sorted(src.glob("*.png"))[:limit]
        rows = []
        for f in files:
            i = f.stem
            g = item_generator(seed, i)
            sigma, noise = float(g.uniform(0.5, 4.0)), float(g.uniform(2, 30))
            hq = read_image(f)
            lq = np.clip(hq.astype(np.float64) + g.normal(0, noise, hq.shape), 0, 255).astype(np.uint8)
            rows.append(image_row(out, i, hq, lq, src_path=str(f), preset=preset, seed=seed, sigma_x=sigma,
                                  noise_sigma=noise, jpeg_quality=None))
        write_testset(out, rows, preset=preset, seed=seed, recipe_sha256="0" * 64,
                      environment={"date": "x", "bfrbench": "0"})

    def restore(self, method: str, testset: Path, out: Path, *, device: str, seed: int, options: dict[str, Any],
                workers: int) -> None:
        self.calls["restore"] += 1
        alpha = float(options.get("alpha", 0.0))
        images = {}
        for lq_path in sorted((testset / "lq").glob("*.png")):
            lq = read_image(lq_path).astype(np.float64)
            hq = read_image(testset / "hq" / lq_path.name).astype(np.float64)
            out_img = np.clip(np.rint(alpha * hq + (1 - alpha) * lq), 0, 255).astype(np.uint8)
            write_png(out / lq_path.name, out_img)
            images[lq_path.stem] = {"sha256": sha256_file(out / lq_path.name), "seconds": 0.01, "peak_mem_bytes": None}
        tj = json.loads((testset / "testset.json").read_text())
        atomic_write_json(out / "run.json", {
            "kind": "run", "format_version": 1, "method": method, "method_version": "1.0", "options": options,
            "seed": seed, "weights": {}, "testset": {"path": str(testset), "manifest_sha256": tj["manifest_sha256"]},
            "images": images, "failures": [], "counts": {"ok": len(images), "failed": 0},
            "timings": {"total_seconds": 0.1}, "environment": {"date": "now", "bfrbench": "0.1.0"}})

    def evaluate(self, testset: Path, restored: Path, out: Path, *, metrics: list[str], device: str, workers: int) -> None:
        import pandas as pd

        self.calls["evaluate"] += 1
        rows = []
        for r in sorted(restored.glob("*.png")):
            hq, im = read_image(testset / "hq" / r.name), read_image(r)
            rows.append({"id": r.stem, "psnr:rgb": _psnr(im, hq),
                         "mae:rgb": float(np.mean(np.abs(im / 255.0 - hq / 255.0))), "error": None})
        df = pd.DataFrame(rows)
        df.to_parquet(out / "per_image.parquet", index=False)
        summ = {c: {"mean": float(df[c].mean()), "std": float(df[c].std()), "n": len(df), "ci95": [0, 0],
                    "higher_is_better": c == "psnr:rgb", "metric": c.split(":")[0], "variant": "rgb", "reference": "hq"}
                for c in ("psnr:rgb", "mae:rgb")}
        atomic_write_json(out / "summary.json", {
            "kind": "evaluation", "format_version": 1, "metrics": summ,
            "set_metrics": {"fid:toy": {"value": float(100 * df["mae:rgb"].mean())}},
            "provenance": {"testset_manifest_sha256": "x", "weights": {}, "environment": {"date": "now", "bfrbench": "0.1.0"}},
            "counts": {"ok": len(df)}, "problems": {}})

    def pipeline(self) -> Pipeline:
        return Pipeline(prepare_source=self.prepare_source, build_testset=self.build_testset, restore=self.restore,
                        evaluate=self.evaluate)


@pytest.fixture
def toy_suite(tmp_path: Path) -> Path:
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "suite.yaml").write_text(SUITE_YAML)
    make_faces(folder / "faces")
    return folder


@pytest.fixture
def fake() -> FakeStages:
    return FakeStages()


@pytest.fixture(scope="session")
def rendered_toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A toy suite run and rendered once per session (read-only for tests)."""
    from bfrbench.leaderboard.render import render_suite
    from bfrbench.leaderboard.run import run_suite

    folder = tmp_path_factory.mktemp("rendered") / "toy"
    folder.mkdir()
    (folder / "suite.yaml").write_text(SUITE_YAML)
    make_faces(folder / "faces")
    report = run_suite(folder, pipeline=FakeStages().pipeline())
    assert not report.failures, report.failures
    render_suite(folder)
    return folder
