"""``bfrbench verify RESULTS``: re-hash what a results.json names and report any drift.

For the results file itself: ``content_sha256`` must equal the hash of its content (numbers edited by hand
show up here). For every reproduced row, with artifact folders resolved relative to the results file:

* ``manifest.parquet`` of the test set must hash to ``testset_manifest_sha256``;
* every restored ``<id>.png`` named in ``run.json`` is re-hashed and the sorted ``id:sha256`` hash must equal
  ``restored_sha256``; ``run.json``'s weights must equal the recorded weights;
* ``per_image.parquet`` must hash to ``per_image_sha256``, and the per-metric means recomputed from it must
  equal the recorded means (to 1e-9 relative).

A missing file is drift too (the result can no longer be traced to bytes).

results.json is untrusted content (docs/security.md): artifact folders must be relative paths that resolve
inside the results file's folder (``bfrbench.io.paths.resolve_inside``), or inside one of the extra
``roots`` (``bfrbench verify --work DIR`` for a work folder kept elsewhere); image ids taken from run.json
must be safe file stems. A refused value is reported as drift and nothing is read through it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bfrbench.artifacts import read_artifact
from bfrbench.errors import ArtifactError
from bfrbench.io import sha256_file
from bfrbench.leaderboard.results import content_hash, restored_hash

__all__ = ["Drift", "VerifyReport", "verify_results"]


@dataclass(frozen=True)
class Drift:
    """One mismatch: ``what`` names the check, ``path`` the file, with the recorded and the actual value."""

    what: str
    path: str
    expected: Any
    actual: Any

    def line(self) -> str:
        return f"DRIFT {self.what}: {self.path}: recorded {self.expected!r}, found {self.actual!r}"


@dataclass
class VerifyReport:
    results: Path
    checked: int = 0
    drifts: list[Drift] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.drifts

    def as_dict(self) -> dict[str, Any]:
        return {"results": str(self.results), "checked": self.checked, "ok": self.ok,
                "drifts": [d.__dict__ for d in self.drifts]}


def _check(rep: VerifyReport, what: str, path: Path | str, expected: Any, actual: Any) -> None:
    rep.checked += 1
    if expected != actual:
        rep.drifts.append(Drift(what, str(path), expected, actual))


def _hash_or_missing(path: Path) -> str:
    return sha256_file(path) if path.is_file() else "<missing>"


def _verify_row(rep: VerifyReport, row: dict[str, Any], base: Path, roots: tuple[Path, ...] = ()) -> None:
    import numpy as np
    import pandas as pd

    from bfrbench.io.paths import UnsafePathError, id_problem, resolve_inside

    prov, art = row["provenance"], row["artifacts"]
    try:
        tdir, rdir, edir = (resolve_inside(base, art.get(k), where=rep.results, field=f"artifacts.{k}",
                                           extra_roots=roots, allow_dotdot=bool(roots)) for k in ("testset", "run", "evaluation"))
    except UnsafePathError as exc:
        _check(rep, "artifact path", rep.results,
               f"a folder inside {base} (for a work folder kept elsewhere: bfrbench verify --work DIR)", str(exc))
        return
    _check(rep, "test-set manifest", tdir / "manifest.parquet", prov["testset_manifest_sha256"],
           _hash_or_missing(tdir / "manifest.parquet"))
    try:
        run = read_artifact(rdir / "run.json", "run")
    except ArtifactError as exc:
        _check(rep, "run.json", rdir / "run.json", "present", str(exc))
    else:
        bad = [i for i in sorted(run.get("images") or {}) if id_problem(i)]
        for i in bad:
            _check(rep, "image id", rdir / "run.json", "a safe id", f"{i!r} refused: {id_problem(i)}")
        images = {i: _hash_or_missing(rdir / f"{i}.png") for i in sorted(run.get("images") or {}) if i not in bad}
        for i, h in images.items():
            if h != run["images"][i]["sha256"]:
                _check(rep, "restored image", rdir / f"{i}.png", run["images"][i]["sha256"], h)
        _check(rep, "restored outputs", rdir, prov["restored_sha256"], restored_hash(images))
        _check(rep, "weights", rdir / "run.json", prov.get("weights", {}), run.get("weights", {}))
    pq = edir / "per_image.parquet"
    _check(rep, "per-image scores", pq, prov["per_image_sha256"], _hash_or_missing(pq))
    if pq.is_file():
        df = pd.read_parquet(pq)
        for spec, v in row["values"].items():
            if spec not in df or v.get("mean") is None:
                continue
            x = df[spec].to_numpy(dtype=np.float64, na_value=np.nan)
            x = x[np.isfinite(x)]
            mean = float(x.mean()) if x.size else None
            rep.checked += 1
            if mean is None or not math.isclose(mean, v["mean"], rel_tol=1e-9, abs_tol=1e-12):
                rep.drifts.append(Drift(f"mean of {spec}", str(pq), v["mean"], mean))


def verify_results(path: str | os.PathLike[str], *, roots: tuple[str | os.PathLike[str], ...] = ()) -> VerifyReport:
    """Re-hash the inputs and outputs a results.json names; the report lists every drift.

    Raises:
        ArtifactError: the results file itself is missing, unreadable or not a leaderboard results file.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    results = read_artifact(p, "leaderboard-results")
    rep = VerifyReport(results=p)
    _check(rep, "results content", p, results.get("content_sha256"), content_hash(dict(results.items())))
    for row in results.get("rows", []):
        if row.get("kind") == "reproduced":
            _verify_row(rep, row, p.parent, tuple(Path(r) for r in roots))
    return rep
