"""The weights cache: verified local files (resolve, verify, import, status) and safe checkpoint loading.

Public names are re-exported by :mod:`bfrbench.weights`; import them from there. Downloading is in
:mod:`bfrbench.weights.fetching`.

Cache folder of an entry: ``$BFRBENCH_HOME/weights/<name>/`` holding

* ``<filename>``       the verified file,
* ``<filename>.part``  an interrupted download (resumed by the next :func:`fetch`),
* ``SHA256``           for entries without a published digest: the digest seen on first download or import
  (trust on first use); every later check compares against it,
* ``.verified.json``   stamp ``{path, size, mtime_ns, sha256}`` so a file is hashed once per version,
* ``.lock``            taken (``fcntl.flock``) while downloading or importing, so parallel workers that
  fetch the same file wait for each other instead of writing the same ``.part``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from bfrbench.errors import ChecksumError, MissingWeightsError, RegistryError, WeightsError
from bfrbench.io.atomic import atomic_write_json, atomic_write_text
from bfrbench.io.hashing import sha256_file
from bfrbench.weights.registry import (
    WeightFile,
    all_weights,
    cache_dir,
    cache_path,
    get_weight,
    local_path,
    missing_message,
)
from bfrbench.weights.registry import entry as _entry

__all__ = [
    "STAMP",
    "TOFU_FILE",
    "check_file",
    "expected_sha256",
    "import_file",
    "load_checkpoint",
    "locked",
    "record_digest",
    "recorded_sha256",
    "resolve",
    "status",
    "verify",
    "weight_hashes",
    "write_stamp",
]

log = logging.getLogger("bfrbench.weights")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
STAMP = ".verified.json"
TOFU_FILE = "SHA256"


# -- recorded digests (trust on first use) and verification stamps --------------------------------------
def recorded_sha256(name_or_entry: str | WeightFile) -> str | None:
    """The digest recorded on first download/import for an entry without a published one, else None."""
    p = cache_dir(_entry(name_or_entry)) / TOFU_FILE
    try:
        text = p.read_text(encoding="utf-8").split()
    except FileNotFoundError:
        return None
    if not text or not _HEX64.match(text[0].lower()):
        raise WeightsError(f"{p}: not a SHA-256 hex digest; delete the file to record a new one")
    return text[0].lower()


def expected_sha256(name_or_entry: str | WeightFile) -> str | None:
    """The registered SHA-256, or the recorded (trust-on-first-use) one, or None when neither exists."""
    w = _entry(name_or_entry)
    return w.sha256.lower() if w.sha256 else recorded_sha256(w)


def record_digest(w: WeightFile, sha: str, origin: str) -> None:
    """Record ``sha`` (seen from ``origin``) as the trust-on-first-use digest of an entry without a published one."""
    p = cache_dir(w) / TOFU_FILE
    atomic_write_text(p, f"{sha}  {w.filename}\n")
    log.warning("%s: no published SHA-256; recorded %s (from %s) in %s and will verify against it",
                w.name, sha, origin, p)


def write_stamp(w: WeightFile, p: Path, sha: str) -> None:
    """Remember that ``p`` (at its current size and mtime) hashes to ``sha``."""
    atomic_write_json(cache_dir(w) / STAMP, {**_stamp_key(p), "sha256": sha})


def _stamp_key(p: Path) -> dict[str, Any]:
    st = p.stat()
    return {"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _hash(w: WeightFile, p: Path, *, force: bool) -> str:
    """SHA-256 of ``p``, reusing the stamp when path, size and mtime are unchanged (unless ``force``)."""
    stamp = cache_dir(w) / STAMP
    key = _stamp_key(p)
    if not force:
        try:
            old = json.loads(stamp.read_text(encoding="utf-8"))
            if {k: old.get(k) for k in key} == key and _HEX64.match(str(old.get("sha256"))):
                return str(old["sha256"])
        except (FileNotFoundError, ValueError):
            pass
    sha = sha256_file(p)
    write_stamp(w, p, sha)
    return sha


def check_file(name_or_entry: str | WeightFile, path: str | os.PathLike[str], *, force: bool = False) -> str:
    """Check a file against an entry's size and digest; returns its SHA-256.

    With no registered or recorded digest, the file's digest is recorded (trust on first use).

    Raises:
        ChecksumError: size or SHA-256 differ from the expected ones (message names file, expected, got).
    """
    w, p = _entry(name_or_entry), Path(path)
    if w.size is not None and p.stat().st_size != w.size:
        raise ChecksumError(f"{p}: {p.stat().st_size} bytes, but {w.name!r} ({w.filename}) is {w.size} bytes; "
                            f"delete it and run `bfrbench weights fetch {w.name}`")
    got = _hash(w, p, force=force)
    exp = expected_sha256(w)
    if exp is None:
        record_digest(w, got, str(p))
    elif got != exp:
        kind = "registered" if w.sha256 else "recorded (first use)"
        raise ChecksumError(f"{p}: SHA-256 {got} does not match the {kind} {exp} for {w.name!r}; "
                            f"delete it and run `bfrbench weights fetch {w.name}`")
    return got


@contextlib.contextmanager
def locked(w: WeightFile) -> Iterator[None]:
    """Hold the entry's inter-process lock (``.lock`` in its cache folder) while placing its file."""
    d = cache_dir(w)
    d.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no inter-process lock
        yield
        return
    with open(d / ".lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# -- resolve / verify / import ------------------------------------------------------------------------------------
def resolve(name_or_entry: str | WeightFile, *, verify: bool = True) -> Path:
    """Local path of a weight file, checksum-verified against the registered (or recorded) SHA-256.

    The hash is computed once per file version: a ``.verified.json`` stamp beside the cache file remembers
    (path, size, mtime, sha256), so later calls only ``stat`` the file. Entries without a published hash
    are checked against the one recorded on first use (see :func:`bfrbench.weights.fetch`).

    Raises:
        MissingWeightsError: the file is not present (message says how to get it).
        ChecksumError: present but its SHA-256 differs from the registered one.
    """
    w = _entry(name_or_entry)
    p = local_path(w)
    if p is None:
        raise MissingWeightsError(missing_message(w))
    if verify:
        check_file(w, p)
    return p


def file_sha256(name: str, path: str | os.PathLike[str]) -> str:
    """SHA-256 of a weight file in use: when ``path`` is the local file of registry entry ``name``, its
    registered (or recorded first-use) digest, which :func:`resolve` verified, so gigabytes are not re-read;
    otherwise (a custom file, an unregistered name) the file's own hash."""
    p = Path(path)
    try:
        known = expected_sha256(name) if local_path(name) == p else None
    except RegistryError:
        known = None
    return known or sha256_file(p)


def weight_hashes(used: Iterable[str] | Mapping[str, str | os.PathLike[str]]) -> dict[str, str | None]:
    """The ``weights`` provenance record of a method or metric: name -> SHA-256 (or None).

    Args:
        used: registry names (each resolved and verified: its registered or recorded digest; None when the
            name is not registered, or its file is absent or fails verification), or a mapping name -> path
            of the files actually loaded (each digest from :func:`file_sha256`).
    """
    if isinstance(used, Mapping):
        return {name: file_sha256(name, p) for name, p in used.items()}
    out: dict[str, str | None] = {}
    for name in used:
        try:
            out[name] = file_sha256(name, resolve(name))  # verified once per file version, then only stat'ed
        except (RegistryError, WeightsError):
            out[name] = None
    return out


def verify(name: str | WeightFile) -> str:
    """Re-hash an entry's local file (ignoring stamps) and compare; returns its SHA-256.

    Raises:
        MissingWeightsError: not present.
        ChecksumError: the digest (or size) differs from the registered/recorded one.
    """
    w = _entry(name)
    p = local_path(w)
    if p is None:
        raise MissingWeightsError(missing_message(w))
    return check_file(w, p, force=True)


def import_file(name: str | WeightFile, path: str | os.PathLike[str], *, copy: bool = True,
                sha256: str | None = None, trust_on_first_use: bool = False) -> Path:
    """Place a file the user obtained by hand into the cache, after checking its size and SHA-256.

    An entry with neither a registered nor a recorded SHA-256 has nothing to check the file against, so the
    import needs ``sha256`` (a digest the user got from the publisher; the file must match it) or
    ``trust_on_first_use=True`` (the file's own digest is recorded). Either way the digest is recorded in
    ``SHA256`` and every later use is verified against it (docs/security.md).

    Args:
        name: entry name.
        path: the file (e.g. downloaded from a Google Drive link).
        copy: copy (True) or move (False) it into the cache.
        sha256: expected hex digest supplied by the user (must agree with a registered/recorded one).
        trust_on_first_use: accept and record the file's digest when nothing else is known.

    Returns:
        The cache path.

    Raises:
        WeightsError: ``path`` is not a file.
        ChecksumError: wrong size or digest (names the file, expected and got); nothing is placed.
    """
    w, src = _entry(name), Path(path)
    if not src.is_file():
        raise WeightsError(f"{src}: not a file; cannot import it as {w.name!r}")
    size = src.stat().st_size
    if w.size is not None and size != w.size:
        raise ChecksumError(f"{src}: {size} bytes, but {w.name!r} ({w.filename}) is {w.size} bytes")
    exp = expected_sha256(w)
    if sha256 is not None:
        user = sha256.strip().lower()
        if not _HEX64.match(user):
            raise WeightsError(f"`sha256` {sha256!r} is not a SHA-256 hex digest (64 hex characters)")
        if exp is not None and user != exp:
            raise ChecksumError(f"`sha256` {user} differs from the {'registered' if w.sha256 else 'recorded'} "
                                f"SHA-256 {exp} of {w.name!r}; not imported")
        exp = user
    elif exp is None and not trust_on_first_use:
        raise WeightsError(f"{w.name!r} has no registered SHA-256, so {src} cannot be checked: pass "
                           f"`sha256` HEX (the digest published with the file) or `trust_on_first_use=True` to accept "
                           f"this file and verify every later use against its digest; not imported")
    got = sha256_file(src)
    if exp is not None and got != exp:
        raise ChecksumError(f"{src}: SHA-256 {got} does not match the expected {exp} for {w.name!r} "
                            f"({w.filename}); not imported")
    dest = cache_path(w)
    with locked(w):
        tmp = dest.with_name(f".{dest.name}.import")
        try:
            if copy:
                shutil.copyfile(src, tmp)
            else:
                shutil.move(str(src), tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        if not w.sha256 and recorded_sha256(w) is None:
            record_digest(w, got, str(src) + (" (--sha256)" if sha256 is not None else " (--trust-on-first-use)"))
        write_stamp(w, dest, got)
    return dest


# -- status ---------------------------------------------------------------------------------------------
def status(names: Iterable[str] | None = None, *, check_hashes: bool = True) -> list[dict[str, Any]]:
    """One row per entry for listings (``bfrbench weights list``, ``bfrbench env``).

    Row keys: ``name``, ``filename``, ``license``, ``source``, ``state`` (``present`` | ``missing`` |
    ``bad`` | ``unchecked``), ``size`` (bytes on disk, else the registered size, else None), ``url`` (first
    URL or None), ``package``, ``sha256`` (expected digest or None), ``path`` (local file or None),
    ``problem`` (why ``bad``, else None), ``note``.

    Args:
        names: entries to list (default: all, sorted by name).
        check_hashes: hash files that have no valid stamp yet (once per file version). With False, such
            files are reported as ``unchecked``.
    """
    table = all_weights()
    rows = []
    for n in (sorted(table) if names is None else list(names)):
        w = table[n] if n in table else get_weight(n)
        p = local_path(w)
        row: dict[str, Any] = {
            "name": w.name, "filename": w.filename, "license": w.license, "source": w.source,
            "url": w.urls[0] if w.urls else None, "package": w.package, "sha256": expected_sha256(w),
            "size": w.size, "path": None, "problem": None, "note": w.note, "state": "missing",
        }
        if p is not None:
            row["path"], row["size"] = str(p), p.stat().st_size
            stamped = _stamp_valid(w, p)
            if check_hashes or stamped:
                try:
                    check_file(w, p)
                    row["state"] = "present"
                except ChecksumError as exc:
                    row["state"], row["problem"] = "bad", str(exc)
            else:
                row["state"] = "unchecked"
            row["sha256"] = expected_sha256(w)
        rows.append(row)
    return rows


def _stamp_valid(w: WeightFile, p: Path) -> bool:
    try:
        old = json.loads((cache_dir(w) / STAMP).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return False
    key = _stamp_key(p)
    return {k: old.get(k) for k in key} == key


# -- safe loading ---------------------------------------------------------------------------------------
def load_checkpoint(name_or_path: str | os.PathLike[str], *, map_location: str = "cpu",
                    allow_pickle: bool = False) -> Any:
    """Load a checkpoint without executing code: safetensors, or ``torch.load(weights_only=True)``.

    Args:
        name_or_path: a registry name (resolved and verified) or a file path.
        map_location: torch device for the tensors.
        allow_pickle: allow full pickle loading (runs code from the file): only for files you trust,
            e.g. old Lightning checkpoints that store custom classes.

    Returns:
        Whatever the file holds (usually a dict of tensors or a dict containing ``state_dict``).

    Raises:
        WeightsError: the file cannot be loaded safely (message says why and names ``allow_pickle``).
    """
    s = str(name_or_path)
    p = resolve(s) if s in all_weights() else Path(s)
    if not p.is_file():
        raise MissingWeightsError(f"{p}: checkpoint file not found")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(p), device=map_location)
    import torch

    try:
        return torch.load(p, map_location=map_location, weights_only=not allow_pickle)
    except Exception as exc:
        if allow_pickle:
            raise WeightsError(f"{p}: cannot load checkpoint: {exc}") from exc
        raise WeightsError(f"{p}: cannot be loaded with weights_only=True ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''}); if you trust the file, pass "
                           f"allow_pickle=True") from exc
