"""FFHQ-Ref file format (github.com/ChiWeiHsiao/ref-ldm, release 0.1.0), read and written exactly.

Layout::

    reference_mapping/{train,val,test}_references.csv
    id_based_ffhq_split/{train,val,test}_image.txt

* ``*_references.csv``: a header line and one row per target. Columns ``gt_image``, then ``lq_image``
  (val/test only; FFHQ-Ref names the degraded test image like its ground truth, so it is the same file
  name), then ``ref_image``: a Python list literal of reference file names, e.g. ``['00012.png', '00345.png']``,
  quoted by the CSV writer because it contains commas. ReF-LDM's loader (``ldm/data/ir.py``,
  ``ImageRestorationDataset``) reads it with ``pandas.read_csv`` and ``ast.literal_eval`` on ``ref_image``
  and joins every name to its ``gt_dir`` / ``ref_dir``; names here are therefore relative to the source
  (or pool) folder, with ``/`` separators.
* ``*_image.txt``: one file name per line, sorted.

Files end with a newline; line ending ``\\n``; UTF-8.
"""

from __future__ import annotations

import ast
import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from bfrbench.errors import ArtifactError
from bfrbench.io import atomic_write_text

__all__ = [
    "MAPPING_DIR",
    "SPLIT_DIR",
    "read_ffhqref",
    "read_reference_csv",
    "read_split_file",
    "write_reference_csv",
    "write_split_file",
]

MAPPING_DIR = "reference_mapping"
SPLIT_DIR = "id_based_ffhq_split"


def write_reference_csv(path: str | os.PathLike[str], rows: Sequence[tuple[str, Sequence[str]]], *,
                        with_lq: bool) -> None:
    """Write ``(gt_image, [ref_image, ...])`` rows (in the given order) as an FFHQ-Ref CSV, atomically."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["gt_image", "lq_image", "ref_image"] if with_lq else ["gt_image", "ref_image"])
    for gt, refs in rows:
        lit = repr([str(r) for r in refs])
        w.writerow([gt, gt, lit] if with_lq else [gt, lit])
    atomic_write_text(path, buf.getvalue())


def read_reference_csv(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Parse an FFHQ-Ref CSV the way ReF-LDM does (pandas + ``ast.literal_eval``): gt -> [refs]."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise ArtifactError(f"{p}: reference CSV not found")
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    for col in ("gt_image", "ref_image"):
        if col not in df.columns:
            raise ArtifactError(f"{p}: missing column {col!r} (has {list(df.columns)})")
    out: dict[str, list[str]] = {}
    for gt, lit in zip(df["gt_image"], df["ref_image"]):
        try:
            refs = ast.literal_eval(lit)
        except (ValueError, SyntaxError):
            raise ArtifactError(f"{p}: ref_image of {gt!r} is not a Python list literal: {lit!r}") from None
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            raise ArtifactError(f"{p}: ref_image of {gt!r} is not a list of file names")
        out[str(gt)] = refs
    return out


def write_split_file(path: str | os.PathLike[str], images: Sequence[str]) -> None:
    """One image name per line, sorted."""
    atomic_write_text(path, "".join(f"{n}\n" for n in sorted(images)))


def read_split_file(path: str | os.PathLike[str]) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise ArtifactError(f"{p}: split file not found")
    return [line for line in p.read_text(encoding="utf-8").splitlines() if line]


def read_ffhqref(root: str | os.PathLike[str]) -> tuple[dict[str, dict[str, list[str]]], dict[str, list[str]]]:
    """Read every reference CSV and split file present under ``root``.

    Returns:
        (split -> {gt: [refs]}, split -> [images]).
    """
    r = Path(root)
    refs: dict[str, dict[str, list[str]]] = {}
    splits: dict[str, list[str]] = {}
    for s in ("train", "val", "test"):
        f = r / MAPPING_DIR / f"{s}_references.csv"
        if f.is_file():
            refs[s] = read_reference_csv(f)
        g = r / SPLIT_DIR / f"{s}_image.txt"
        if g.is_file():
            splits[s] = read_split_file(g)
    if not refs and not splits:
        raise ArtifactError(f"{r}: no {MAPPING_DIR}/*_references.csv or {SPLIT_DIR}/*_image.txt found")
    return refs, splits

