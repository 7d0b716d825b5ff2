"""Identity embeddings for a folder of aligned faces: batched, cached by content hash, sharded over dask.

Each image is identified by the SHA-256 of its file bytes. Its embedding is cached under
``$BFRBENCH_HOME/cache/embeddings/<model key>/<sha[:2]>/<sha>.npy`` where the model key hashes the
embedder's ``model_id`` and ``weights_sha256``, so a different model or weight file never reuses a vector.
Work is split into shards of ``shard_size`` images run with :func:`bfrbench.distributed.run_tasks`
(in-process, a local dask cluster, or a user's scheduler with one GPU per worker); a shard skips images
already cached, which is what makes an interrupted run resume.

Images are expected to be aligned faces (``bfrbench align``); an image that is not 512x512 is resized to
512x512 with OpenCV ``INTER_AREA`` (downscaling) or ``INTER_CUBIC`` (upscaling) before embedding. An
unreadable image is recorded as a failure and skipped.

Stored form (:func:`save_embeddings`): ``<prefix>.npy`` float32 (N, D) L2-normalised rows and
``<prefix>.parquet`` with columns ``image`` (name relative to the source folder), ``sha256``, ``row``;
the parquet schema metadata holds ``embedder``, ``model_id``, ``weights_sha256`` and ``npy_sha256``.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bfrbench.distributed import TaskFailure, run_tasks
from bfrbench.errors import ArtifactError, BfrbenchError, ConfigError
from bfrbench.io import atomic_write_bytes, list_images, read_image, sha256_file

__all__ = [
    "Embedder",
    "EmbeddingTable",
    "embed_files",
    "embed_folder",
    "load_embeddings",
    "model_key",
    "save_embeddings",
]

FACE_SIZE = 512


class Embedder(Protocol):
    """What :func:`bfrbench.faces.get_embedder` returns (duck-typed here)."""

    name: str
    model_id: str
    dim: int
    weights_sha256: str | None
    default_threshold: float

    def embed(self, images: list[np.ndarray]) -> np.ndarray: ...


@dataclass
class EmbeddingTable:
    """Embeddings of a collection.

    Attributes:
        names: image names relative to the source folder (posix), sorted; length N.
        sha256: file SHA-256 per image, length N.
        vectors: float32 (N, D), rows L2-normalised.
        embedder, model_id, weights_sha256: the model that produced them.
        failures: ``{"input": name, "reason": str}`` for images that could not be embedded.
    """

    names: list[str]
    sha256: list[str]
    vectors: np.ndarray
    embedder: str
    model_id: str
    weights_sha256: str | None
    failures: list[dict[str, str]] = field(default_factory=list)


def model_key(model_id: str, weights_sha256: str | None) -> str:
    """Cache folder name for a model: 16 hex digits of SHA-256 over ``model_id`` and the weights hash."""
    return hashlib.sha256(f"{model_id}\0{weights_sha256 or ''}".encode()).hexdigest()[:16]


def _cache_root(cache_dir: str | os.PathLike[str] | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    from bfrbench.weights import bfrbench_home

    return bfrbench_home() / "cache" / "embeddings"


def _to_face(img: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> (512, 512, 3) uint8."""
    if img.shape[:2] == (FACE_SIZE, FACE_SIZE):
        return img
    import cv2

    interp = cv2.INTER_AREA if min(img.shape[:2]) > FACE_SIZE else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(img, (FACE_SIZE, FACE_SIZE), interpolation=interp))


@dataclass(frozen=True)
class _ShardTask:
    embedder: Any  # registry name (str) or an embedder object
    device: str
    batch_size: int
    cache: str
    items: tuple[tuple[int, str, str], ...]  # (index, path, sha256)


_EMBEDDERS: dict[tuple[str, str], Any] = {}  # per-process model cache (one load per worker)


def _get_embedder(spec: Any, device: str) -> Any:
    if not isinstance(spec, str):
        return spec
    key = (spec, device)
    if key not in _EMBEDDERS:
        from bfrbench.faces import get_embedder

        _EMBEDDERS[key] = get_embedder(spec, device=device)
    return _EMBEDDERS[key]


def _embed_shard(task: _ShardTask) -> list[tuple[int, np.ndarray | None, str]]:
    """Embed one shard; returns ``(index, vector or None, error)`` per item. Cached vectors are reused."""
    out: list[tuple[int, np.ndarray | None, str]] = []
    todo: list[tuple[int, str, str]] = []
    cache = Path(task.cache)
    for idx, path, sha in task.items:
        f = cache / sha[:2] / f"{sha}.npy"
        if f.is_file():
            try:
                out.append((idx, np.load(f, allow_pickle=False).astype(np.float32), ""))
                continue
            except (OSError, ValueError):
                pass  # corrupt cache entry: recompute
        todo.append((idx, path, sha))
    if not todo:
        return out
    model = _get_embedder(task.embedder, task.device)
    for s in range(0, len(todo), task.batch_size):
        batch = todo[s:s + task.batch_size]
        imgs: list[np.ndarray] = []
        ok: list[tuple[int, str, str]] = []
        for idx, path, sha in batch:
            try:
                imgs.append(_to_face(read_image(path)))
                ok.append((idx, path, sha))
            except BfrbenchError as exc:
                out.append((idx, None, str(exc)))
        if not imgs:
            continue
        vecs = np.asarray(model.embed(imgs), dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape[0] != len(imgs):
            raise ConfigError(f"embedder {getattr(model, 'name', model)!r} returned shape {vecs.shape} "
                              f"for {len(imgs)} images")
        for (idx, path, sha), v in zip(ok, vecs):
            if not np.all(np.isfinite(v)) or not np.any(v):
                out.append((idx, None, f"{path}: embedding is zero or not finite (no face?)"))
                continue
            buf = io.BytesIO()
            np.save(buf, v, allow_pickle=False)
            atomic_write_bytes(cache / sha[:2] / f"{sha}.npy", buf.getvalue())
            out.append((idx, v, ""))
    return out


def embed_files(
    paths: list[Path],
    names: list[str],
    embedder: str | Embedder = "arcface",
    *,
    device: str = "cpu",
    batch_size: int = 32,
    shard_size: int = 512,
    workers: int = 1,
    scheduler: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> EmbeddingTable:
    """Embed image files (see the module docstring). ``names`` label the rows (same order as ``paths``).

    Args:
        embedder: a registry name for :func:`bfrbench.faces.get_embedder` or an embedder object.
        device: torch/onnx device of the embedder ("cpu", "cuda", ...).
        batch_size: images per ``embed`` call.
        shard_size: images per distributed task.
        workers, scheduler: see :func:`bfrbench.distributed.run_tasks`.
    """
    if len(paths) != len(names):
        raise ConfigError(f"got {len(paths)} paths but {len(names)} names")
    if batch_size < 1 or shard_size < 1:
        raise ConfigError(f"batch_size and shard_size must be >= 1, got {batch_size}, {shard_size}")
    model = _get_embedder(embedder, device)  # resolves metadata (and fails early on missing weights)
    key = model_key(model.model_id, model.weights_sha256)
    cache = _cache_root(cache_dir) / key
    failures: list[dict[str, str]] = []
    shas: list[str | None] = []
    for p, n in zip(paths, names):
        try:
            shas.append(sha256_file(p))
        except OSError as exc:
            shas.append(None)
            failures.append({"input": n, "reason": f"{p}: cannot read file: {exc.strerror or exc}"})
    items = [(k, str(p), s) for k, (p, s) in enumerate(zip(paths, shas)) if s is not None]
    spec: Any = embedder if (isinstance(embedder, str) and (workers > 1 or scheduler)) else model
    tasks = [_ShardTask(spec, device, batch_size, str(cache), tuple(items[s:s + shard_size]))
             for s in range(0, len(items), shard_size)]
    vecs: dict[int, np.ndarray] = {}
    for res in run_tasks(_embed_shard, tasks, workers=workers, scheduler=scheduler, desc="embed"):
        if isinstance(res, TaskFailure):
            for idx, _, _ in res.task.items:
                failures.append({"input": names[idx], "reason": res.error})
            continue
        for idx, v, err in res:
            if v is None:
                failures.append({"input": names[idx], "reason": err})
            else:
                vecs[idx] = v
    keep = sorted(vecs)
    dim = int(model.dim) if not keep else int(vecs[keep[0]].shape[0])
    mat = np.zeros((len(keep), dim), dtype=np.float32)
    for r, k in enumerate(keep):
        v = vecs[k].astype(np.float64)
        mat[r] = v / np.linalg.norm(v)
    failures.sort(key=lambda f: f["input"])
    return EmbeddingTable(names=[names[k] for k in keep], sha256=[str(shas[k]) for k in keep], vectors=mat,
                          embedder=str(getattr(model, "name", embedder)), model_id=str(model.model_id),
                          weights_sha256=model.weights_sha256, failures=failures)


def embed_folder(src: str | os.PathLike[str], embedder: str | Embedder = "arcface", **kwargs: Any) -> EmbeddingTable:
    """Embed every image under ``src`` (``bfrbench.io.list_images`` order); keyword args as :func:`embed_files`."""
    root = Path(src)
    if not root.is_dir():
        raise ConfigError(f"source folder {str(root)!r} does not exist or is not a folder")
    paths = list_images(root)
    if not paths:
        raise ConfigError(f"no images found under {str(root)!r}")
    names = [p.relative_to(root).as_posix() for p in paths]
    return embed_files(paths, names, embedder, **kwargs)


def save_embeddings(table: EmbeddingTable, out_dir: str | os.PathLike[str], prefix: str = "embeddings") -> None:
    """Write ``<prefix>.npy`` and ``<prefix>.parquet`` (see the module docstring) atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(table.vectors, dtype=np.float32), allow_pickle=False)
    data = buf.getvalue()
    atomic_write_bytes(out / f"{prefix}.npy", data)
    meta = {"embedder": table.embedder, "model_id": table.model_id, "weights_sha256": table.weights_sha256 or "",
            "npy_sha256": hashlib.sha256(data).hexdigest(), "dim": str(table.vectors.shape[1])}
    tbl = pa.table({"image": pa.array(table.names, pa.string()), "sha256": pa.array(table.sha256, pa.string()),
                    "row": pa.array(np.arange(len(table.names), dtype=np.int64))})
    tbl = tbl.replace_schema_metadata({f"bfrbench.{k}": v for k, v in meta.items()})
    sink = pa.BufferOutputStream()
    pq.write_table(tbl, sink, compression="zstd")
    atomic_write_bytes(out / f"{prefix}.parquet", sink.getvalue().to_pybytes())


def load_embeddings(out_dir: str | os.PathLike[str], prefix: str = "embeddings") -> EmbeddingTable:
    """Read what :func:`save_embeddings` wrote; checks the npy hash and the row count."""
    import pyarrow.parquet as pq

    out = Path(out_dir)
    npy, par = out / f"{prefix}.npy", out / f"{prefix}.parquet"
    for f in (npy, par):
        if not f.is_file():
            raise ArtifactError(f"{f}: missing embeddings file")
    tbl = pq.read_table(par)
    meta = {k.decode()[len("bfrbench."):]: v.decode() for k, v in (tbl.schema.metadata or {}).items()
            if k.startswith(b"bfrbench.")}
    if sha256_file(npy) != meta.get("npy_sha256"):
        raise ArtifactError(f"{npy}: SHA-256 does not match the one recorded in {par.name}")
    vectors = np.load(npy, allow_pickle=False)
    names = tbl.column("image").to_pylist()
    if vectors.shape[0] != len(names):
        raise ArtifactError(f"{npy}: {vectors.shape[0]} rows but {par.name} lists {len(names)} images")
    return EmbeddingTable(names=names, sha256=tbl.column("sha256").to_pylist(), vectors=vectors,
                          embedder=meta.get("embedder", ""), model_id=meta.get("model_id", ""),
                          weights_sha256=meta.get("weights_sha256") or None)


