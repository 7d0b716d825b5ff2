"""Read a test-set folder: as a Hugging Face ``datasets.Dataset``, as a self-contained parquet file, or verified.

* :func:`load`: one row per manifest row; ``hq`` and ``lq`` are ``datasets.Image`` features pointing at the
  folder's PNGs (``hq`` is None for LQ-only sets), followed by every manifest column.
* :func:`export_parquet`: the same rows with the PNG **bytes embedded** (a path-based Image column would
  only store paths, see ENVIRONMENT.md), so the file is usable without the folder:
  ``datasets.Dataset.from_parquet(file)``.
* :func:`verify_testset`: re-hash every image against the manifest and the manifest against testset.json.

Ids and ``hq_path``/``lq_path`` values are artifact content: they go through ``bfrbench.io.paths`` (safe
file stems; paths inside the folder, symlinks resolved). :func:`load` / :func:`export_parquet` raise
:class:`~bfrbench.io.paths.UnsafePathError` on a refused value; :func:`verify_testset` lists it as a problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bfrbench.errors import ArtifactError
from bfrbench.io import atomic_write_bytes, sha256_file
from bfrbench.testset.build import read_testset_json

__all__ = ["export_parquet", "load", "read_manifest", "verify_testset"]


def read_manifest(path: str | os.PathLike[str]) -> Any:
    """The ``manifest.parquet`` of a test-set folder as a ``pyarrow.Table``."""
    import pyarrow.parquet as pq

    f = Path(path) / "manifest.parquet"
    if not f.is_file():
        raise ArtifactError(f"{f}: not found; is {str(path)!r} a test set built by 'bfrbench build testset'?")
    try:
        return pq.read_table(f)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise ArtifactError(f"{f}: unreadable parquet: {exc}") from None


def _dataset(path: Path, embed: bool) -> Any:
    import datasets

    read_testset_json(path)
    table = read_manifest(path)
    cols = table.to_pydict()
    feats = datasets.Features.from_arrow_schema(table.schema)

    from bfrbench.io.paths import check_id, resolve_inside

    mf = path / "manifest.parquet"
    for iid in cols["id"]:
        check_id(iid, where=mf)

    def image(rel: str | None) -> Any:
        if rel is None:
            return None
        f = resolve_inside(path, rel, where=mf, field="hq_path/lq_path")
        if not f.is_file():
            raise ArtifactError(f"{f}: listed in the manifest but missing")
        return {"bytes": f.read_bytes(), "path": Path(rel).name} if embed else str(f.resolve())

    data: dict[str, Any] = {"hq": [image(r) for r in cols["hq_path"]], "lq": [image(r) for r in cols["lq_path"]]}
    data.update(cols)
    features = datasets.Features({"hq": datasets.Image(), "lq": datasets.Image(), **feats})
    return datasets.Dataset.from_dict(data, features=features)


def load(path: str | os.PathLike[str]) -> Any:
    """A ``datasets.Dataset`` with Image features ``hq``/``lq`` plus the manifest columns (sorted by id)."""
    return _dataset(Path(path), embed=False)


def export_parquet(path: str | os.PathLike[str], out_file: str | os.PathLike[str]) -> Path:
    """Write the test set as one parquet file with the PNG bytes embedded; returns ``out_file``."""
    import io

    ds = _dataset(Path(path), embed=True)
    buf = io.BytesIO()
    ds.to_parquet(buf)
    return atomic_write_bytes(out_file, buf.getvalue())


def verify_testset(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Re-hash a test set. Returns ``{"ok": bool, "checked": n_files, "problems": [str, ...]}``."""
    p = Path(path)
    meta = read_testset_json(p)
    problems: list[str] = []
    mf = p / "manifest.parquet"
    if mf.is_file() and sha256_file(mf) != meta.get("manifest_sha256"):
        problems.append(f"{mf}: SHA-256 differs from testset.json manifest_sha256 (manifest changed)")
    cols = read_manifest(p).to_pydict()
    checked = 0
    from bfrbench.io.paths import UnsafePathError, check_id, resolve_inside

    for i, iid in enumerate(cols["id"]):
        try:
            check_id(iid, where=mf)
        except UnsafePathError as exc:
            problems.append(str(exc))
        for rel_key, sha_key in (("hq_path", "hq_sha256"), ("lq_path", "lq_sha256")):
            rel = cols[rel_key][i]
            if rel is None:
                continue
            try:
                f = resolve_inside(p, rel, where=f"{mf} (id {iid!r})", field=rel_key)
            except UnsafePathError as exc:
                problems.append(str(exc))
                continue
            checked += 1
            if not f.is_file():
                problems.append(f"{f}: missing (id {iid})")
            elif sha256_file(f) != cols[sha_key][i]:
                problems.append(f"{f}: SHA-256 differs from the manifest (id {iid})")
    counts = meta.get("counts", {})
    if counts.get("ok") != len(cols["id"]):
        problems.append(f"testset.json counts.ok={counts.get('ok')} but the manifest has {len(cols['id'])} rows")
    return {"ok": not problems, "checked": checked, "problems": problems}
