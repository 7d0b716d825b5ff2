"""The weights package: one registry of every weight file bfrbench can use, its verified cache and fetching.

Modules, each importing only the ones above it (no import cycle):

* :mod:`bfrbench.weights.registry`: :class:`WeightFile` entries (gathered from the catalogue modules), cache
  locations, lookup and selection;
* :mod:`bfrbench.weights.cache`: verified local files (SHA-256 stamps, trust on first use), import, status,
  provenance digests (:func:`weight_hashes`) and safe checkpoint loading;
* :mod:`bfrbench.weights.download`: resumable, checksum-verified HTTP downloads (standard library);
* :mod:`bfrbench.weights.hf`: files of Hugging Face repositories at pinned revisions;
* :mod:`bfrbench.weights.fetching`: :func:`fetch` one entry, :func:`fetch_many` / :func:`verify_many` several.

Every public name is importable from here (``from bfrbench.weights import resolve``); docs/weights.md
describes the cache layout and the download protocol.
"""

from __future__ import annotations

from bfrbench.weights.cache import (
    check_file,
    expected_sha256,
    file_sha256,
    import_file,
    load_checkpoint,
    recorded_sha256,
    resolve,
    status,
    verify,
    weight_hashes,
)
from bfrbench.weights.fetching import Outcome, fetch, fetch_many, fetchable, verify_many
from bfrbench.weights.hf import hf_files, import_snapshot
from bfrbench.weights.registry import (
    CATALOGUE_MODULES,
    WeightFile,
    all_weights,
    bfrbench_home,
    cache_dir,
    cache_path,
    get_weight,
    is_present,
    local_path,
    missing_message,
    register_weight,
    select,
)

__all__ = [
    "CATALOGUE_MODULES",
    "Outcome",
    "WeightFile",
    "all_weights",
    "bfrbench_home",
    "cache_dir",
    "cache_path",
    "check_file",
    "expected_sha256",
    "fetch",
    "fetch_many",
    "fetchable",
    "file_sha256",
    "get_weight",
    "hf_files",
    "import_file",
    "import_snapshot",
    "is_present",
    "load_checkpoint",
    "local_path",
    "missing_message",
    "recorded_sha256",
    "register_weight",
    "resolve",
    "select",
    "status",
    "verify",
    "verify_many",
    "weight_hashes",
]
