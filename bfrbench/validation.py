"""``validate(target)``: check a degradation recipe (file or preset name) or re-hash a test-set folder.

* recipe: loads it (includes, keys, ops, ranges) and draws the parameters of 3 sample images
  (generators ``item_generator(0, "sample<i>")``);
* test set (a folder with testset.json): :func:`bfrbench.testset.verify_testset` re-hashes every HQ/LQ PNG
  against manifest.parquet and the manifest against testset.json.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["validate", "validate_recipe"]


def validate_recipe(target: str) -> dict[str, Any]:
    """Report of a recipe: ``{kind: "recipe", ok, name, version, sha256, steps, columns, grid_size, samples,
    problems}`` (a bad recipe raises :class:`~bfrbench.errors.ConfigError` naming the file and key)."""
    from bfrbench.degrade.recipe import load_recipe
    from bfrbench.rng import item_generator

    r = load_recipe(target)
    samples = [r.sample(item_generator(0, f"sample{i}"), index=i) for i in range(3)]
    return {"kind": "recipe", "ok": True, "name": r.name, "version": r.version, "sha256": r.sha256,
            "steps": [s.step_name for s in r.steps], "columns": r.columns, "grid_size": r.grid_size,
            "samples": samples, "problems": []}


def validate(target: str | os.PathLike[str]) -> dict[str, Any]:
    """Validate a recipe (YAML path or preset name) or a test-set folder; the report's ``ok`` says whether it
    is valid and ``problems`` lists what is wrong.

    Raises:
        ArtifactError: ``target`` is a folder without testset.json.
        ConfigError: a recipe that does not load.
    """
    from bfrbench.errors import ArtifactError

    p = Path(target)
    if p.is_dir():
        if not (p / "testset.json").is_file():
            raise ArtifactError(f"{p}: no testset.json; validate supports recipes and test-set folders")
        from bfrbench.testset import verify_testset

        return {"kind": "testset", **verify_testset(p)}
    return validate_recipe(str(target))
