"""Typed schema of the artifact JSON files and the one reader that checks them (docs/artifacts.md).

Each artifact folder describes itself with a JSON file whose ``kind`` names the schema:

=====================  ======================  ==========================================================
kind                   file                    written by
=====================  ======================  ==========================================================
``testset``            ``testset.json``        ``bfrbench build testset`` (bfrbench.testset)
``run``                ``run.json``            ``bfrbench restore`` (bfrbench.methods.runner)
``evaluation``         ``summary.json``        ``bfrbench evaluate`` (bfrbench.metrics.engine)
``leaderboard-results`` ``results.json``       ``bfrbench leaderboard render`` (bfrbench.leaderboard)
``leaderboard-index``  ``<work>/index.json``   ``bfrbench leaderboard run``
=====================  ======================  ==========================================================

The TypedDicts below name every documented key (``total=False``: older files may lack optional ones);
:data:`REQUIRED_KEYS` lists the keys a reader may rely on, which :func:`read_artifact` checks. Artifact
contents are untrusted input: every problem is an :class:`~bfrbench.errors.ArtifactError` naming the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal, TypedDict, cast, overload

from bfrbench.errors import ArtifactError, ConfigError

__all__ = [
    "ArtifactKind", "ARTIFACT_FILES", "REQUIRED_KEYS", "TestsetJson", "RunJson", "SummaryJson", "ResultsJson",
    "IndexJson", "read_artifact", "read_json_file",
]

ArtifactKind = Literal["testset", "run", "evaluation", "leaderboard-results", "leaderboard-index"]

#: the file name each kind is stored under inside its folder
ARTIFACT_FILES: dict[str, str] = {
    "testset": "testset.json", "run": "run.json", "evaluation": "summary.json",
    "leaderboard-results": "results.json", "leaderboard-index": "index.json",
}


class TestsetJson(TypedDict, total=False):
    """``testset.json``."""

    kind: Literal["testset"]
    format_version: int
    name: str
    preset: str
    recipe: dict[str, Any]
    recipe_sha256: str
    seed: int
    counts: dict[str, int]
    failures: list[dict[str, Any]]
    manifest_sha256: str
    environment: dict[str, Any]
    references: dict[str, Any]


class RunJson(TypedDict, total=False):
    """``run.json``; ``images`` maps id -> ``{sha256, seconds, peak_mem_bytes}``."""

    kind: Literal["run"]
    format_version: int
    method: str
    method_version: str
    options: dict[str, Any]
    seed: int
    weights: dict[str, str | None]
    testset: dict[str, Any]
    images: dict[str, dict[str, Any]]
    failures: list[dict[str, Any]]
    counts: dict[str, int]
    timings: dict[str, Any]
    environment: dict[str, Any]
    method_info: dict[str, Any]
    run_key: str
    refs: dict[str, Any]
    unaligned: Any


class SummaryJson(TypedDict, total=False):
    """``summary.json`` of an evaluation; ``metrics`` maps a column to ``{mean, std, n, ci95, higher_is_better,
    metric, variant, reference, version, range}``."""

    kind: Literal["evaluation"]
    format_version: int
    testset: str
    restored: str
    metrics: dict[str, dict[str, Any]]
    set_metrics: dict[str, Any]
    counts: dict[str, int]
    problems: dict[str, Any]
    notes: list[str]
    cache: dict[str, Any]
    provenance: dict[str, Any]


class ResultsJson(TypedDict, total=False):
    """A suite's canonical ``results.json`` (bfrbench.leaderboard.results)."""

    kind: Literal["leaderboard-results"]
    format_version: int
    suite: dict[str, Any]
    metrics: dict[str, dict[str, Any]]
    metric_order: list[str]
    testsets: dict[str, Any]
    rows: list[dict[str, Any]]
    breakdowns: dict[str, Any]
    subsets: dict[str, Any]
    per_image: dict[str, Any]
    plots: dict[str, Any]
    content_sha256: str
    generated: dict[str, Any]


class IndexJson(TypedDict, total=False):
    """``<work>/index.json`` written by ``run_suite``: one entry per reproduced (method, test set) cell."""

    kind: Literal["leaderboard-index"]
    suite: str
    entries: list[dict[str, str]]
    timings: dict[str, float]


#: keys every reader may rely on, per kind
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "testset": ("kind", "format_version", "name", "manifest_sha256"),
    "run": ("kind", "format_version", "method", "images"),
    "evaluation": ("kind", "format_version", "metrics", "provenance"),
    "leaderboard-results": ("kind", "format_version", "suite", "metrics", "rows", "content_sha256"),
    "leaderboard-index": ("kind", "suite", "entries"),
}


def read_json_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON object from ``path`` with no schema check (stamps, caches).

    Raises:
        ArtifactError: missing, unreadable, not JSON, or not a JSON object (the message names the file).
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{p}: missing") from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{p}: unreadable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{p}: must hold a JSON object, found {type(data).__name__}")
    return data


@overload
def read_artifact(path: str | os.PathLike[str], kind: Literal["testset"]) -> TestsetJson: ...
@overload
def read_artifact(path: str | os.PathLike[str], kind: Literal["run"]) -> RunJson: ...
@overload
def read_artifact(path: str | os.PathLike[str], kind: Literal["evaluation"]) -> SummaryJson: ...
@overload
def read_artifact(path: str | os.PathLike[str], kind: Literal["leaderboard-results"]) -> ResultsJson: ...
@overload
def read_artifact(path: str | os.PathLike[str], kind: Literal["leaderboard-index"]) -> IndexJson: ...
@overload
def read_artifact(path: str | os.PathLike[str], kind: tuple[ArtifactKind, ...]) -> dict[str, Any]: ...
def read_artifact(path: str | os.PathLike[str], kind: ArtifactKind | tuple[ArtifactKind, ...]) -> Any:
    """Read an artifact JSON file, checking its ``kind`` and the :data:`REQUIRED_KEYS` of that kind.

    Args:
        path: the JSON file, or the artifact folder (then the kind's file name, e.g. ``run.json``, is used;
            needs a single ``kind``).
        kind: the expected kind, or a tuple of accepted kinds.

    Raises:
        ArtifactError: missing/unreadable file, another kind, or a required key missing; names the file.
    """
    kinds: tuple[str, ...] = (kind,) if isinstance(kind, str) else tuple(kind)
    for k in kinds:
        if k not in REQUIRED_KEYS:
            raise ConfigError(f"unknown artifact kind {k!r}; known: {', '.join(REQUIRED_KEYS)}")
    p = Path(path)
    if p.is_dir() and len(kinds) == 1:
        p = p / ARTIFACT_FILES[kinds[0]]
    data = read_json_file(p)
    found = data.get("kind")
    if found not in kinds:
        want = " or ".join(repr(k) for k in kinds)
        raise ArtifactError(f"{p}: expected kind {want}, found {found!r}")
    missing = [k for k in REQUIRED_KEYS[cast(str, found)] if k not in data]
    if missing:
        raise ArtifactError(f"{p}: {found} file lacks required key(s) {', '.join(missing)} (docs/artifacts.md)")
    return data
