"""Consistency checks of a reference-groups folder (run at the end of every build, and by tests).

1. no identity crosses splits (``groups.parquet``);
2. no val/test reference closer than ``min_dist`` to its target, recomputed in float64 from the stored
   embeddings, and every reference belongs to its target's identity;
3. the FFHQ-Ref CSVs hold exactly the mapping of ``references.parquet``; the split files cover every
   source image once;
4. every reference (and target) file exists under the recorded source / pool folder;
5. determinism is checked by comparing ``content_digest`` of two builds (tests do this): it hashes every
   output file except ``refgroups.json`` (whose ``environment`` records the date and command line).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bfrbench.errors import ArtifactError
from bfrbench.io import sha256_file, sha256_json

__all__ = ["check_refgroups", "content_digest", "output_files"]


def output_files(out: str | os.PathLike[str]) -> list[str]:
    """Every file of the folder except ``refgroups.json`` (relative posix paths, sorted)."""
    root = Path(out)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.name != "refgroups.json" and not p.name.startswith("."))


def content_digest(out: str | os.PathLike[str]) -> str:
    """SHA-256 over ``{path: sha256}`` of :func:`output_files`: equal digests = identical outputs."""
    root = Path(out)
    return sha256_json({f: sha256_file(root / f) for f in output_files(root)})


def check_refgroups(out: str | os.PathLike[str], *, raise_on_problem: bool = False,
                    check_files: bool = True) -> list[str]:
    """Run the checks of the module docstring; returns the list of problems (empty when all pass).

    Raises:
        ArtifactError: with ``raise_on_problem`` and at least one problem (all are listed).
    """
    import json

    import pandas as pd

    from bfrbench.refgroups import ffhqref
    from bfrbench.refgroups.embed import load_embeddings

    root = Path(out)
    rec_path = root / "refgroups.json"
    if not rec_path.is_file():
        raise ArtifactError(f"{root}: not a reference-groups folder (no refgroups.json)")
    rec = json.loads(rec_path.read_text(encoding="utf-8"))
    problems: list[str] = []
    groups = pd.read_parquet(root / "groups.parquet")
    refs = pd.read_parquet(root / "references.parquet")
    src_groups = groups[groups["source"] == "src"]

    # 1. identities never cross splits
    per_id = src_groups.groupby("identity")["split"].nunique()
    for ident in per_id[per_id > 1].index[:10]:
        members = src_groups[src_groups["identity"] == ident]
        problems.append(f"identity {ident} spans splits {sorted(set(members['split']))}")

    # 2. distances and identities of references
    emb = load_embeddings(root, "embeddings")
    vec = {n: k for k, n in enumerate(emb.names)}
    pool_vec: dict[str, int] = {}
    pool_emb = None
    if (root / "pool_embeddings.npy").is_file():
        pool_emb = load_embeddings(root, "pool_embeddings")
        pool_vec = {n: k for k, n in enumerate(pool_emb.names)}
    ident_src = dict(zip(src_groups["image"], src_groups["identity"]))
    pool_groups = groups[groups["source"] == "pool"]
    ident_pool = dict(zip(pool_groups["image"], pool_groups["identity"]))
    min_dist = float(rec["min_dist"])
    for row in refs.itertuples(index=False):
        t = emb.vectors[vec[row.gt_image]].astype(np.float64)
        t /= np.linalg.norm(t)
        in_pool = row.ref_source == "pool"
        for r in row.ref_images:
            rv = (pool_emb.vectors[pool_vec[r]] if in_pool and pool_emb is not None else emb.vectors[vec[r]])
            rv = rv.astype(np.float64) / np.linalg.norm(rv)
            d = max(0.0, 1.0 - float(rv @ t))
            if row.split != "train" and d < min_dist:
                problems.append(f"{row.split} target {row.gt_image}: reference {r} at distance {d:.4f} < "
                                f"min_dist {min_dist}")
            if (ident_pool if in_pool else ident_src).get(r) != ident_src.get(row.gt_image):
                problems.append(f"target {row.gt_image}: reference {r} is not in its identity")

    # 3. FFHQ-Ref files agree with the parquet
    csv_refs, split_files = ffhqref.read_ffhqref(root)
    for s, mapping in csv_refs.items():
        want = {g: list(r) for g, r in zip(refs.loc[refs["split"] == s, "gt_image"],
                                          refs.loc[refs["split"] == s, "ref_images"])}
        if mapping != want:
            problems.append(f"{ffhqref.MAPPING_DIR}/{s}_references.csv differs from references.parquet")
    listed = [n for s in split_files.values() for n in s]
    if len(listed) != len(set(listed)):
        problems.append("an image is listed in more than one split file")
    if set(listed) != set(src_groups["image"]):
        problems.append(f"split files list {len(set(listed))} images, the source has {len(src_groups)}")

    # 4. files exist
    if check_files and rec.get("src"):
        src_root = Path(rec["src"])
        pool_root = Path(rec["pool"]) if rec.get("pool") else None
        missing = 0
        for row in refs.itertuples(index=False):
            base = pool_root if row.ref_source == "pool" and pool_root else src_root
            for r in [*row.ref_images]:
                if not (base / r).is_file():
                    missing += 1
                    if missing <= 10:
                        problems.append(f"reference file missing: {base / r}")
            if not (src_root / row.gt_image).is_file():
                problems.append(f"target file missing: {src_root / row.gt_image}")
        if missing > 10:
            problems.append(f"... {missing} reference files missing in all")
    if problems and raise_on_problem:
        raise ArtifactError(f"{root}: reference-groups check failed:\n  " + "\n  ".join(problems))
    return problems
