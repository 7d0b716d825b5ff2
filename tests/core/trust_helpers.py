"""Helpers for the trust-boundary tests (tests/core/test_trust_*.py): images, tree snapshots, manifest edits."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np


def face(i: int, size: int = 512) -> np.ndarray:
    """A deterministic (size, size, 3) uint8 image: skimage's astronaut (public domain), rolled by ``i``."""
    import cv2
    from skimage import data

    img = cv2.resize(data.astronaut()[20:260, 120:360], (size, size), interpolation=cv2.INTER_AREA)
    return np.roll(img, 7 * i, axis=1)


def snapshot(root: Path, *, exclude: tuple[Path, ...] = ()) -> dict[str, tuple[str, int]]:
    """{relative path: (sha256 or symlink target, mode)} of every file and symlink under ``root``."""
    ex = [e.resolve() for e in exclude]
    out: dict[str, tuple[str, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if any(d.resolve() == e or e in d.resolve().parents for e in ex):
            dirnames[:] = []
            continue
        for n in filenames + [x for x in dirnames if (d / x).is_symlink()]:
            p = d / n
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = ("-> " + os.readlink(p), 0)
            else:
                out[rel] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode & 0o777)
    return out


def rewrite_manifest(ts: Path, edit) -> None:  # type: ignore[no-untyped-def]
    """Apply ``edit(rows: list[dict])`` to the manifest and re-record its hash in testset.json, as an attacker
    controlling the whole folder would (so only the path/id rules can stop it)."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from bfrbench.io import sha256_file

    table = pq.read_table(ts / "manifest.parquet")
    rows = table.to_pylist()
    edit(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), ts / "manifest.parquet")
    meta = json.loads((ts / "testset.json").read_text())
    meta["manifest_sha256"] = sha256_file(ts / "manifest.parquet")
    (ts / "testset.json").write_text(json.dumps(meta))
