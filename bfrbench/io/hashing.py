"""SHA-256 helpers (files streamed in 1 MiB chunks; JSON hashed in canonical form)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from bfrbench.io.atomic import canonical_json


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    """Hash of the canonical JSON form of ``obj`` (sorted keys), stable across runs and machines."""
    return sha256_bytes(canonical_json(obj).encode("utf-8"))
