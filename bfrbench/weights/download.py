"""Resumable, checksum-verified HTTP downloads over the standard library (urllib).

Used by :func:`bfrbench.weights.fetch` (module :mod:`bfrbench.weights.fetching`); no third-party HTTP client is needed. Protocol:

1. URLs are tried in order. Data streams into ``<dest>.part`` beside the destination (same folder, so the
   final rename is atomic).
2. When a ``.part`` file is already there (an earlier run was interrupted), the request carries
   ``Range: bytes=<size>-`` (RFC 9110, section 14.2). A ``206 Partial Content`` answer whose
   ``Content-Range`` starts at that offset is appended; a plain ``200`` means the server ignored the range,
   so the file restarts from byte 0; ``416`` with a complete ``.part`` means nothing is left to fetch.
3. Connection drops, timeouts, short bodies, HTTP 408/429/5xx are retried (bounded, with exponential
   back-off), each retry resuming where the last one stopped. Other HTTP errors (404, 403, ...) move on to
   the next URL at once.
4. The SHA-256 is computed while streaming (a resumed file's existing prefix is hashed first), and compared
   with the expected digest and size before ``os.replace`` puts the file in place. A wrong digest deletes
   the ``.part`` file.

``BFRBENCH_OFFLINE=1`` makes every download fail immediately with a :class:`~bfrbench.errors.DownloadError`.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bfrbench.errors import ChecksumError, DownloadError

__all__ = ["CHUNK", "PROGRESS_MIN_BYTES", "DownloadResult", "archive_kind", "download", "extract", "offline"]

CHUNK = 1 << 20  # bytes per read
PROGRESS_MIN_BYTES = 8 << 20  # show a progress bar for files at least this large
USER_AGENT = "bfrbench-weights/1 (+urllib)"
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)


@dataclass(frozen=True)
class DownloadResult:
    """What :func:`download` did.

    Attributes:
        path: the final file.
        sha256: SHA-256 hex digest of the file.
        size: size in bytes.
        url: the URL that served it.
        requests: HTTP requests made (including retries).
        resumed: True when at least one request continued a partial file with a Range header.
    """

    path: Path
    sha256: str
    size: int
    url: str
    requests: int
    resumed: bool


def offline() -> bool:
    """True when ``BFRBENCH_OFFLINE`` is set to a true value (1, true, yes, on)."""
    return os.environ.get("BFRBENCH_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


class _Retryable(Exception):
    """A failure worth retrying on the same URL (resuming the .part file)."""


class _NextUrl(Exception):
    """A failure that retrying this URL will not fix."""


def _hash_prefix(part: Path) -> tuple[Any, int]:
    h = hashlib.sha256()
    n = 0
    with open(part, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
            n += len(chunk)
    return h, n


def _progress_bar(total: int | None, initial: int, label: str, enabled: bool | None) -> Any:
    if enabled is None:
        enabled = os.environ.get("BFRBENCH_PROGRESS", "1") != "0" and (total or 0) >= PROGRESS_MIN_BYTES
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is in requirements
        return None
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                leave=False)


def _attempt(url: str, part: Path, *, size: int | None, timeout: float, label: str,
             progress: bool | None, state: dict[str, Any]) -> None:
    """One HTTP request: continue or restart ``part``. Raises _Retryable / _NextUrl on failure."""
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:  # longer than the file can be: start again
        part.unlink()
        offset = 0
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    state["requests"] += 1
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset and (size is None or offset == size):
            state["complete_without_body"] = True  # nothing left to send: the .part file is whole
            return
        if exc.code == 416:
            part.unlink(missing_ok=True)
            raise _Retryable(f"HTTP 416 for a range starting at byte {offset}") from exc
        if exc.code in _RETRY_STATUS:
            raise _Retryable(f"HTTP {exc.code} {exc.reason}") from exc
        raise _NextUrl(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (ConnectionRefusedError, socket.gaierror)):
            raise _NextUrl(f"cannot connect ({reason})") from exc
        raise _Retryable(f"cannot connect ({reason})") from exc
    except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
        raise _Retryable(f"{type(exc).__name__}: {exc}") from exc

    with resp:
        status = getattr(resp, "status", None) or 200
        total: int | None = None
        length = resp.headers.get("Content-Length")
        if status == 206:
            m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != offset:
                part.unlink(missing_ok=True)
                raise _Retryable(f"server answered a range request with Content-Range "
                                 f"{resp.headers.get('Content-Range')!r}; restarting")
            total = int(m.group(3)) if m.group(3) != "*" else None
            mode = "ab"
            state["resumed"] = True
            hasher, written = _hash_prefix(part)
        else:  # 200: full body (the server ignored or was not sent a Range header)
            total = int(length) if length and length.isdigit() else None
            mode = "wb"
            hasher, written = hashlib.sha256(), 0
        if size is not None and total is not None and total != size:
            part.unlink(missing_ok=True)
            raise _NextUrl(f"server reports {total} bytes, the registry expects {size}")
        expected_total = total if total is not None else size
        bar = _progress_bar(expected_total, written, label, progress)
        try:
            with open(part, mode) as fh:
                while True:
                    try:
                        chunk = resp.read(CHUNK)
                    except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
                        fh.flush()
                        raise _Retryable(f"connection lost after {written} bytes ({type(exc).__name__})") from exc
                    if not chunk:
                        break
                    fh.write(chunk)
                    hasher.update(chunk)
                    written += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            if bar is not None:
                bar.close()
        if expected_total is not None and written < expected_total:
            raise _Retryable(f"connection closed after {written} of {expected_total} bytes")
        state["hasher"], state["written"] = hasher, written


def download(urls: Sequence[str], dest: str | os.PathLike[str], *, sha256: str | None = None,
             size: int | None = None, timeout: float = 60.0, retries: int = 3, backoff: float = 1.0,
             progress: bool | None = None, label: str | None = None,
             sleep: Callable[[float], None] = time.sleep) -> DownloadResult:
    """Download the first working URL of ``urls`` to ``dest`` with resume and SHA-256 verification.

    Args:
        urls: candidate URLs (http, https or file), tried in order.
        dest: final path; its folder is created. ``<dest>.part`` holds the partial download.
        sha256: expected lower-case hex digest, or None to accept any content (the digest is returned).
        size: expected size in bytes, or None.
        timeout: socket timeout in seconds for connecting and for each read.
        retries: extra attempts per URL after a retryable failure (so ``retries + 1`` requests at most).
        backoff: seconds before the first retry, doubled for each later one (capped at 30 s).
        progress: force the tqdm bar on/off; None shows it for files >= 8 MiB unless BFRBENCH_PROGRESS=0.
        label: text for the progress bar and messages (defaults to the file name).
        sleep: the function used to wait between retries (tests pass a no-op).

    Returns:
        DownloadResult with the final path, digest, size, serving URL and request count.

    Raises:
        DownloadError: offline mode, no URLs, or every URL failed (message lists each URL and why).
        ChecksumError: a URL served a complete file whose SHA-256 or size is wrong (the .part is deleted).
    """
    dest = Path(dest)
    label = label or dest.name
    if not urls:
        raise DownloadError(f"{label}: no download URL is registered")
    if offline():
        raise DownloadError(f"{label}: BFRBENCH_OFFLINE is set, not downloading {urls[0]}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    problems: list[str] = []
    bad_hash: list[str] = []
    state: dict[str, Any] = {"requests": 0, "resumed": False}
    for url in urls:
        if not url.lower().startswith(("http://", "https://", "file://")):
            problems.append(f"{url}: unsupported URL scheme")
            continue
        state.pop("hasher", None)
        state.pop("complete_without_body", None)
        for attempt in range(retries + 1):
            try:
                _attempt(url, part, size=size, timeout=timeout, label=label, progress=progress, state=state)
                break
            except _NextUrl as exc:
                problems.append(f"{url}: {exc}")
                break
            except _Retryable as exc:
                if attempt == retries:
                    problems.append(f"{url}: {exc} (gave up after {retries + 1} attempts)")
                    break
                sleep(min(30.0, backoff * (2 ** attempt)))
        else:  # pragma: no cover - the loop always breaks
            pass
        if state.get("complete_without_body"):
            state["hasher"], state["written"] = _hash_prefix(part)
        if "hasher" not in state:
            continue
        got, written = state["hasher"].hexdigest(), state["written"]
        if (sha256 is not None and got != sha256.lower()) or (size is not None and written != size):
            part.unlink(missing_ok=True)
            msg = (f"{label}: file from {url} has SHA-256 {got} ({written} bytes), expected "
                   f"{sha256 or '(any)'}" + (f" ({size} bytes)" if size is not None else ""))
            bad_hash.append(msg)
            problems.append(msg)
            continue
        os.replace(part, dest)
        return DownloadResult(path=dest, sha256=got, size=written, url=url, requests=state["requests"],
                              resumed=bool(state["resumed"]))
    detail = "; ".join(problems)
    if bad_hash:
        raise ChecksumError(f"{bad_hash[0]}; the partial file was deleted" +
                            (f" (other attempts: {detail})" if len(problems) > 1 else ""))
    raise DownloadError(f"{label}: download failed: {detail}")


ARCHIVE_KINDS = ("zip", "bz2", "gz", "xz")


def archive_kind(url: str, filename: str, declared: str | None = None) -> str | None:
    """How the file behind ``url`` is packed: ``declared`` if given, else from the URL's suffix.

    A URL ending in ``.zip``/``.bz2``/``.gz``/``.xz`` is an archive unless ``filename`` itself has that
    suffix (then the archive *is* the wanted file). Returns None for a plain file.
    """
    if declared:
        if declared not in ARCHIVE_KINDS:
            raise DownloadError(f"{filename}: unknown archive kind {declared!r}; use one of {', '.join(ARCHIVE_KINDS)}")
        return declared
    path = url.split("?", 1)[0].lower()
    for kind in ARCHIVE_KINDS:
        if path.endswith("." + kind) and not filename.lower().endswith("." + kind):
            return kind
    return None


def extract(archive: Path, kind: str, dest: Path, *, member: str | None = None) -> tuple[str, int]:
    """Unpack one file from ``archive`` into ``dest.part`` (streamed, hashed); returns (sha256, size).

    Args:
        archive: the downloaded archive.
        kind: ``zip`` (one member), or ``bz2``/``gz``/``xz`` (a single compressed file).
        dest: the final file; this function only writes ``<dest>.part`` (the caller verifies and renames).
        member: zip member path; default: the one member whose base name is ``dest.name``.

    Raises:
        DownloadError: corrupt archive, or the member is absent or ambiguous (lists the members).
    """
    part = dest.with_name(dest.name + ".part")
    h, n = hashlib.sha256(), 0
    try:
        if kind == "zip":
            import zipfile

            with zipfile.ZipFile(archive) as zf:
                names = [i.filename for i in zf.infolist() if not i.is_dir()]
                hits = [member] if member in names else [m for m in names if m.rsplit("/", 1)[-1] == (member or dest.name)]
                if len(hits) != 1:
                    raise DownloadError(f"{archive.name}: {'several members' if hits else 'no member'} named "
                                        f"{member or dest.name!r} (members: {', '.join(names[:20])})")
                src_ctx: Any = zf.open(hits[0])
                with src_ctx as src, open(part, "wb") as out:
                    for chunk in iter(lambda: src.read(CHUNK), b""):
                        out.write(chunk)
                        h.update(chunk)
                        n += len(chunk)
        else:
            import bz2
            import gzip
            import lzma

            opener: Any = {"bz2": bz2.open, "gz": gzip.open, "xz": lzma.open}[kind]
            with opener(archive, "rb") as src, open(part, "wb") as out:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    out.write(chunk)
                    h.update(chunk)
                    n += len(chunk)
    except DownloadError:
        part.unlink(missing_ok=True)
        raise
    except (OSError, EOFError, ValueError) as exc:  # zipfile.BadZipFile is an Exception subclass below
        part.unlink(missing_ok=True)
        raise DownloadError(f"{archive.name}: cannot unpack {kind} archive: {exc}") from exc
    except Exception as exc:
        part.unlink(missing_ok=True)
        raise DownloadError(f"{archive.name}: cannot unpack {kind} archive: {type(exc).__name__}: {exc}") from exc
    return h.hexdigest(), n
