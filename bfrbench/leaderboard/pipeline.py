"""The one place where the leaderboard calls the other stages' public functions.

``run_suite`` only talks to a :class:`Pipeline`: four callables that produce the artifact folders of
``docs/artifacts.md``. :func:`default_pipeline` binds them to bfrbench's stages (imported lazily):

* source faces: ``bfrbench.faces.samples.sample_photos`` (real offline photos) then
  ``bfrbench.faces.align.align_folder`` (FFHQ template, 512x512), or a user folder;
* ``bfrbench.testset.build_testset(preset, src, out, *, seed, limit, workers, scheduler)``;
* ``bfrbench.methods.runner.restore(method, testset, out, *, device, seed, options, workers, ...)``;
* ``bfrbench.metrics.engine.evaluate(testset, restored, out, *, metrics, device, workers, ...)``.

Tests pass their own Pipeline with tiny fakes that write the same artifact formats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Pipeline", "default_pipeline"]


@dataclass(frozen=True)
class Pipeline:
    """Stage callables. Each writes its output folder and returns nothing meaningful (the folder is read back).

    * ``prepare_source(source: dict, suite_dir: Path, out: Path) -> Path``: a folder of face images;
    * ``build_testset(preset, src, out, *, seed, limit, workers) -> Any``;
    * ``restore(method, testset, out, *, device, seed, options, workers) -> Any``;
    * ``evaluate(testset, restored, out, *, metrics, device, workers) -> Any``.
    """

    prepare_source: Callable[..., Path]
    build_testset: Callable[..., Any]
    restore: Callable[..., Any]
    evaluate: Callable[..., Any]
    version: str = "1"


def _prepare_source(source: dict[str, Any], suite_dir: Path, out: Path) -> Path:
    kind = source.get("kind", "none")
    if kind == "folder":
        p = Path(source["path"])
        src = p if p.is_absolute() else suite_dir / p
    elif kind == "samples":
        from bfrbench.faces.samples import sample_photos

        names = tuple(source["names"]) if source.get("names") else None
        raw = out / "raw"
        sample_photos(raw, **({"names": names} if names else {}))
        src = raw
    else:
        from bfrbench.errors import ConfigError

        raise ConfigError(f"source.kind {kind!r} cannot build test sets; use 'samples' or 'folder'")
    if not source.get("align", False):
        return src
    from bfrbench.faces.align import align_folder

    aligned = out / "aligned"
    align_folder(src, aligned, size=int(source.get("size", 512)))
    return aligned


def _build_testset(preset: str, src: Path, out: Path, *, seed: int, limit: int | None, workers: int) -> Any:
    from bfrbench.testset import build_testset

    return build_testset(preset, src, out, seed=seed, limit=limit, workers=workers, scheduler=None)


def _restore(method: str, testset: Path, out: Path, *, device: str, seed: int, options: dict[str, Any],
             workers: int) -> Any:
    from bfrbench.methods.runner import restore

    return restore(method, testset, out, device=device, seed=seed, options=options or None, workers=workers)


def _evaluate(testset: Path, restored: Path, out: Path, *, metrics: list[str], device: str, workers: int,
              fid_stats: str | None = None) -> Any:
    from bfrbench.metrics.engine import evaluate

    return evaluate(testset, restored, out, metrics=metrics, device=device, workers=workers, fid_stats=fid_stats)


def default_pipeline() -> Pipeline:
    """The real stages of bfrbench."""
    return Pipeline(prepare_source=_prepare_source, build_testset=_build_testset, restore=_restore,
                    evaluate=_evaluate)
