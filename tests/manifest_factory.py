"""The one test factory for test-set folders (hq/, lq/, manifest.parquet, testset.json) used across tests/.

Import it as ``from manifest_factory import ...`` (tests/ is on sys.path through tests/conftest.py). Columns
follow docs/artifacts.md: ``id``, ``hq_path``, ``lq_path``, ``hq_sha256``, ``lq_sha256``, ``src_path``,
``preset``, ``seed``, then sampled degradation parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bfrbench.io import atomic_write_json, sha256_file, write_png


def image_row(out: Path, item: str, hq: np.ndarray | None, lq: np.ndarray, *, src_path: str, preset: str,
              seed: int, **params: Any) -> dict[str, Any]:
    """Write ``lq/<item>.png`` (and ``hq/<item>.png`` unless ``hq`` is None) and return the manifest row."""
    write_png(out / "lq" / f"{item}.png", lq)
    row: dict[str, Any] = {"id": item}
    if hq is not None:
        write_png(out / "hq" / f"{item}.png", hq)
        row.update({"hq_path": f"hq/{item}.png", "lq_path": f"lq/{item}.png",
                    "hq_sha256": sha256_file(out / "hq" / f"{item}.png")})
    else:
        row["lq_path"] = f"lq/{item}.png"
    row.update({"lq_sha256": sha256_file(out / "lq" / f"{item}.png"), "src_path": src_path, "preset": preset,
                "seed": seed, **params})
    return row


def write_manifest(out: Path, rows: Sequence[dict[str, Any]], *, float_columns: Sequence[str] = ()) -> Path:
    """``out/manifest.parquet`` from rows (``float_columns`` forced to float64 so all-null columns keep a type)."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(list(rows))
    for c in float_columns:
        df[c] = df[c].astype("float64")
    path = out / "manifest.parquet"
    df.to_parquet(path, index=False)
    return path


def write_testset_json(out: Path, *, preset: str, seed: int, n_ok: int, **extra: Any) -> Path:
    """``out/testset.json`` with the keys readers require, the manifest hash and ``extra`` keys."""
    path = out / "testset.json"
    atomic_write_json(path, {"kind": "testset", "format_version": 1, "name": out.name, "preset": preset, "seed": seed,
                             "counts": {"ok": n_ok, "failed": 0}, "failures": [],
                             "manifest_sha256": sha256_file(out / "manifest.parquet"), **extra})
    return path


def write_testset(out: Path, rows: Sequence[dict[str, Any]], *, preset: str, seed: int = 0,
                  float_columns: Sequence[str] = (), testset_json: bool = True, **json_extra: Any) -> Path:
    """manifest.parquet (rows from :func:`image_row`) plus testset.json; returns ``out``."""
    write_manifest(out, rows, float_columns=float_columns)
    if testset_json:
        write_testset_json(out, preset=preset, seed=seed, n_ok=len(rows), **json_extra)
    return out
