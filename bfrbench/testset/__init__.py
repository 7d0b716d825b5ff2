"""Test sets: build degraded HQ/LQ folders (:func:`build_testset`), load them (:func:`load`), verify them.

See docs/testsets.md for the procedure and docs/artifacts.md for the folder format.
"""

from bfrbench.testset.build import (
    FORMAT_VERSION,
    BuildResult,
    assign_ids,
    build_testset,
    build_testset_with_references,
    read_testset_json,
)
from bfrbench.testset.load import export_parquet, load, read_manifest, verify_testset

__all__ = ["FORMAT_VERSION", "BuildResult", "assign_ids", "build_testset", "build_testset_with_references",
           "export_parquet", "load",
           "read_manifest", "read_testset_json", "verify_testset"]
