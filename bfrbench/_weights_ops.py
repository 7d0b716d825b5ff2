"""Operations on the weights registry: fetch (download), verify, import, status, safe checkpoint loading.

Public names are re-exported by :mod:`bfrbench.weights`; import them from there.

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
import fnmatch
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bfrbench.errors import (
    ChecksumError,
    DownloadError,
    MissingWeightsError,
    RegistryError,
    WeightsError,
)
from bfrbench.io.atomic import atomic_write_json, atomic_write_text
from bfrbench.io.hashing import sha256_file
from bfrbench.weights import (
    WeightFile,
    _package_path,
    all_weights,
    bfrbench_home,
    cache_path,
    get_weight,
    local_path,
    missing_message,
)

__all__ = [
    "check_file",
    "expected_sha256",
    "fetch",
    "import_file",
    "load_checkpoint",
    "recorded_sha256",
    "select",
    "status",
    "verify",
]

log = logging.getLogger("bfrbench.weights")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
STAMP = ".verified.json"
TOFU_FILE = "SHA256"


def _entry(name_or_entry: str | WeightFile) -> WeightFile:
    return get_weight(name_or_entry) if isinstance(name_or_entry, str) else name_or_entry


def cache_dir(w: WeightFile) -> Path:
    """``$BFRBENCH_HOME/weights/<name>``."""
    return bfrbench_home() / "weights" / w.name


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


def _record(w: WeightFile, sha: str, origin: str) -> None:
    p = cache_dir(w) / TOFU_FILE
    atomic_write_text(p, f"{sha}  {w.filename}\n")
    log.warning("%s: no published SHA-256; recorded %s (from %s) in %s and will verify against it",
                w.name, sha, origin, p)


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
    atomic_write_json(stamp, {**key, "sha256": sha})
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
        _record(w, got, str(p))
    elif got != exp:
        kind = "registered" if w.sha256 else "recorded (first use)"
        raise ChecksumError(f"{p}: SHA-256 {got} does not match the {kind} {exp} for {w.name!r}; "
                            f"delete it and run `bfrbench weights fetch {w.name}`")
    return got


@contextlib.contextmanager
def _locked(w: WeightFile) -> Iterator[None]:
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


# -- selection ------------------------------------------------------------------------------------------
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


# -- fetch ----------------------------------------------------------------------------------------------
def _manual_hint(w: WeightFile) -> str:
    where = " or ".join(w.urls) if w.urls else "the page in its note"
    return (f"If you are offline or the host is blocked, download {w.filename!r} by hand from {where} and run "
            f"`bfrbench weights import {w.name} /path/to/{w.filename}`"
            + ("" if w.sha256 else " with --sha256 HEX (or --trust-on-first-use)") + ".")


def fetch(name: str | WeightFile, *, force: bool = False, timeout: float = 60.0, retries: int = 3,
          backoff: float = 1.0, progress: bool | None = None) -> Path:
    """Make an entry's file present and verified; download it when needed. Returns the local path.

    Package-shipped entries resolve to the file inside the installed distribution (the error says which
    ``pip install`` is needed). Entries without a published SHA-256 record the digest of the first
    download in ``SHA256`` and are verified against it afterwards.

    Args:
        name: entry name (or the entry).
        force: download again even when a verified file is present (the old file is replaced only after
            the new one is verified).
        timeout: socket timeout per connect/read in seconds.
        retries: retries per URL after a dropped connection or a 5xx answer (each resumes with Range).
        backoff: first wait between retries in seconds (doubles each time).
        progress: tqdm bar on/off; None = automatic (large files, unless BFRBENCH_PROGRESS=0).

    Raises:
        MissingWeightsError: a package-shipped file whose package is not installed, or no URL registered.
        DownloadError: offline (``BFRBENCH_OFFLINE=1``) or every URL failed; says how to import by hand.
        ChecksumError: the downloaded (or present) file has the wrong digest.
    """
    w = _entry(name)
    pkg = _package_path(w)
    if pkg is not None:
        check_file(w, pkg)
        return pkg
    dest = cache_path(w)
    if not w.urls:
        raise MissingWeightsError(missing_message(w))
    with _locked(w):
        if dest.is_file() and not force:
            try:
                check_file(w, dest)
                return dest
            except ChecksumError as exc:
                log.warning("%s; downloading it again", exc)
                dest.unlink()
        if force:
            dest.with_name(dest.name + ".part").unlink(missing_ok=True)
        if w.extra.get("hf_repo"):  # a file of a Hugging Face repository: huggingface_hub at the pinned revision
            from bfrbench._weights_hf import fetch_hf

            return fetch_hf(w, dest, cache_dir(w))
        _download_entry(w, dest, timeout=timeout, retries=retries, backoff=backoff, progress=progress)
    return dest


def _download_entry(w: WeightFile, dest: Path, *, timeout: float, retries: int, backoff: float,
                    progress: bool | None) -> str:
    """Try each URL of ``w`` (plain file or archive to unpack); verify; place ``dest``. Returns SHA-256."""
    from bfrbench._download import archive_kind, download, extract

    exp = expected_sha256(w)
    problems: list[str] = []
    bad: list[str] = []
    label = f"{w.name} ({w.filename})"
    for url in w.urls:
        try:
            kind = archive_kind(url, w.filename, w.extra.get("archive"))
            if kind is None:
                res = download([url], dest, sha256=exp, size=w.size, timeout=timeout, retries=retries,
                               backoff=backoff, progress=progress, label=label)
                sha = res.sha256
            else:
                arch = cache_dir(w) / (url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or f"download.{kind}")
                download([url], arch, sha256=w.extra.get("archive_sha256"), timeout=timeout, retries=retries,
                         backoff=backoff, progress=progress, label=f"{w.name} ({arch.name})")
                try:
                    sha, n = extract(arch, kind, dest, member=w.extra.get("member"))
                finally:
                    arch.unlink(missing_ok=True)
                part = dest.with_name(dest.name + ".part")
                if (exp is not None and sha != exp) or (w.size is not None and n != w.size):
                    part.unlink(missing_ok=True)
                    raise ChecksumError(f"{label}: file unpacked from {url} has SHA-256 {sha} ({n} bytes), "
                                        f"expected {exp or '(any)'}" + (f" ({w.size} bytes)" if w.size else ""))
                os.replace(part, dest)
        except ChecksumError as exc:
            bad.append(str(exc))
            problems.append(str(exc))
            continue
        except DownloadError as exc:
            if "BFRBENCH_OFFLINE" in str(exc):
                raise DownloadError(f"{exc}. {_manual_hint(w)}") from exc
            problems.append(str(exc))
            continue
        if exp is None:
            _record(w, sha, url)
        atomic_write_json(cache_dir(w) / STAMP, {**_stamp_key(dest), "sha256": sha})
        return sha
    if bad:
        raise ChecksumError(f"{bad[0]}. If the upstream file changed, report it; you can also import a file you "
                            f"trust with `bfrbench weights import {w.name} PATH`" +
                            (f" (all attempts: {'; '.join(problems)})" if len(problems) > 1 else ""))
    raise DownloadError(f"{'; '.join(problems)}. {_manual_hint(w)}")


    return dest


# -- verify / import ------------------------------------------------------------------------------------
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
            raise WeightsError(f"--sha256 {sha256!r} is not a SHA-256 hex digest (64 hex characters)")
        if exp is not None and user != exp:
            raise ChecksumError(f"--sha256 {user} differs from the {'registered' if w.sha256 else 'recorded'} "
                                f"SHA-256 {exp} of {w.name!r}; not imported")
        exp = user
    elif exp is None and not trust_on_first_use:
        raise WeightsError(f"{w.name!r} has no registered SHA-256, so {src} cannot be checked: pass "
                           f"--sha256 HEX (the digest published with the file) or --trust-on-first-use to accept "
                           f"this file and verify every later use against its digest; not imported")
    got = sha256_file(src)
    if exp is not None and got != exp:
        raise ChecksumError(f"{src}: SHA-256 {got} does not match the expected {exp} for {w.name!r} "
                            f"({w.filename}); not imported")
    dest = cache_path(w)
    with _locked(w):
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
            _record(w, got, str(src) + (" (--sha256)" if sha256 is not None else " (--trust-on-first-use)"))
        atomic_write_json(cache_dir(w) / STAMP, {**_stamp_key(dest), "sha256": got})
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
    from bfrbench.weights import resolve

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
