"""Attach references from a reference-groups folder to a degraded test set (docs/artifacts.md).

For every test-set id whose source image is a target in the reference groups, its references (in FPS
order, at most ``max_refs``) are copied (or hard/sym-linked) into ``TESTSET/refs/`` and listed in
``TESTSET/references.parquet`` with columns ``id`` (str), ``ref_paths`` (list of str, relative to the test
set folder, ordered) and ``ref_ids`` (list of str: reference names relative to their collection).

Matching a test-set row to a target: the manifest's ``src_path`` (relative to the test set's recorded
``src``; absolute in test sets built before that) resolved against the reference groups'
source folder (``refgroups.json`` ``src``) gives the target name; when that fails (the test set was built
from a copy of the images), the file stem of ``src_path`` is matched against target stems (unique stems
only). File names in ``refs/``: the reference name with ``/`` replaced by ``__`` (the original bytes, same
extension), so a reference shared by several targets is stored once.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Literal

from bfrbench.errors import ArtifactError, ConfigError
from bfrbench.io.outdir import writes_output
from bfrbench.io.paths import UnsafePathError, resolve_inside

__all__ = ["attach_references"]

LinkMode = Literal["copy", "hardlink", "symlink"]


def _place(src: Path, dst: Path, mode: LinkMode) -> None:
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    if tmp.exists() or tmp.is_symlink():
        tmp.unlink()
    if mode == "symlink":
        os.symlink(src.resolve(), tmp)
    elif mode == "hardlink":
        try:
            os.link(src, tmp)
        except OSError:  # other file system: fall back to a copy
            shutil.copyfile(src, tmp)
    else:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


@writes_output("testset_dir", inputs=("refgroups_dir",), command="bfrbench build testset --refgroups")
def attach_references(testset_dir: str | os.PathLike[str], refgroups_dir: str | os.PathLike[str], *,
                      max_refs: int | None = None, splits: tuple[str, ...] = ("test", "val", "train"),
                      link: LinkMode = "copy") -> dict[str, int]:
    """Copy references into ``TESTSET/refs/`` and write ``TESTSET/references.parquet``.

    Args:
        testset_dir: a test set folder (``manifest.parquet``).
        refgroups_dir: a reference-groups folder (``refgroups.json``, ``references.parquet``).
        max_refs: keep the first ``max_refs`` references of each target (None: all).
        splits: reference splits searched for a target, in this order.
        link: "copy", "hardlink" or "symlink".

    Returns:
        counts: ``ids`` (test-set rows), ``with_refs``, ``ref_files`` (distinct files placed), ``refused``
        (targets whose reference names would leave the source folder; listed in testset.json
        ``references.refused`` and skipped).
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bfrbench.io import atomic_write_bytes

    ts, rg = Path(testset_dir), Path(refgroups_dir)
    if link not in ("copy", "hardlink", "symlink"):
        raise ConfigError(f"link must be 'copy', 'hardlink' or 'symlink', got {link!r}")
    if max_refs is not None and max_refs < 1:
        raise ConfigError(f"max_refs must be >= 1, got {max_refs}")
    man_path = ts / "manifest.parquet"
    if not man_path.is_file():
        raise ArtifactError(f"{ts}: not a test set (no manifest.parquet)")
    if not (rg / "refgroups.json").is_file():
        raise ArtifactError(f"{rg}: not a reference-groups folder (no refgroups.json)")
    rec = json.loads((rg / "refgroups.json").read_text(encoding="utf-8"))
    refs = pd.read_parquet(rg / "references.parquet")
    manifest = pd.read_parquet(man_path)
    for col in ("id", "src_path"):
        if col not in manifest.columns:
            raise ArtifactError(f"{man_path}: missing column {col!r}")
    src_root = Path(rec["src"]) if rec.get("src") else None
    pool_root = Path(rec["pool"]) if rec.get("pool") else None
    by_target: dict[str, tuple[list[str], str]] = {}
    for s in splits:
        for row in refs[refs["split"] == s].itertuples(index=False):
            by_target.setdefault(row.gt_image, (list(row.ref_images), row.ref_source))
    stems: dict[str, list[str]] = {}
    for g in by_target:
        stems.setdefault(Path(g).stem, []).append(g)

    ids: list[str] = []
    paths: list[list[str]] = []
    rids: list[list[str]] = []
    placed: set[str] = set()
    refused: list[str] = []
    from bfrbench.testset import read_testset_json

    meta = read_testset_json(ts) if (ts / "testset.json").is_file() else None  # None: a bare manifest folder
    ts_src = Path(meta["src"]) if meta and meta.get("src") else None  # manifest src_path is relative to it
    for mid, sp in zip(manifest["id"].astype(str), manifest["src_path"].astype(str)):
        target = None
        src_file = Path(sp) if Path(sp).is_absolute() or ts_src is None else ts_src / sp  # relative since v2
        if src_root is not None:
            try:
                rel = src_file.resolve().relative_to(src_root.resolve()).as_posix()
                target = rel if rel in by_target else None
            except ValueError:
                target = None
        if target is None and len(stems.get(Path(sp).stem, [])) == 1:
            target = stems[Path(sp).stem][0]
        if target is None:
            continue
        names, source = by_target[target]
        names = names[:max_refs] if max_refs is not None else names
        base = pool_root if source == "pool" and pool_root is not None else src_root
        if base is None:
            raise ArtifactError(f"{rg}/refgroups.json records no source folder; cannot find reference files")
        try:  # names come from the reference-groups artifact: they must stay inside its source folder
            files = [resolve_inside(base, nm, where=rg / "references.parquet", field="ref_images") for nm in names]
        except UnsafePathError as exc:
            refused.append(f"{mid}: {exc}")
            continue
        rel_paths = []
        for nm, f in zip(names, files):
            if not f.is_file():
                raise ArtifactError(f"reference file missing: {f} (reference of {target!r})")
            dst_name = nm.replace("/", "__")
            _place(f, ts / "refs" / dst_name, link)
            placed.add(dst_name)
            rel_paths.append(f"refs/{dst_name}")
        ids.append(mid)
        paths.append(rel_paths)
        rids.append(list(names))
    order = sorted(range(len(ids)), key=lambda k: ids[k])
    table = pa.table({"id": pa.array([ids[k] for k in order], pa.string()),
                      "ref_paths": pa.array([paths[k] for k in order], pa.list_(pa.string())),
                      "ref_ids": pa.array([rids[k] for k in order], pa.list_(pa.string()))})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    ref_bytes = sink.getvalue().to_pybytes()
    atomic_write_bytes(ts / "references.parquet", ref_bytes)
    counts = {"ids": len(manifest), "with_refs": len(ids), "ref_files": len(placed), "refused": len(refused)}
    _record(ts, meta, rg, ref_bytes, max_refs=max_refs, splits=splits, link=link, counts=counts, refused=refused)
    return counts


def _record(ts: Path, meta: dict | None, rg: Path, ref_bytes: bytes, **info: object) -> None:
    """Note the attachment in ``TESTSET/testset.json`` (key ``references``) so runs can cite it."""
    from bfrbench.io import atomic_write_json, sha256_bytes, sha256_file

    if meta is None:  # nothing to annotate
        return
    meta["references"] = {
        "refgroups": str(rg.resolve()),
        "refgroups_json_sha256": sha256_file(rg / "refgroups.json"),
        "refgroups_references_sha256": sha256_file(rg / "references.parquet"),
        "references_parquet_sha256": sha256_bytes(ref_bytes),
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in info.items()},
    }
    atomic_write_json(ts / "testset.json", meta)
