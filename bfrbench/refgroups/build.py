"""``build_refgroups``: FFHQ-Ref-style reference groups from any collection of aligned faces.

Protocol (ReF-LDM, Hsiao et al., NeurIPS 2024, Sec. 4; release github.com/ChiWeiHsiao/ref-ldm 0.1.0):
embed every image, link pairs with cosine distance < threshold (:mod:`.graph`, exact), identities are the
connected components, split identity-disjointly (:mod:`.split`), choose and FPS-order references per
target (:mod:`.select`), write FFHQ-Ref files (:mod:`.ffhqref`) plus parquet, a report and
``refgroups.json``, then run :func:`bfrbench.refgroups.checks.check_refgroups`.

Decisions beyond the paper (documented in ``docs/refgroups.md``):

* images with no neighbour (no reference) go to the train split file, so the three split files cover
  every image, as FFHQ-Ref's cover all 70,000; they appear in no reference CSV;
* references of a target are its direct graph neighbours (distance < threshold), which all lie in its
  identity and therefore in its split;
* train targets keep every neighbour (``min_dist`` 0, at least one reference, at most ``train_max_refs``);
  val/test targets use ``min_dist``, ``min_refs``, ``max_refs``;
* ``pool`` mode (CelebA-Test-Ref style): every source image is a test target and its references are its
  neighbours in the pool collection only; only the ``test`` files are written.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.io import atomic_write_bytes, atomic_write_json, sha256_file, sha256_json
from bfrbench.io.outdir import LOCK_NAME, writes_output
from bfrbench.refgroups import ffhqref
from bfrbench.refgroups.embed import EmbeddingTable, embed_folder, save_embeddings
from bfrbench.refgroups.graph import connected_components, neighbour_pairs
from bfrbench.refgroups.select import select_references
from bfrbench.refgroups.split import (
    DEFAULT_SPLIT,
    SPLITS,
    identity_strata,
    parse_split_spec,
    split_identities,
)

__all__ = ["FORMAT_VERSION", "build_from_embeddings", "build_refgroups", "load_attributes"]

FORMAT_VERSION = 1


def load_attributes(path: str | os.PathLike[str], column: str, names: list[str]) -> dict[str, str]:
    """Attribute value per image name from a CSV or parquet file with columns ``image`` and ``column``.

    ``image`` holds names relative to the source folder; a value that matches no name is tried as a file
    stem. Returns name -> value (str) for the images that have one.
    """
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"attributes: file {str(p)!r} not found")
    try:
        df = pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p, dtype=str, keep_default_na=False)
    except (OSError, ValueError, ImportError) as exc:
        raise ConfigError(f"attributes: cannot read {str(p)!r}: {exc}") from None
    if "image" not in df.columns or column not in df.columns:
        raise ConfigError(f"attributes: {str(p)!r} needs columns 'image' and {column!r}; has {list(df.columns)}")
    by_name = set(names)
    by_stem: dict[str, str] = {}
    for n in names:
        by_stem.setdefault(Path(n).stem, n)
    out: dict[str, str] = {}
    for img, val in zip(df["image"].astype(str), df[column]):
        if val is None or (isinstance(val, float) and np.isnan(val)) or str(val) == "":
            continue
        key = img if img in by_name else by_stem.get(Path(img).stem)
        if key is not None:
            out[key] = str(val)
    return out


_OUTPUTS = ("reference_mapping", "id_based_ffhq_split", "plots", "groups.parquet", "references.parquet",
            "pairs.parquet", "embeddings.npy", "embeddings.parquet", "pool_embeddings.npy",
            "pool_embeddings.parquet", "report.md", "refgroups.json")


def _prepare_out(out: Path) -> Path:
    """Create ``out``; a previous reference-groups build there is replaced (its files are removed first, so
    no stale split or CSV survives); any other non-empty folder is refused."""
    import shutil

    if out.exists() and not out.is_dir():
        raise ConfigError(f"out {str(out)!r} exists and is not a folder")
    if out.is_dir() and any(p.name != LOCK_NAME for p in out.iterdir()):
        if not (out / "refgroups.json").is_file():
            raise ConfigError(f"out {str(out)!r} is not empty and holds no earlier reference groups; "
                              "choose an empty or new folder")
        for name in _OUTPUTS:
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def _csr(n: int, i: np.ndarray, j: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric adjacency in CSR form: (indptr (n+1,), neighbours, distances), neighbours sorted."""
    a = np.concatenate([i, j])
    b = np.concatenate([j, i])
    dd = np.concatenate([d, d])
    order = np.lexsort((b, a))
    a, b, dd = a[order], b[order], dd[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, a + 1, 1)
    return np.cumsum(indptr), b, dd


def _write_parquet(path: Path, columns: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink, compression="zstd")
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


@dataclass
class _Graph:
    """The neighbour graph of the source (+ pool) embeddings: rows 0..n-1 are the source, n..n+m-1 the pool."""

    n: int
    m: int
    names: list[str]
    vecs: np.ndarray  # (n+m, D) float embeddings
    pairs: Any  # graph.NeighbourPairs: i, j, dist, n_candidates
    labels: np.ndarray  # (n+m,) connected-component id
    sizes: np.ndarray  # component size per component id
    indptr: np.ndarray  # CSR adjacency (n+m+1,)
    nbr: np.ndarray
    degree: np.ndarray  # (n+m,) neighbour count
    seconds: float


def _check_options(src: EmbeddingTable, threshold: float, min_dist: float | None, max_refs: int, min_refs: int,
                   stratify_by: str | None, attributes: Any) -> float:
    """Validate the selection options; returns ``min_dist`` (None -> ``threshold / 4``)."""
    if min_dist is None:  # FFHQ-Ref's 0.1 at ArcFace's 0.4, scaled to this embedder's threshold
        min_dist = float(threshold) / 4.0
    if not 0 <= min_dist < threshold:
        raise ConfigError(f"min_dist must be in [0, threshold={threshold}), got {min_dist}")
    if min_refs < 1 or max_refs < min_refs:
        raise ConfigError(f"need 1 <= min_refs <= max_refs, got min_refs={min_refs}, max_refs={max_refs}")
    if (stratify_by is None) != (attributes is None):
        raise ConfigError("stratify_by and attributes must be given together")
    if len(src.names) == 0:
        raise ConfigError("no embeddings in the source collection (every image failed?)")
    return min_dist


def _plan_graph(src: EmbeddingTable, pool: EmbeddingTable | None, *, threshold: float, memory_bytes: int,
                threads: int | None, device: str, screen_dtype: str, t0: float) -> _Graph:
    """Neighbour pairs (cosine distance < threshold), components and CSR adjacency of src (+ pool)."""
    n = len(src.names)
    m = 0 if pool is None else len(pool.names)
    vecs = src.vectors if pool is None else np.concatenate([src.vectors, pool.vectors])
    names = list(src.names) + ([] if pool is None else list(pool.names))
    pairs = neighbour_pairs(vecs, threshold=threshold, memory_bytes=memory_bytes, threads=threads,
                            device=device, screen_dtype=screen_dtype)  # type: ignore[arg-type]
    seconds = time.perf_counter() - t0
    labels = connected_components(n + m, pairs.i, pairs.j)
    sizes = np.bincount(labels, minlength=n + m)
    indptr, nbr, _ = _csr(n + m, pairs.i, pairs.j, pairs.dist)
    return _Graph(n=n, m=m, names=names, vecs=vecs, pairs=pairs, labels=labels, sizes=sizes, indptr=indptr,
                  nbr=nbr, degree=np.diff(indptr), seconds=seconds)


def _assign_splits(g: _Graph, *, pool_mode: bool, split: str, seed: int, stratify_by: str | None,
                   attributes: Any) -> tuple[np.ndarray, dict[str, str]]:
    """Split per row (object array: train/val/test, ``pool`` for pool rows) and the attribute per image."""
    n, m, labels, sizes = g.n, g.m, g.labels, g.sizes
    split_of = np.array(["train"] * n + ["pool"] * m, dtype=object)
    spec = parse_split_spec(split)
    strata_values: dict[str, str] = {}
    if pool_mode:
        split_of[:n] = "test"
        return split_of, strata_values
    multi = sorted({int(labels[k]) for k in range(n) if sizes[labels[k]] >= 2})
    strata = None
    if stratify_by is not None and attributes is not None:
        strata_values = load_attributes(attributes, stratify_by, g.names[:n])
        strata = identity_strata({g.names[k]: str(labels[k]) for k in range(n)}, strata_values)
    assign = split_identities([str(x) for x in multi], spec, seed=seed, strata=strata)
    for k in range(n):
        if sizes[labels[k]] >= 2:
            split_of[k] = assign[str(int(labels[k]))]
    return split_of, strata_values


_Rows = dict[str, list[tuple[int, list[int], list[float]]]]


def _select_all(g: _Graph, split_of: np.ndarray, *, pool_mode: bool, min_dist: float, max_refs: int,
                min_refs: int, train_max_refs: int | None) -> _Rows:
    """References per target, by split: (row, reference rows, distances)."""
    rows: _Rows = {s: [] for s in SPLITS}
    for k in range(g.n):
        cand = g.nbr[g.indptr[k]:g.indptr[k + 1]]
        if pool_mode:
            cand = cand[cand >= g.n]
        if cand.size == 0:
            continue
        s = str(split_of[k])
        train = s == "train"
        sel = select_references(g.vecs[k], cand, g.vecs[cand], min_dist=0.0 if train else min_dist,
                                max_refs=train_max_refs if train else max_refs, min_refs=1 if train else min_refs)
        if sel.refs:
            rows[s].append((k, sel.refs, sel.dists))
    return rows


def _write_outputs(outp: Path, g: _Graph, src: EmbeddingTable, pool: EmbeddingTable | None, split_of: np.ndarray,
                   rows: _Rows, strata_values: dict[str, str], written_splits: tuple[str, ...]) -> np.ndarray:
    """FFHQ-Ref CSVs and split files, groups/references/pairs parquet, embeddings; returns refs per row."""
    n, m, names = g.n, g.m, g.names
    for s in written_splits:
        ffhqref.write_reference_csv(outp / ffhqref.MAPPING_DIR / f"{s}_references.csv",
                                    [(names[k], [names[r] for r in refs]) for k, refs, _ in rows[s]],
                                    with_lq=s != "train")
        ffhqref.write_split_file(outp / ffhqref.SPLIT_DIR / f"{s}_image.txt",
                                 [names[k] for k in range(n) if split_of[k] == s])
    n_refs = np.zeros(n + m, dtype=np.int64)
    for s in SPLITS:
        for k, refs, _ in rows[s]:
            n_refs[k] = len(refs)
    sha = list(src.sha256) + ([] if pool is None else list(pool.sha256))
    _write_parquet(outp / "groups.parquet", {
        "image": names, "source": ["src"] * n + ["pool"] * m, "sha256": sha, "identity": g.labels.astype(np.int64),
        "identity_size": g.sizes[g.labels].astype(np.int64), "n_neighbours": g.degree.astype(np.int64),
        "split": [str(x) for x in split_of], "n_refs": n_refs,
        "attribute": [strata_values.get(names[k]) if k < n else None for k in range(n + m)],
    })
    ref_rows = [(s, k, refs, d) for s in SPLITS for k, refs, d in rows[s]]
    _write_parquet(outp / "references.parquet", {
        "split": [r[0] for r in ref_rows], "gt_image": [names[r[1]] for r in ref_rows],
        "lq_image": [names[r[1]] if r[0] != "train" else None for r in ref_rows],
        "ref_images": [[names[x] for x in r[2]] for r in ref_rows], "ref_dists": [r[3] for r in ref_rows],
        "ref_source": ["pool" if pool is not None else "src"] * len(ref_rows),
    })
    _write_parquet(outp / "pairs.parquet", {"image_a": [names[x] for x in g.pairs.i],
                                            "image_b": [names[x] for x in g.pairs.j], "dist": g.pairs.dist})
    save_embeddings(src, outp, "embeddings")
    if pool is not None:
        save_embeddings(pool, outp, "pool_embeddings")
    return n_refs


def _split_counts(g: _Graph, split_of: np.ndarray, rows: _Rows, written_splits: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for s in written_splits:
        in_s = [k for k in range(g.n) if split_of[k] == s]
        out[s] = {"images": len(in_s), "targets": len(rows[s]),
                  "identities": len({int(g.labels[k]) for k in in_s if g.sizes[g.labels[k]] >= 2}),
                  "refs_per_target": {str(c): int(v) for c, v in
                                      zip(*np.unique([len(r[1]) for r in rows[s]], return_counts=True))}}
    return out


def _inputs_hash(t: EmbeddingTable) -> str:
    return sha256_json(sorted(f"{a}:{b}" for a, b in zip(t.names, t.sha256)))


def build_from_embeddings(
    src: EmbeddingTable,
    out: str | os.PathLike[str],
    *,
    threshold: float,
    src_root: str | os.PathLike[str] | None = None,
    pool: EmbeddingTable | None = None,
    pool_root: str | os.PathLike[str] | None = None,
    min_dist: float | None = None,
    max_refs: int = 9,
    min_refs: int = 2,
    train_max_refs: int | None = None,
    split: str = DEFAULT_SPLIT,
    seed: int = 0,
    stratify_by: str | None = None,
    attributes: str | os.PathLike[str] | None = None,
    default_threshold: float | None = None,
    memory_bytes: int = 1 << 30,
    threads: int | None = 2,
    device: str = "cpu",
    screen_dtype: str = "auto",
    report: bool = True,
) -> dict[str, Any]:
    """Build reference groups from embeddings already computed; returns the ``refgroups.json`` record.

    Plan (neighbour graph, splits, reference selection), write the files, then record and check them.

    Args:
        src: embeddings of the source collection (rows in sorted-name order).
        out: output folder.
        threshold: cosine-distance threshold of the neighbour graph.
        src_root, pool_root: folders the names are relative to (recorded, used by the file check).
        pool: optional reference collection (CelebA-Test-Ref style); see the module docstring.
        min_dist: minimum target-reference (and reference-reference) distance for val/test; None uses
            ``threshold / 4`` (FFHQ-Ref's 0.1 at ArcFace's 0.4, scaled for other embedders).
        max_refs, min_refs, train_max_refs: reference selection (see :mod:`.select`).
        split: split spec for :func:`.split.parse_split_spec` (ignored with ``pool``).
        seed: split seed.
        stratify_by, attributes: attribute column and file used to balance groups in the test split.
        default_threshold: the embedder's documented threshold (for the report's warnings).
        memory_bytes, threads, device, screen_dtype: see :func:`.graph.neighbour_pairs`.
    """
    t0 = time.perf_counter()
    min_dist = _check_options(src, threshold, min_dist, max_refs, min_refs, stratify_by, attributes)
    outp = _prepare_out(Path(out))
    g = _plan_graph(src, pool, threshold=threshold, memory_bytes=memory_bytes, threads=threads, device=device,
                    screen_dtype=screen_dtype, t0=t0)
    pool_mode = pool is not None
    split_of, strata_values = _assign_splits(g, pool_mode=pool_mode, split=split, seed=seed, stratify_by=stratify_by,
                                             attributes=attributes)
    rows = _select_all(g, split_of, pool_mode=pool_mode, min_dist=min_dist, max_refs=max_refs, min_refs=min_refs,
                       train_max_refs=train_max_refs)
    written_splits = ("test",) if pool_mode else SPLITS
    n_refs = _write_outputs(outp, g, src, pool, split_of, rows, strata_values, written_splits)
    n, m = g.n, g.m
    multi_ids = {int(g.labels[k]) for k in range(n + m) if g.sizes[g.labels[k]] >= 2}
    record: dict[str, Any] = {
        "kind": "refgroups", "format_version": FORMAT_VERSION,
        "src": str(Path(src_root).resolve()) if src_root else None,
        "pool": str(Path(pool_root).resolve()) if pool_root else None,
        "embedder": {"name": src.embedder, "model_id": src.model_id, "weights_sha256": src.weights_sha256,
                     "default_threshold": default_threshold},
        "threshold": float(threshold), "min_dist": float(min_dist), "max_refs": int(max_refs),
        "min_refs": int(min_refs), "train_max_refs": train_max_refs, "seed": int(seed),
        "split": {"spec": split if pool is None else "test (pool mode)",
                  "counts": _split_counts(g, split_of, rows, written_splits)},
        "stratify_by": stratify_by,
        "attributes_sha256": sha256_file(attributes) if attributes else None,
        "inputs_sha256": {"src": _inputs_hash(src), "pool": None if pool is None else _inputs_hash(pool)},
        "counts": {"images": n, "pool_images": m, "identities": len(multi_ids),
                   "components": int(np.unique(g.labels).size), "images_with_refs": int((g.degree[:n] > 0).sum()),
                   "pairs": len(g.pairs), "targets": sum(len(rows[s]) for s in SPLITS),
                   "failed": len(src.failures) + (0 if pool is None else len(pool.failures))},
        "failures": list(src.failures) + ([] if pool is None else list(pool.failures)),
        "graph": {"screen_candidates": g.pairs.n_candidates, "memory_bytes": int(memory_bytes),
                  "screen_dtype": screen_dtype, "device": device, "seconds": round(g.seconds, 3)},
    }
    return _finish(outp, record, g, split_of, n_refs, seed=seed, report=report)


def _finish(outp: Path, record: dict[str, Any], g: _Graph, split_of: np.ndarray, n_refs: np.ndarray, *, seed: int,
            report: bool) -> dict[str, Any]:
    """Report (optional), file hashes, environment; write ``refgroups.json`` and check the folder."""
    if report:
        from bfrbench.refgroups.report import write_report

        record["warnings"] = write_report(outp, record=record, vectors=g.vecs, labels=g.labels, sizes=g.sizes,
                                          split_of=split_of, n_refs=n_refs, n_src=g.n, seed=seed)
    from bfrbench.provenance import environment
    from bfrbench.refgroups.checks import check_refgroups, output_files

    record["files"] = {f: sha256_file(outp / f) for f in output_files(outp)}
    record["environment"] = environment()
    atomic_write_json(outp / "refgroups.json", record)
    check_refgroups(outp, raise_on_problem=True)
    return record


@writes_output("out", inputs=("src", "pool"), command="bfrbench build refgroups")
def build_refgroups(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    embedder: Any = "arcface",
    threshold: float | None = None,
    pool: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    batch_size: int = 32,
    workers: int = 1,
    scheduler: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Embed ``src`` (and ``pool``) with ``embedder`` and build reference groups into ``out``.

    Args:
        src: folder of aligned face images (names relative to it are used everywhere).
        out: output folder.
        embedder: registry name for :func:`bfrbench.faces.get_embedder` (``arcface``, ``dlib``,
            ``facenet``) or an embedder object.
        threshold: cosine-distance threshold; None uses the embedder's ``default_threshold``.
        pool: optional reference collection (CelebA-Test-Ref style).
        device, batch_size, workers, scheduler, cache_dir: embedding extraction (:mod:`.embed`).
        **options: the keyword options of :func:`build_from_embeddings` (min_dist, max_refs, min_refs,
            train_max_refs, split, seed, stratify_by, attributes, memory_bytes, threads, screen_dtype).

    Returns:
        The ``refgroups.json`` record.
    """
    allowed = {"min_dist", "max_refs", "min_refs", "train_max_refs", "split", "seed", "stratify_by", "attributes",
               "memory_bytes", "threads", "screen_dtype", "report"}
    unknown = set(options) - allowed
    if unknown:
        raise ConfigError(f"build_refgroups: unknown option(s) {sorted(unknown)}; accepted: {sorted(allowed)}")
    if "seed" in options:
        from bfrbench.checks import check_seed

        check_seed(options["seed"])
    from bfrbench.refgroups.embed import _get_embedder

    for name, folder in (("src", src), ("pool", pool)):
        if folder is not None and not Path(folder).is_dir():
            raise ConfigError(f"`{name}` folder {str(folder)!r} does not exist or is not a folder")
    model = _get_embedder(embedder, device)
    default = float(getattr(model, "default_threshold", 0.4))
    thr = default if threshold is None else float(threshold)
    kw: dict[str, Any] = {"device": device, "batch_size": batch_size, "workers": workers, "scheduler": scheduler,
                          "cache_dir": cache_dir}
    src_tab = embed_folder(src, model if workers == 1 and scheduler is None else embedder, **kw)
    pool_tab = None
    if pool is not None:
        pool_tab = embed_folder(pool, model if workers == 1 and scheduler is None else embedder, **kw)
    return build_from_embeddings(src_tab, out, threshold=thr, src_root=src, pool=pool_tab, pool_root=pool,
                                 default_threshold=default, device=device, **options)
