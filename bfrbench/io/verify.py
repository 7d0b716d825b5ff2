"""Checking the files a stage reads against the SHA-256 its artifact recorded, fast on re-runs.

* :class:`HashCache`: file digests keyed by (resolved path, size, mtime_ns, inode, ctime_ns), stored as one
  small JSON file per input folder under ``$BFRBENCH_HOME/cache/file-hashes/`` (never inside the input
  artifact, which stays read-only). A file whose stat is unchanged is not hashed again; any change
  (rewrite, ``touch``, replace by rename) re-hashes it. Writes are atomic; two processes updating the same
  cache at once only lose entries, never corrupt it.
* :func:`check_recorded`: compare one file with its recorded digest; returns None or a message naming the file.
* :func:`check_manifest`: the test set's ``manifest.parquet`` against ``testset.json`` ``manifest_sha256``.

Used by ``restore`` (LQ files), ``evaluate`` (HQ files and restored files against ``run.json``) and
documented in docs/security.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["HashCache", "check_manifest", "check_recorded"]


class HashCache:
    """SHA-256 of files under one folder, cached by stat (see module docstring)."""

    def __init__(self, folder: str | os.PathLike[str], *, enabled: bool = True) -> None:
        from bfrbench.io.hashing import sha256_bytes
        from bfrbench.weights import bfrbench_home

        self.folder = Path(folder).resolve()
        self.enabled = enabled
        key = sha256_bytes(str(self.folder).encode("utf-8", "surrogateescape"))[:24]
        self.file = bfrbench_home() / "cache" / "file-hashes" / f"{key}.json"
        self._data: dict[str, Any] = {}
        self._dirty = False
        self.hashed = 0
        if enabled:
            try:
                data = json.loads(self.file.read_text(encoding="utf-8"))
                if isinstance(data, dict) and data.get("folder") == str(self.folder):
                    self._data = dict(data.get("files") or {})
            except (OSError, ValueError):
                pass

    @staticmethod
    def _stat_key(p: Path) -> list[int]:
        st = p.stat()
        return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]

    def sha256(self, path: str | os.PathLike[str]) -> str:
        """Digest of ``path`` (raises OSError when it cannot be read)."""
        from bfrbench.io.hashing import sha256_file

        p = Path(path).resolve()
        key = self._stat_key(p)
        name = str(p)
        rec = self._data.get(name)
        if self.enabled and isinstance(rec, dict) and rec.get("stat") == key:
            return str(rec["sha256"])
        sha = sha256_file(p)
        self.hashed += 1
        if self.enabled and self._stat_key(p) == key:  # unchanged while hashing
            self._data[name] = {"stat": key, "sha256": sha}
            self._dirty = True
        return sha

    def save(self) -> None:
        """Write the cache atomically (no-op when nothing changed or caching is off)."""
        if not (self.enabled and self._dirty):
            return
        from bfrbench.io.atomic import atomic_write_json

        try:
            atomic_write_json(self.file, {"folder": str(self.folder), "files": self._data})
        except OSError:  # a read-only home only costs speed
            return
        self._dirty = False


def check_recorded(cache: HashCache, path: Path, expected: object, *, what: str, source: str) -> str | None:
    """None when ``path`` hashes to ``expected``; else a message naming the file (missing/unreadable/changed).

    ``expected`` None or empty means nothing was recorded: not checked (returns None).
    """
    if not expected:
        return None
    try:
        got = cache.sha256(path)
    except FileNotFoundError:
        return f"{path}: {what} file missing"
    except OSError as exc:
        return f"{path}: {what} file unreadable: {exc.strerror or exc}"
    if got != str(expected).lower():
        return (f"{path}: {what} file changed: SHA-256 {got[:16]}... differs from {expected!s:.16}... recorded in "
                f"{source}")
    return None


def check_manifest(testset: Path) -> str | None:
    """None when ``manifest.parquet`` hashes to testset.json ``manifest_sha256`` (or no testset.json exists)."""
    from bfrbench.io.hashing import sha256_file

    meta_f = testset / "testset.json"
    if not meta_f.is_file():
        return None
    try:
        meta = json.loads(meta_f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{meta_f}: unreadable: {exc}"
    rec = meta.get("manifest_sha256") if isinstance(meta, dict) else None
    if not rec:
        return None
    got = sha256_file(testset / "manifest.parquet")
    if got != rec:
        return (f"{testset / 'manifest.parquet'}: SHA-256 {got[:16]}... differs from manifest_sha256 {str(rec)[:16]}... "
                f"recorded in {meta_f} (the manifest was edited after the test set was built)")
    return None
