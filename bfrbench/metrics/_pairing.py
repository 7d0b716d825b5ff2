"""Pairing an evaluation's inputs: the test-set manifest (ids, HQ paths inside the test set) and the restored
folder (``<id>.<ext>`` files). Step 1 of :func:`bfrbench.metrics.engine.evaluate` (docs/artifacts.md, "Evaluation").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bfrbench.errors import ArtifactError

__all__ = ["read_manifest", "scan_restored"]


def read_manifest(testset: Path) -> tuple[list[dict[str, Any]], bool]:
    """Manifest rows sorted by id (``id``, ``hq`` absolute path or None, ``hq_sha256``; ``_problem`` when an id or
    path is unsafe) and whether the test set has HQ images.

    Raises:
        ArtifactError: no test-set folder, no readable ``manifest.parquet``, or no ``id`` column.
    """
    import pandas as pd

    mpath = testset / "manifest.parquet"
    if not testset.is_dir():
        raise ArtifactError(f"{testset}: test set folder not found")
    if not mpath.is_file():
        raise ArtifactError(f"{mpath}: not found; is {testset} a bfrbench test set (made by `bfrbench build testset`)?")
    try:
        df = pd.read_parquet(mpath)
    except Exception as exc:  # noqa: BLE001 - any parquet failure is an artifact problem
        raise ArtifactError(f"{mpath}: cannot read: {exc}") from None
    if "id" not in df.columns:
        raise ArtifactError(f"{mpath}: has no 'id' column (columns: {', '.join(map(str, df.columns))})")
    from bfrbench.io.paths import UnsafePathError, check_id, resolve_inside

    rows = []
    seen: set[str] = set()
    has_hq = "hq_path" in df.columns and bool(df["hq_path"].notna().any())
    for rec in df.to_dict("records"):
        hp, item = rec.get("hq_path"), str(rec["id"])
        row: dict[str, Any] = {"id": item, "hq": None, "hq_sha256": rec.get("hq_sha256")}
        try:  # artifact content: safe id, hq_path inside the test set (bfrbench.io.paths)
            check_id(item, where=mpath)
            if item in seen:
                raise UnsafePathError(mpath, "id", item, "appears twice in the manifest")
            seen.add(item)
            if isinstance(hp, str) and hp:
                row["hq"] = str(resolve_inside(testset, hp, where=f"{mpath} (id {item!r})", field="hq_path"))
        except UnsafePathError as exc:
            row["_problem"] = str(exc)
        rows.append(row)
    return sorted(rows, key=lambda r: r["id"]), has_hq


def scan_restored(restored: Path) -> tuple[dict[str, Path], list[str]]:
    """Restored images by id (file stem; hidden files ignored) and a note per duplicate stem (the first name wins).

    Raises:
        ArtifactError: the folder does not exist.
    """
    from bfrbench.io import IMAGE_SUFFIXES

    if not restored.is_dir():
        raise ArtifactError(f"{restored}: restored folder not found")
    found: dict[str, Path] = {}
    dups: list[str] = []
    for p in sorted(restored.iterdir()):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."):
            if p.stem in found:
                dups.append(f"{p.stem}: both {found[p.stem].name} and {p.name}; using {found[p.stem].name}")
                continue
            found[p.stem] = p
    return found, dups
