"""``bfrbench align``: detect faces in a folder of photos and warp them to the FFHQ 5-point template.

Output folder::

    OUT/<id>.png          aligned size x size RGB face (one face per input: the largest)
    OUT/<id>_<k>.png      with ``all_faces=True`` and several faces, k = 0.. by decreasing box area
    OUT/align.json        provenance + per-input outcome + landmarks + affine matrices

``<id>`` is the input's path relative to ``src`` without suffix, with ``/`` replaced by ``__``.
Per-input status: ``ok`` (one face), ``several_faces`` (largest kept, or all with ``all_faces``),
``no_face``, ``unreadable`` (the file cannot be decoded), ``failed`` (anything else). One bad input never
stops the run. Alignment itself is :func:`bfrbench.faces.warp.align_face` (facexlib's FaceRestoreHelper).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bfrbench.errors import ConfigError, ImageError
from bfrbench.io.outdir import writes_output

__all__ = ["align_folder", "align_image_file", "FORMAT_VERSION", "FAILED_STATUSES"]

FORMAT_VERSION = 1
FAILED_STATUSES = ("no_face", "unreadable", "failed")


@dataclass(frozen=True)
class _Task:
    src: str
    out_dir: str
    item_id: str
    detector: str
    detector_options: tuple[tuple[str, Any], ...]
    size: int
    all_faces: bool
    min_eye_distance: float


def _item_id(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    return "__".join(rel.parts)


def align_image_file(task: _Task) -> dict[str, Any]:
    """Align one file (top-level so dask workers can run it). Returns its JSON record."""
    from bfrbench.faces import align_face, get_detector
    from bfrbench.io import read_image, sha256_bytes, write_png

    rec: dict[str, Any] = {"input": task.src, "id": task.item_id, "outputs": [], "faces": []}
    try:
        img = read_image(task.src, min_size=8)
    except ImageError as exc:
        return {**rec, "status": "unreadable", "reason": exc.problem}
    rec["input_size"] = [int(img.shape[1]), int(img.shape[0])]
    det = get_detector(task.detector, **dict(task.detector_options))
    faces = [f for f in det.detect(img) if f.eye_distance >= task.min_eye_distance]
    rec["faces"] = [f.to_json() for f in faces]
    if not faces:
        return {**rec, "status": "no_face", "reason": f"no face found by detector {task.detector!r}"}
    keep = faces if task.all_faces and len(faces) > 1 else faces[:1]
    for k, f in enumerate(keep):
        face, affine = align_face(img, f.landmarks, task.size)
        name = f"{task.item_id}_{k}.png" if len(keep) > 1 else f"{task.item_id}.png"
        data = write_png(Path(task.out_dir) / name, face)
        rec["outputs"].append({"path": name, "face_index": k, "sha256": sha256_bytes(data),
                               "affine": [[round(float(v), 8) for v in row] for row in affine]})
    if len(faces) > 1:
        rec["status"] = "several_faces"
        rec["reason"] = (f"{len(faces)} faces found; " +
                         ("all kept" if task.all_faces else "kept the largest (use `all_faces=True` for all)"))
    else:
        rec["status"] = "ok"
    return rec


@writes_output("out", inputs=("src",), command="bfrbench align")
def align_folder(
    src: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    detector: str | None = None,
    detector_options: dict[str, Any] | None = None,
    size: int = 512,
    only_largest: bool = True,
    all_faces: bool | None = None,
    min_eye_distance: float = 0.0,
    workers: int = 1,
    scheduler: str | None = None,
    show_progress: bool | None = None,
) -> dict[str, Any]:
    """Align every image under ``src`` (a folder, or a list of files) into ``out``.

    Args:
        src: input folder (searched recursively) or a list of image files.
        out: output folder (created).
        detector: detector registry name (default :data:`bfrbench.faces.DEFAULT_DETECTOR`).
        detector_options: keyword arguments for the detector (e.g. ``{"device": "cuda"}``).
        size: output side in pixels (template scaled by size/512).
        only_largest: keep only the largest face of a multi-face photo (the default).
        all_faces: write every face instead (overrides ``only_largest``; outputs ``<id>_<k>.png``).
        min_eye_distance: ignore detections whose eye distance (input pixels) is smaller.
        workers: processes (dask LocalCluster when > 1); scheduler: address of an existing dask cluster.

    Returns:
        The ``align.json`` record: ``counts`` per status, ``files`` (one record per input, sorted by id),
        ``problems`` (inputs with status no_face / unreadable / failed, with reasons).
    """
    from bfrbench.distributed import TaskFailure, run_tasks
    from bfrbench.faces import DEFAULT_DETECTOR, DETECTORS
    from bfrbench.io import atomic_write_json, list_images
    from bfrbench.provenance import environment

    det_name = detector or DEFAULT_DETECTOR
    if det_name not in DETECTORS:
        DETECTORS.get(det_name)  # raises RegistryError with near matches
    if size < 16:
        raise ConfigError(f"size must be >= 16 pixels, got {size}")
    keep_all = bool(all_faces) if all_faces is not None else not only_largest
    out_dir = Path(out)
    if isinstance(src, (str, os.PathLike)):
        root = Path(src)
        if not root.is_dir():
            raise ConfigError(f"`src` {root}: not a folder")
        files = list_images(root)
        ids = [_item_id(p, root) for p in files]
        from bfrbench.io.images import list_skipped

        skipped = list_skipped(root)
    else:
        skipped = []
        files = [Path(p) for p in src]
        ids = [p.stem for p in files]
    if len(set(ids)) != len(ids):
        seen: dict[str, int] = {}
        for i, x in enumerate(ids):
            seen[x] = seen.get(x, 0) + 1
            if seen[x] > 1:
                ids[i] = f"{x}__{seen[x] - 1}"
    out_dir.mkdir(parents=True, exist_ok=True)
    opts = tuple(sorted((detector_options or {}).items()))
    # build the detector once here so configuration / missing-weights errors surface before any work
    from bfrbench.faces import get_detector

    det = get_detector(det_name, **dict(opts))
    tasks = [_Task(str(p), str(out_dir), i, det_name, opts, int(size), keep_all, float(min_eye_distance))
             for p, i in zip(files, ids)]
    records: list[dict[str, Any]] = []
    for res in run_tasks(align_image_file, tasks, workers=workers, scheduler=scheduler, desc="align",
                         show_progress=show_progress, chunk_size="auto"):
        if isinstance(res, TaskFailure):
            t: _Task = res.task
            records.append({"input": t.src, "id": t.item_id, "outputs": [], "faces": [], "status": "failed",
                            "reason": res.error})
        else:
            records.append(res)
    records.sort(key=lambda r: r["id"])
    counts = {s: 0 for s in ("ok", "several_faces", *FAILED_STATUSES)}
    for r in records:
        counts[r["status"]] += 1
    from bfrbench.faces.warp import ffhq_template

    report = {
        "kind": "alignment",
        "format_version": FORMAT_VERSION,
        "detector": {"name": det_name, "options": det.config()},
        "size": int(size),
        "template": ffhq_template(size).round(5).tolist(),
        "all_faces": keep_all,
        "min_eye_distance": float(min_eye_distance),
        "counts": {**counts, "inputs": len(records), "outputs": sum(len(r["outputs"]) for r in records)},
        "files": records,
        "problems": [{"input": r["input"], "status": r["status"], "reason": r.get("reason", "")}
                     for r in records if r["status"] in FAILED_STATUSES],
        "environment": environment(),
    }
    if skipped:  # hidden files and dangling symlinks under --src (never inputs)
        report["skipped"] = skipped
        report["counts"]["skipped"] = len(skipped)
    atomic_write_json(out_dir / "align.json", report)
    return report
