"""What ``evaluate`` checks before scoring (docs/security.md, docs/artifacts.md "Evaluation").

1. The test set's ``manifest.parquet`` against ``testset.json`` ``manifest_sha256`` (a mismatch stops the
   evaluation with :class:`~bfrbench.errors.ArtifactError`, or is a warning with ``verify=False``).
2. Each manifest row: a safe id and an ``hq_path`` inside the test-set folder (``bfrbench.io.paths``), and
   a restored file that is not a symlink out of the restored folder; a refused row is a per-image error
   whatever ``verify`` says.
3. Each HQ file against the manifest's ``hq_sha256`` (streamed, cached by stat: ``bfrbench.io.verify``).
4. When ``RESTORED/run.json`` exists: each restored ``<id>.png`` against the SHA-256 run.json recorded for it
   (a file changed after the run, or written by another run into the same folder, is caught); an image that
   run.json does not list is an error too, and a run made on a different manifest is a note.

Hash mismatches are per-image errors (listed in ``per_image.parquet``, not scored, exit status 3), or with
``verify=False`` warnings recorded in ``summary.json`` ``verification.warnings`` while the image is scored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bfrbench.errors import ArtifactError

__all__ = ["verify_evaluation_inputs"]


def verify_evaluation_inputs(testset: Path, rows: list[dict[str, Any]], found: dict[str, Path], restored: Path,
                             verify: bool) -> tuple[dict[str, str], dict[str, Any]]:
    """Returns ``(errors by id, the summary.json "verification" record)``; see the module docstring."""
    from bfrbench.io.hashing import sha256_file
    from bfrbench.io.verify import HashCache, check_manifest, check_recorded

    warnings: list[str] = []
    errors: dict[str, str] = {r["id"]: r["_problem"] for r in rows if r.get("_problem")}
    rec: dict[str, Any] = {"enabled": verify, "manifest": None, "hq_checked": 0, "restored_checked": 0,
                           "restored_against_run_json": False, "warnings": warnings, "notes": []}

    def fail(item: str, msg: str) -> None:
        if verify:
            errors.setdefault(item, msg + " (pass `verify=False` to score it anyway)")
        else:
            warnings.append(msg)

    problem = check_manifest(testset)
    if problem is not None:
        if verify:
            raise ArtifactError(problem + "; rebuild the test set, or pass `verify=False` to evaluate it anyway")
        warnings.append(problem)
    rec["manifest"] = ("no testset.json: not checked" if not (testset / "testset.json").is_file()
                       else ("differs from testset.json" if problem else "matches testset.json"))
    cache = HashCache(testset)
    for r in rows:
        if r["id"] in errors or r["id"] not in found or not r.get("hq") or not r.get("hq_sha256"):
            continue
        rec["hq_checked"] += 1
        msg = check_recorded(cache, Path(r["hq"]), r["hq_sha256"], what="HQ",
                             source=f"{testset / 'manifest.parquet'} hq_sha256")
        if msg is not None:
            fail(r["id"], msg)
    cache.save()

    from bfrbench.io.paths import UnsafePathError, resolve_inside

    for r in rows:  # a restored file may not be a symlink out of its folder (e.g. to the HQ image)
        if r["id"] in found and r["id"] not in errors:
            try:
                resolve_inside(restored, found[r["id"]].name, where=restored, field="restored file")
            except UnsafePathError as exc:
                errors[r["id"]] = str(exc)
    run_json = restored / "run.json"
    if not run_json.is_file():
        rec["notes"].append(f"{run_json} not found: restored files were not checked against a run record")
        return errors, rec
    try:
        run = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        run, why = None, str(exc)
    else:
        why = "no 'images' record"
    images = run.get("images") if isinstance(run, dict) else None
    if not isinstance(run, dict) or not isinstance(images, dict):
        raise ArtifactError(f"{run_json}: unreadable run record ({why}); move it away to evaluate the folder "
                            "as plain images")
    rec["restored_against_run_json"] = True
    ran_on = (run.get("testset") or {}).get("manifest_sha256") if isinstance(run.get("testset"), dict) else None
    if ran_on and (testset / "manifest.parquet").is_file() and ran_on != sha256_file(testset / "manifest.parquet"):
        rec["notes"].append(f"{run_json} records test-set manifest {str(ran_on)[:16]}..., not this test set's manifest")
    rcache = HashCache(restored)
    for r in rows:
        item = r["id"]
        if item in errors or item not in found:
            continue
        path = found[item]
        want = images.get(item, {}).get("sha256") if isinstance(images.get(item), dict) else None
        if want is None:
            fail(item, f"{path}: restored file not listed in {run_json} (not produced by that run)")
            continue
        rec["restored_checked"] += 1
        msg = check_recorded(rcache, path, want, what="restored", source=f"{run_json} images[{item!r}].sha256")
        if msg is not None:
            fail(item, msg)
    rcache.save()
    return errors, rec
