"""Inputs of a restore run: the test-set manifest (or a plain folder of photos) and its verification.

Used by the runner's planning stage (:mod:`bfrbench.methods.runner`) and by DTBFR's pseudo-target stage.
Manifest contents are untrusted (docs/security.md): ids and paths are checked with :mod:`bfrbench.io.paths`,
LQ files against their recorded ``lq_sha256`` (:mod:`bfrbench.io.verify`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from bfrbench.errors import ArtifactError, ConfigError

__all__ = ["read_manifest", "verify_inputs"]


def read_manifest(testset: Path, unaligned: bool) -> tuple[list[dict[str, Any]], str | None]:
    """Manifest rows (dicts, NaN -> None, with absolute ``_lq``) and the manifest SHA-256."""
    from bfrbench.io import list_images, sha256_file

    manifest = testset / "manifest.parquet"
    if not manifest.is_file():
        if not unaligned:
            raise ArtifactError(f"{testset}: no manifest.parquet; is this a test set (bfrbench build testset)? "
                                "For a plain folder of photos use `unaligned=True`")
        if not testset.is_dir():
            raise ConfigError(f"`testset` {testset} is not a folder")
        from bfrbench.io.paths import id_problem

        rows = [{"id": p.relative_to(testset).with_suffix("").as_posix().replace("/", "__"), "_lq": str(p)}
                for p in list_images(testset)]
        for r in rows:
            if id_problem(r["id"]):
                r["_problem"] = f"{r['_lq']}: file name gives id {r['id']!r}: {id_problem(r['id'])}"
        return rows, None
    import pandas as pd

    try:
        df = pd.read_parquet(manifest)
    except Exception as exc:
        raise ArtifactError(f"{manifest}: cannot read: {exc}") from exc
    if not {"id", "lq_path"} <= set(df.columns):
        raise ArtifactError(f"{manifest}: needs columns 'id' and 'lq_path', found {sorted(df.columns)}")
    rows = []
    seen: set[str] = set()
    for rec in df.to_dict(orient="records"):
        row: dict[str, Any] = {k: (None if isinstance(v, float) and math.isnan(v) else (v.item() if isinstance(v, np.generic) else v))
               for k, v in rec.items()}
        row["id"] = str(row["id"])
        row["_lq"] = _safe_lq(testset, manifest, row, seen)
        rows.append(row)
    rows.sort(key=lambda r: r["id"])
    return rows, sha256_file(manifest)


def _safe_lq(testset: Path, manifest: Path, row: dict[str, Any], seen: set[str]) -> str | None:
    """The resolved LQ path of a manifest row, or None with ``row["_problem"]`` set (bfrbench.io.paths)."""
    from bfrbench.io.paths import UnsafePathError, check_id, resolve_inside

    where = f"{manifest} (id {row['id']!r})"
    try:
        check_id(row["id"], where=manifest)
        if row["id"] in seen:
            raise UnsafePathError(manifest, "id", row["id"], "appears twice in the manifest")
        seen.add(row["id"])
        return str(resolve_inside(testset, row.get("lq_path"), where=where, field="lq_path"))
    except UnsafePathError as exc:
        row["_problem"] = str(exc)
        return None


def verify_inputs(testset: Path, rows: list[dict[str, Any]], verify: bool,
                   unaligned: bool) -> tuple[dict[str, str], dict[str, Any]]:
    """Check ids/paths (already done while reading) and LQ hashes against the manifest (docs/security.md).

    Returns ``(failures by id, the run.json "verification" record)``. Unsafe ids/paths are failures even with
    ``verify`` False; hash mismatches are failures, or warnings when ``verify`` is False. A manifest whose hash
    differs from testset.json stops the run (ArtifactError) unless ``verify`` is False.
    """
    from bfrbench.io.verify import HashCache, check_manifest, check_recorded

    failures: dict[str, str] = {r["id"]: r["_problem"] for r in rows if r.get("_problem")}
    warnings: list[str] = []
    rec: dict[str, Any] = {"enabled": verify, "manifest": None, "lq_checked": 0, "warnings": warnings}
    if unaligned and not (testset / "manifest.parquet").is_file():
        rec["manifest"] = "no manifest (plain folder of photos): nothing to verify"
        return failures, rec
    problem = check_manifest(testset)
    if problem is not None:
        if verify:
            raise ArtifactError(problem + "; rebuild the test set, or pass `verify=False` to use it anyway")
        warnings.append(problem)
    rec["manifest"] = ("no testset.json: not checked" if not (testset / "testset.json").is_file()
                       else ("differs from testset.json" if problem else "matches testset.json"))
    cache = HashCache(testset)
    for r in rows:
        if r["id"] in failures or not r.get("lq_sha256"):
            continue
        msg = check_recorded(cache, Path(r["_lq"]), r["lq_sha256"], what="LQ",
                             source=f"{testset / 'manifest.parquet'} lq_sha256")
        rec["lq_checked"] += 1
        if msg is not None:
            if verify:
                failures[r["id"]] = msg + " (pass `verify=False` to use it anyway)"
            else:
                warnings.append(msg)
    cache.save()
    return failures, rec
