"""Reading reference images for reference-based methods (docs/artifacts.md).

Two sources, in this order of precedence:

* a user ``refs.csv`` (columns ``id``, ``ref_paths``: a Python/JSON list literal of paths, absolute or
  relative to the CSV's folder), for test sets built before reference groups existed. The CSV is named on
  the command line by the user and trusted like any other argument (docs/security.md);
* ``TESTSET/references.parquet`` (columns ``id``, ``ref_paths``: list of str relative to the test-set folder,
  ``ref_ids``), written by ``bfrbench build refgroups``. It is artifact content: every path must resolve
  inside the test-set folder (``bfrbench.io.paths.resolve_inside``), or, for references attached with
  ``--ref-link symlink``, inside the reference-groups source folders the symlinks point to. A row that breaks
  this rule is listed in :attr:`ReferenceTable.problems` and that image fails (the others run).

References keep their stored order; a run with ``refs=K`` uses the first K of them.
"""

from __future__ import annotations

import ast
import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bfrbench.errors import ArtifactError, ConfigError

__all__ = ["ReferenceTable", "load_reference_table", "read_refs"]


class ReferenceTable(dict[str, list[Path]]):
    """id -> ordered reference paths; ``problems`` maps ids whose row was refused to the reason."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: dict[str, str] = {}


def _as_list(value: object, where: str) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ArtifactError(f"{where}: ref_paths {text[:80]!r} is not a list literal like ['a.png', 'b.png']") from None
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ArtifactError(f"{where}: ref_paths must be a list of path strings, got {type(value).__name__}")
    return list(value)


def _read_csv(path: Path) -> ReferenceTable:
    if not path.is_file():
        raise ConfigError(f"refs CSV {path} does not exist")
    out = ReferenceTable()
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = set(reader.fieldnames or [])
        if not {"id", "ref_paths"} <= cols:
            raise ArtifactError(f"{path}: needs columns 'id' and 'ref_paths', found {sorted(cols)}")
        for lineno, row in enumerate(reader, start=2):
            paths = _as_list(row["ref_paths"], f"{path} line {lineno}")
            out[str(row["id"])] = [p if p.is_absolute() else path.parent / p for p in map(Path, paths)]
    return out


def _symlink_roots(testset: Path) -> list[Path]:
    """Source folders of a reference-groups folder attached with ``--ref-link symlink`` (else none)."""
    import json

    try:
        meta = json.loads((testset / "testset.json").read_text(encoding="utf-8"))
        ref = meta.get("references") or {}
        if ref.get("link") != "symlink" or not ref.get("refgroups"):
            return []
        rg = json.loads((Path(ref["refgroups"]) / "refgroups.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError, TypeError):
        return []
    return [Path(rg[k]) for k in ("src", "pool") if isinstance(rg.get(k), str) and rg[k]]


def _read_parquet(testset: Path) -> ReferenceTable:
    import pandas as pd

    from bfrbench.io.paths import UnsafePathError, resolve_inside

    path = testset / "references.parquet"
    try:
        df = pd.read_parquet(path)
    except Exception as exc:
        raise ArtifactError(f"{path}: cannot read: {exc}") from exc
    if not {"id", "ref_paths"} <= set(df.columns):
        raise ArtifactError(f"{path}: needs columns 'id' and 'ref_paths', found {sorted(df.columns)}")
    out = ReferenceTable()
    roots = _symlink_roots(testset)
    for item, refs in zip(df["id"].astype(str), df["ref_paths"]):
        where = f"{path} id {item!r}"
        paths = _as_list(refs, where)
        try:
            out[item] = [resolve_inside(testset, p, where=where, field="ref_paths", extra_roots=roots) for p in paths]
        except UnsafePathError as exc:
            out.problems[item] = str(exc)
    return out


def load_reference_table(testset: str | os.PathLike[str],
                         refs_csv: str | os.PathLike[str] | None = None) -> ReferenceTable | None:
    """id -> ordered absolute reference paths, or None when neither source exists.

    Raises:
        ConfigError: ``refs_csv`` given but missing. ArtifactError: a table is malformed.
    """
    if refs_csv is not None:
        return _read_csv(Path(refs_csv))
    testset = Path(testset)
    if (testset / "references.parquet").is_file():
        return _read_parquet(testset)
    return None


def read_refs(paths: Sequence[Path], k: int | None) -> list[np.ndarray]:
    """Decode the first ``k`` references (all when None) as (512, 512, 3) uint8 RGB.

    References not 512x512 are resized with ``INTER_AREA`` (shrinking) / ``INTER_CUBIC`` (enlarging), since
    every method expects aligned 512 faces; an unreadable file raises ImageError naming it.
    """
    import cv2

    from bfrbench.io import read_image

    chosen = list(paths) if k is None else list(paths)[:k]
    out = []
    for p in chosen:
        img = read_image(p)
        if img.shape[:2] != (512, 512):
            interp = cv2.INTER_AREA if img.shape[0] > 512 else cv2.INTER_CUBIC
            img = cv2.resize(img, (512, 512), interpolation=interp)
        out.append(img)
    return out
