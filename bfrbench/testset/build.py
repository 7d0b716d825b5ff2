"""Build a degraded test set folder (``hq/``, ``lq/``, ``manifest.parquet``, ``testset.json``).

Layout and columns follow docs/artifacts.md; the procedure is documented in docs/testsets.md:

1. Inputs: every image under ``src`` (``bfrbench.io.list_images``: sorted by relative path), optionally the
   first ``limit``. The id is the file stem; a repeated stem gets ``-2``, ``-3``, ... in sorted order.
2. Per image (one task, so work shards by id and runs in-process or on dask workers):
   decode (``bfrbench.io.read_image``), require a square image of at least ``recipe.min_size`` pixels,
   resize to ``recipe.size`` when needed (INTER_AREA to shrink, INTER_CUBIC to enlarge, then clip),
   draw parameters and degrade with the generator ``bfrbench.rng.item_generator(seed, id)``
   (and ``index`` = position in the sorted list, for grid recipes), write ``hq/<id>.png`` and ``lq/<id>.png``
   atomically, then the sidecar ``.state/<id>.json`` (row + input hash + recipe hash).
3. A rerun verifies each sidecar (same input bytes, recipe, seed, position for grid recipes, and both PNGs
   hash to the recorded values) and skips those images; anything missing or corrupt is redone. Outputs never depend on the
   worker count or completion order (OpenCV is set to one thread in every task).
4. Inputs that cannot be used (corrupt, not an image, too small, not square) are skipped and listed in
   ``testset.json`` ``failures``; the CLI exits with status 3 when there are any. Image files that are
   never inputs (hidden names, dangling symlinks) are listed in ``testset.json`` ``skipped``.
5. A source whose size is not ``size`` is resized (step 2); each such image is listed in ``testset.json``
   ``resized`` (id, input, original and new size) and the manifest then gets an int column ``src_size``
   (original side in pixels; null for images used at their size). Sets where nothing was resized keep the
   exact manifest of earlier versions (same bytes, same hash).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bfrbench.checks import check_limit, check_seed
from bfrbench.errors import ArtifactError, ConfigError, ImageError
from bfrbench.io import atomic_write_bytes, atomic_write_json, encode_png, list_images, read_image, sha256_file
from bfrbench.io.images import list_skipped
from bfrbench.io.outdir import writes_output

if TYPE_CHECKING:
    from bfrbench.refgroups.attach import LinkMode

__all__ = ["FIXED_COLUMNS", "FORMAT_VERSION", "BuildResult", "assign_ids", "build_testset",
           "build_testset_with_references"]

FORMAT_VERSION = 2  # 2: src_path relative to testset.json "src"
FIXED_COLUMNS: dict[str, str] = {"id": "str", "hq_path": "str", "lq_path": "str", "hq_sha256": "str",
                                 "lq_sha256": "str", "src_path": "str", "preset": "str", "seed": "int"}
LQ_ONLY_PRESET = "lq-only"
HQ_RESIZE_POLICY = "square inputs of another size are resized to `size` with cv2.INTER_AREA (shrink) or " \
                   "cv2.INTER_CUBIC (enlarge, clipped to 0-255); non-square or smaller than `min_size` are rejected"


@dataclass
class BuildResult:
    """Outcome of :func:`build_testset`.

    Attributes:
        out: the test-set folder. ok / failed: image counts. resumed: images verified and kept from an earlier
        run. failures: ``{input, reason}`` per skipped input. manifest_sha256: hash of manifest.parquet.
        references: what :func:`~bfrbench.refgroups.attach_references` returned, when references were attached
        (:func:`build_testset_with_references`), else None.
    """

    out: Path
    name: str
    preset: str
    ok: int = 0
    failed: int = 0
    resumed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    manifest_sha256: str = ""
    skipped: list[dict[str, str]] = field(default_factory=list)
    resized: list[dict[str, Any]] = field(default_factory=list)
    references: dict[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "name": self.name, "preset": self.preset, "ok": self.ok,
                "failed": self.failed, "resumed": self.resumed, "failures": self.failures,
                "manifest_sha256": self.manifest_sha256, "skipped": self.skipped, "resized": self.resized,
                **({"references": self.references} if self.references is not None else {})}

    @property
    def any_failed(self) -> bool:
        """True when some input failed or some image was refused its references (exit status 3)."""
        return bool(self.failed or (self.references is not None and self.references.get("refused")))


def assign_ids(paths: Sequence[Path]) -> list[str]:
    """File stems made unique in order: the second ``face.png`` becomes ``face-2`` (and so on)."""
    seen: dict[str, int] = {}
    taken: set[str] = set()
    ids = []
    for p in paths:
        stem = p.stem
        n = seen.get(stem, 0)
        cand = stem if n == 0 else f"{stem}-{n + 1}"
        while cand in taken:
            n += 1
            cand = f"{stem}-{n + 1}"
        seen[stem] = n + 1
        taken.add(cand)
        ids.append(cand)
    return ids


# -- per-image task (top level, picklable, runs on dask workers) ------------------------------------------
_RECIPES: dict[str, Any] = {}


def _recipe_for(task: dict[str, Any]) -> Any:
    from bfrbench.degrade.recipe import Recipe

    key = task["recipe_sha256"]
    if key not in _RECIPES:
        _RECIPES[key] = Recipe(task["recipe"])
    return _RECIPES[key]


def _prepare_hq(img: np.ndarray, src: str, size: int, min_size: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    if h != w:
        raise ImageError(src, f"image is {w}x{h}, not square; align or crop faces first (bfrbench align)")
    if h < min_size:
        raise ImageError(src, f"image is {w}x{h}, smaller than the minimum {min_size}x{min_size}")
    if h == size:
        return img
    if h > size:
        return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    up = cv2.resize(img.astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(np.rint(up), 0, 255).astype(np.uint8)


def _state_valid(state: dict[str, Any], task: dict[str, Any], src_sha: str, out: Path) -> bool:
    if (state.get("src_sha256") != src_sha or state.get("recipe_sha256") != task["recipe_sha256"]
            or state.get("seed") != task["seed"] or state.get("lq_only") != task["lq_only"]
            or (task["uses_index"] and state.get("index") != task["index"])):
        return False
    row = state.get("row") or {}
    for rel_key, sha_key in (("hq_path", "hq_sha256"), ("lq_path", "lq_sha256")):
        rel = row.get(rel_key)
        if rel is None:
            continue
        f = out / rel
        if not f.is_file() or sha256_file(f) != row.get(sha_key):
            return False
    return True


def build_one(task: dict[str, Any]) -> dict[str, Any]:
    """Build (or verify and keep) one image. Returns ``{"ok": True, "row", "resumed"}`` or
    ``{"ok": False, "input", "reason"}`` for an unusable input."""
    import cv2

    from bfrbench.rng import item_generator

    cv2.setNumThreads(1)
    out, iid, src = Path(task["out"]), task["id"], task["src"]
    from bfrbench.io.paths import id_problem

    if id_problem(iid):  # e.g. a control character in the file name: never a path component (docs/security.md)
        return {"ok": False, "input": src, "reason": f"its file name gives the id {iid!r}, which is unusable: "
                                                      f"{id_problem(iid)}; rename the file"}
    state_path = out / ".state" / f"{iid}.json"
    try:
        src_sha = sha256_file(src)
    except OSError as exc:
        return {"ok": False, "input": src, "reason": f"cannot read file: {exc.strerror or exc}"}
    if state_path.is_file():
        import json

        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
        if _state_valid(state, task, src_sha, out):
            kept = dict(state["row"])
            kept["src_path"] = task["src_rel"]  # same bytes; the folder may have moved
            return {"ok": True, "row": kept, "resumed": True}
    try:
        img = read_image(src)
        hq = _prepare_hq(img, src, task["size"], task["min_size"])
    except ImageError as exc:
        return {"ok": False, "input": src, "reason": exc.problem}
    # relative to --src, so the manifest (and its hash) does not depend on where the faces live
    row: dict[str, Any] = {"id": iid, "src_path": task["src_rel"], "preset": task["preset"], "seed": task["seed"]}
    if img.shape[0] != hq.shape[0]:
        row["src_size"] = int(img.shape[0])  # original side; the image was resized (listed in testset.json)
    if task["lq_only"]:
        lq, params = hq, {}
        row.update(hq_path=None, hq_sha256=None)
    else:
        recipe = _recipe_for(task)
        lq, params = recipe.degrade(hq, item_generator(task["seed"], iid), task["index"])
        hq_bytes = encode_png(hq)
        atomic_write_bytes(out / "hq" / f"{iid}.png", hq_bytes)
        row.update(hq_path=f"hq/{iid}.png", hq_sha256=_sha(hq_bytes))
    lq_bytes = encode_png(lq)
    atomic_write_bytes(out / "lq" / f"{iid}.png", lq_bytes)
    row.update(lq_path=f"lq/{iid}.png", lq_sha256=_sha(lq_bytes), **params)
    atomic_write_json(state_path, {"row": row, "src_sha256": src_sha, "recipe_sha256": task["recipe_sha256"],
                                   "seed": task["seed"], "lq_only": task["lq_only"], "index": task["index"]})
    return {"ok": True, "row": row, "resumed": False}


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


# -- manifest ---------------------------------------------------------------------------------------
def _arrow_type(t: str) -> Any:
    import pyarrow as pa

    return {"str": pa.string(), "float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}[t]


def manifest_bytes(rows: list[dict[str, Any]], columns: dict[str, str]) -> bytes:
    """Parquet bytes of the manifest: rows sorted by id, explicit schema, no pandas metadata."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {**FIXED_COLUMNS, **columns}
    rows = sorted(rows, key=lambda r: r["id"])
    schema = pa.schema([pa.field(c, _arrow_type(t)) for c, t in cols.items()])
    arrays = [pa.array([r.get(c) for r in rows], type=_arrow_type(t)) for c, t in cols.items()]
    table = pa.Table.from_arrays(arrays, schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


# -- public entry ---------------------------------------------------------------------------------------
@writes_output("out", inputs=("src",), command="bfrbench build testset")
def build_testset(
    preset_or_recipe: Any,
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    limit: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    lq_only: bool = False,
    name: str | None = None,
    show_progress: bool | None = None,
) -> BuildResult:
    """Build a test set from the face images under ``src`` into ``out``.

    Args:
        preset_or_recipe: preset name (``"gfpgan"``), recipe YAML path, mapping or
            :class:`~bfrbench.degrade.recipe.Recipe`; with ``lq_only`` only its ``size``/``min_size`` are used,
            and it may be None (size 512, min_size 64).
        src: folder of aligned square face images (HQ; or already-degraded LQ with ``lq_only``).
        out: output folder (created; an earlier build there is resumed).
        seed: global seed; image ``id`` uses ``item_generator(seed, id)``.
        limit: use only the first ``limit`` inputs (sorted by path).
        workers: 1 = in this process; N > 1 = a local dask cluster of N single-threaded workers.
        scheduler: address of an existing dask scheduler (overrides ``workers``).
        lq_only: register a real-world set: inputs are the LQ images, no HQ, no degradation.
        name: test-set name recorded in testset.json (default: the ``out`` folder name).

    Returns:
        :class:`BuildResult` with counts and failures.
    Raises:
        ConfigError: bad recipe/arguments, ``src`` missing or without images.
    """
    check_limit(limit)
    seed = check_seed(seed)
    plan = _plan(_resolve_recipe(preset_or_recipe, lq_only), Path(src), Path(out), seed=seed, limit=limit,
                 lq_only=lq_only)
    plan.out.mkdir(parents=True, exist_ok=True)
    result = BuildResult(out=plan.out, name=name or plan.out.resolve().name, preset=plan.preset,
                         skipped=plan.skipped)
    rows = _execute(plan, result, workers=workers, scheduler=scheduler, show_progress=show_progress)
    _record(plan, result, rows, seed=seed, limit=limit, lq_only=lq_only)
    return result


def build_testset_with_references(
    preset_or_recipe: Any,
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    refgroups: str | os.PathLike[str] | None = None,
    max_refs: int | None = None,
    ref_link: LinkMode = "copy",
    seed: int = 0,
    limit: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    lq_only: bool = False,
    name: str | None = None,
    show_progress: bool | None = None,
) -> BuildResult:
    """:func:`build_testset`, then (with ``refgroups``) :func:`bfrbench.refgroups.attach_references`.

    Args:
        refgroups: a ``bfrbench build refgroups`` folder (``refgroups.json``) whose references are attached.
        max_refs: keep the first K references of each image (None: all); needs ``refgroups``.
        ref_link: how reference files enter ``refs/``: ``copy``, ``hardlink`` or ``symlink``.
        The other arguments: :func:`build_testset`.

    Returns:
        The :class:`BuildResult`, its ``references`` set when references were attached.

    Raises:
        ConfigError: ``max_refs`` without ``refgroups``, ``refgroups`` not a reference-groups folder, or
            any error of :func:`build_testset` (checked before anything is built).
    """
    if max_refs is not None and refgroups is None:
        raise ConfigError("`max_refs` needs `refgroups` DIR")
    if refgroups is not None and not (Path(refgroups) / "refgroups.json").is_file():
        raise ConfigError(f"`refgroups` {refgroups}: not a reference-groups folder (no refgroups.json)")
    res = build_testset(preset_or_recipe, src, out, seed=seed, limit=limit, workers=workers, scheduler=scheduler,
                        lq_only=lq_only, name=name, show_progress=show_progress)
    if refgroups is not None:
        from bfrbench.refgroups import attach_references

        res.references = attach_references(out, refgroups, max_refs=max_refs, link=ref_link)
    return res


# -- plan / execute / record (build_testset's stages) ---------------------------------------------------------
@dataclass
class _Plan:
    """A checked build: folders, the recipe facts every task shares, and one task per input image."""

    src: Path
    out: Path
    preset: str
    recipe_dict: dict[str, Any] | None
    recipe_sha: str | None
    size: int
    min_size: int
    columns: dict[str, str]
    tasks: list[dict[str, Any]]
    skipped: list[dict[str, str]]


def _resolve_recipe(preset_or_recipe: Any, lq_only: bool) -> Any:
    """A :class:`~bfrbench.degrade.recipe.Recipe` (or None for an LQ-only set without one)."""
    from bfrbench.degrade.recipe import Recipe, load_recipe

    if isinstance(preset_or_recipe, Recipe):
        return preset_or_recipe
    if preset_or_recipe is None:
        if not lq_only:
            raise ConfigError("give a preset or recipe (or lq_only=True for a real-world LQ-only set)")
        return None
    return load_recipe(preset_or_recipe)


def _plan(recipe: Any, src_dir: Path, out_dir: Path, *, seed: int, limit: int | None, lq_only: bool) -> _Plan:
    """Check the folders, list the inputs, assign ids and describe one task per input."""
    if not src_dir.is_dir():
        raise ConfigError(f"`src` {str(src_dir)!r} is not a folder")
    if out_dir.resolve() == src_dir.resolve() or src_dir.resolve() in out_dir.resolve().parents:
        raise ConfigError(f"`out` {str(out_dir)!r} must not be `src` or inside it (its PNGs would become inputs)")
    paths = list_images(src_dir)
    skipped = list_skipped(src_dir)
    if not paths:
        raise ConfigError(f"no images found under {str(src_dir)!r} (looked for .png .jpg .jpeg .webp .tif .bmp)")
    if limit is not None:
        paths = paths[:limit]
    preset = LQ_ONLY_PRESET if lq_only else recipe.name
    recipe_dict = recipe.to_dict() if recipe is not None and not lq_only else None
    recipe_sha = recipe.sha256 if recipe is not None and not lq_only else None
    size = recipe.size if recipe is not None else 512
    min_size = recipe.min_size if recipe is not None else 64
    columns = {} if (lq_only or recipe is None) else recipe.columns
    ids = assign_ids(paths)
    tasks = [{"id": iid, "index": i, "src": str(p), "src_rel": p.relative_to(src_dir).as_posix(), "out": str(out_dir), "seed": int(seed), "preset": preset,
              "recipe": recipe_dict, "recipe_sha256": recipe_sha, "lq_only": bool(lq_only), "size": size,
              "min_size": min_size, "uses_index": bool(recipe is not None and recipe.grid_axes and not lq_only)}
             for i, (iid, p) in enumerate(zip(ids, paths))]
    return _Plan(src=src_dir, out=out_dir, preset=preset, recipe_dict=recipe_dict, recipe_sha=recipe_sha, size=size,
                 min_size=min_size, columns=columns, tasks=tasks, skipped=skipped)


def _execute(plan: _Plan, result: BuildResult, *, workers: int, scheduler: str | None,
             show_progress: bool | None) -> list[dict[str, Any]]:
    """Run the tasks (OpenCV's thread count restored afterwards); returns the manifest rows, fills failures."""
    import cv2

    from bfrbench.distributed import TaskFailure, run_tasks

    rows: list[dict[str, Any]] = []
    threads = cv2.getNumThreads()
    try:
        results = list(run_tasks(build_one, plan.tasks, workers=workers, scheduler=scheduler,
                                 desc=f"build {plan.preset}", show_progress=show_progress, chunk_size="auto"))
        for res in results:
            if isinstance(res, TaskFailure):
                result.failures.append({"input": res.task["src"], "reason": res.error})
            elif res["ok"]:
                rows.append(res["row"])
                result.resumed += bool(res["resumed"])
            else:
                result.failures.append({"input": res["input"], "reason": res["reason"]})
    finally:
        cv2.setNumThreads(threads)
    return rows


def _record(plan: _Plan, result: BuildResult, rows: list[dict[str, Any]], *, seed: int, limit: int | None,
            lq_only: bool) -> None:
    """Fill the counts of ``result`` and write ``manifest.parquet`` and ``testset.json``."""
    from bfrbench.provenance import environment

    size, out_dir = plan.size, plan.out
    result.failures.sort(key=lambda f: f["input"])
    result.ok, result.failed = len(rows), len(result.failures)
    result.resized = [{"id": r["id"], "input": r["src_path"], "from": f"{r['src_size']}x{r['src_size']}",
                       "to": f"{size}x{size}", "note": "resized to the recipe size (docs/testsets.md)"}
                      for r in sorted(rows, key=lambda r: r["id"]) if r.get("src_size") is not None]
    columns = {**plan.columns, "src_size": "int"} if result.resized else plan.columns
    mbytes = manifest_bytes(rows, columns)
    atomic_write_bytes(out_dir / "manifest.parquet", mbytes)
    result.manifest_sha256 = _sha(mbytes)
    kept = _previous_references(out_dir)
    atomic_write_json(out_dir / "testset.json", {
        **kept,
        "kind": "testset", "format_version": FORMAT_VERSION, "name": result.name, "preset": plan.preset,
        "recipe": plan.recipe_dict, "recipe_sha256": plan.recipe_sha, "seed": int(seed), "size": size,
        "min_size": plan.min_size, "lq_only": bool(lq_only), "hq_resize": HQ_RESIZE_POLICY,
        "src": str(plan.src.resolve()), "limit": limit,
        "counts": {"ok": result.ok, "failed": result.failed}, "failures": result.failures,
        **({"skipped": result.skipped} if result.skipped else {}),
        **({"resized": result.resized} if result.resized else {}),
        "manifest_sha256": result.manifest_sha256, "environment": environment(),
    })


def _previous_references(out_dir: Path) -> dict[str, Any]:
    """The ``references`` record of an earlier build in ``out_dir`` (attached references survive a resume)."""
    from bfrbench.artifacts import read_json_file

    try:
        prev = read_json_file(out_dir / "testset.json")
    except ArtifactError:
        return {}
    if "references" in prev and (out_dir / "references.parquet").is_file():
        return {"references": prev["references"]}
    return {}


def read_testset_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``testset.json`` of a test-set folder through :func:`bfrbench.artifacts.read_artifact` (kind and
    required keys checked; ArtifactError naming the file when missing or bad)."""
    from bfrbench.artifacts import read_artifact

    f = Path(path) / "testset.json"
    if not f.exists():
        raise ArtifactError(f"{f}: not found; is {str(path)!r} a test set built by 'bfrbench build testset'?")
    return dict(read_artifact(f, "testset"))
